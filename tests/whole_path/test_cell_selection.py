"""Which ROIs decode: suite2p's cells that are soma-sized (no fragments, no background blobs)."""

import numpy as np

from napari_cebra.whole_path.stack_decoding import SOMA_SIZE, soma_sized


def test_fragments_and_blobs_are_left_out_somata_kept():
    rng = np.random.default_rng(0)
    somata = rng.normal(240, 35, 50).round()
    npix = np.concatenate([somata, [40, 90, 700, 3500], [250, 260]])
    cells = np.arange(54)  # the last two ROIs are not cells: never selected here
    keep = soma_sized(npix, cells)
    assert keep[:50].all() and not keep[50:54].any()
    median = np.median(npix[cells])
    assert (npix[cells][keep] >= SOMA_SIZE[0] * median).all()
    assert soma_sized(npix, np.zeros(0, int)).shape == (0,)

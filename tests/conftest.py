"""Fixtures shared by several test folders."""

import numpy as np
import pytest

from napari_cebra.runtime import hide_triton
from napari_cebra.synthetic.calcium_movie import simulate_calcium_movie

# The test process is a napari process (viewers under Xvfb load Mesa's LLVM): hide triton as
# napari-cebra's widgets do, whatever order the tests run in (see napari_cebra.runtime).
hide_triton()


@pytest.fixture(scope="session")
def suite2p_own_folder(tmp_path_factory):
    """A folder written by suite2p itself (run_s2p on a TIFF), not through our code."""
    import suite2p
    import tifffile

    sim = simulate_calcium_movie(n_frames=400, shape=(64, 64), n_neurons=8, seed=4, motion=False)
    root = tmp_path_factory.mktemp("s2p_own")
    data = root / "data"
    data.mkdir()
    tifffile.imwrite(data / "movie.tif", sim.movie.astype(np.int16))
    db = suite2p.default_db()
    db.update(data_path=[str(data)], save_path0=str(root / "out"))
    settings = suite2p.default_settings()
    settings.update(fs=sim.fs, tau=sim.tau, diameter=[sim.diameter, sim.diameter],
                    torch_device="cpu")
    settings["run"]["do_registration"] = 0
    suite2p.run_s2p(db=db, settings=settings)
    return root / "out"

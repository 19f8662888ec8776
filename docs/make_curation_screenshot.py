"""Screenshot of the curation view (docs/curate.md).

    xvfb-run -a python docs/make_curation_screenshot.py [--out docs/images/curation_view.png]

Writes a suite2p plane from a simulated recording (3 of 30 neurons "missed" by detection),
opens it in the Curate ROIs widget, colours ROIs by SNR, selects two, paints a missed neuron
in the draw layer and saves the window.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path,
                   default=Path(__file__).resolve().parent / "images" / "curation_view.png")
    args = p.parse_args()
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_cebra.gui.curation_widget import CurationWidget
    from napari_cebra.synthetic.calcium_movie import simulate_calcium_movie
    from napari_cebra.synthetic.suite2p_plane import true_masks, write_suite2p_plane

    truth = simulate_calcium_movie(n_frames=1500, shape=(128, 128), n_neurons=30, seed=3,
                                   motion=False)
    masks = true_masks(truth)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        plane = write_suite2p_plane(Path(tmp) / "plane0", truth, masks[:27],
                                    rng.uniform(0.2, 1.0, 27))
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1600, 1000)
        widget = CurationWidget(viewer)
        viewer.window.add_dock_widget(widget, name="Curate ROIs", area="right")
        widget.open_folder(plane)
        widget.colour_box.setCurrentText("snr")
        widget.select([4, 9])
        widget.layers["draw"].data = masks[28].astype(np.int32)
        viewer.dims.set_current_step(0, 700)
        for _ in range(20):
            QApplication.processEvents()
        viewer.window._qt_window.grab().save(str(args.out))
        viewer.close()
    print(args.out)


if __name__ == "__main__":
    main()

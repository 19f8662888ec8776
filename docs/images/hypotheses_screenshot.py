"""Screenshot of the Test hypotheses widget for docs/hypotheses.md (run under Xvfb):

    xvfb-run -a python docs/images/hypotheses_screenshot.py docs/images/hypotheses_widget.png

A shortened hippocampus sample (3,000 frames × 60 cells) and a short budget, so it runs in a
few minutes on a laptop CPU; the table in the docs comes from the full sample.
"""

from __future__ import annotations

import sys

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from napari_cebra.analysis.hypotheses import hypothesis_steps
from napari_cebra.gui.hypotheses_widget import LAYER_PREFIX, HypothesesWidget
from napari_cebra.gui.layers import traces_layer
from napari_cebra.progress import drain
from napari_cebra.synthetic.hippocampus import hippocampus_session


def main(path: str) -> None:
    s = hippocampus_session(n_neurons=60, n_samples=3000, seed=0)
    labels = {"position": s.position.astype(np.float32), "direction": s.direction}
    kinds = {"position": "continuous", "direction": "discrete"}
    viewer = napari.Viewer(show=True)
    data, kwargs, _ = traces_layer(s.neural, name="hippocampus (neurons)", labels=labels,
                                   label_kinds=kinds, fs=s.fs)
    layer = viewer.add_image(data, **kwargs)
    widget = HypothesesWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Test hypotheses", area="right")
    values = dict(sets="position; direction", max_iterations=400, batch_size=256,
                  num_hidden_units=32, shuffles=1, seeds=2, device="cpu")
    widget.set_settings(**values)
    result = drain(hypothesis_steps(s.neural, labels, kinds, widget.settings(),
                                    source=layer.name))
    widget.show_result(result, layer)
    layer.visible = False
    for ly in viewer.layers:
        if ly.name.startswith(LAYER_PREFIX):
            ly.visible = ly.name == f"{LAYER_PREFIX}position · by position"
    viewer.dims.ndisplay = 3
    viewer.window._qt_window.resize(1700, 1050)
    for _ in range(20):
        QApplication.processEvents()
    viewer.layers.selection.active = viewer.layers[f"{LAYER_PREFIX}position · by position"]
    viewer.reset_view()
    for _ in range(20):
        QApplication.processEvents()
    viewer.screenshot(path, canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/images/hypotheses_widget.png")

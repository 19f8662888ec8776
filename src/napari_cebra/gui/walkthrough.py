"""The four steps of one recording pressed through the docked widgets (demo, screenshots).

Extract traces → Attach labels → Train CEBRA → Decode movie frames: each press waits for its
job; what it makes is the next widget's input (see :mod:`napari_cebra.gui.session_flow`), so
no layer is picked by hand.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from typing import Any

#: step key → (the plugin's widget name, its button's attribute)
STEPS: dict[str, tuple[str, str]] = {
    "extract": ("Extract traces (suite2p)", "run_button"),
    "labels": ("Attach labels", "attach_button"),
    "train": ("Train CEBRA", "train_button"),
    "decode": ("Decode movie frames", "run_button"),
}


def dock_steps(viewer: Any) -> dict[str, Any]:
    """Dock the four step widgets (tabbed on the right); returns step key → widget."""
    widgets, first = {}, None
    for key, (name, _) in STEPS.items():
        dock, widget = viewer.window.add_plugin_dock_widget("napari-cebra", name,
                                                            tabify=first is not None)
        widget.dock = dock
        first = first or dock
        widgets[key] = widget
    show_step(widgets, "extract")
    return widgets


def show_step(widgets: dict[str, Any], key: str) -> None:
    """Bring the step's tab to the front."""
    dock = getattr(widgets[key], "dock", None)
    if dock is not None:
        dock.show()
        dock.raise_()


def pump(seconds: float = 0.0) -> None:
    """Process Qt events for ``seconds`` (at least once)."""
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    end = time.monotonic() + seconds
    while True:
        app.processEvents()
        if time.monotonic() >= end:
            return
        time.sleep(0.01)


def press(widgets: dict[str, Any], key: str, timeout_s: float = 900.0) -> None:
    """Press step ``key``'s button and wait for its job; ``RuntimeError`` with the widget's
    status when it made nothing."""
    widget = widgets[key]
    show_step(widgets, key)
    before = _made(widget, key)
    getattr(widget, STEPS[key][1]).click()
    deadline = time.monotonic() + timeout_s
    while getattr(widget, "running", False) and time.monotonic() < deadline:
        pump(0.02)
    pump()
    if getattr(widget, "running", False):
        widget.cancel()
        raise RuntimeError(f"{STEPS[key][0]}: still running after {timeout_s:.0f} s")
    after = _made(widget, key)
    if after is None or (after == before if key == "labels" else after is before):
        raise RuntimeError(f"{STEPS[key][0]}: {widget.status.text()}")


def _made(widget: Any, key: str) -> Any:
    from napari_cebra.contracts import traces_of
    from napari_cebra.gui import session_flow

    if key == "extract":
        return session_flow.latest(widget.viewer, "traces")
    if key == "labels":
        layer = session_flow.latest(widget.viewer, "traces")
        record = traces_of(layer.metadata) if layer is not None else None
        return tuple(record.get("labels") or ()) or None if record is not None else None
    return widget.result if key == "train" else widget.report


def run_steps(widgets: dict[str, Any], after: Callable[[str], Any] | None = None,
              timeout_s: float = 900.0) -> None:
    """Press the four buttons in order; ``after(key)`` runs once each step is done."""
    for key in STEPS:
        press(widgets, key, timeout_s)
        if after is not None:
            after(key)


def save_screenshot(viewer: Any, path, *, overwrite: bool = False) -> None:
    """The whole window (canvas, docks) as a PNG, written whole or not at all."""
    import io

    import imageio.v3 as iio

    from napari_cebra.files import atomic_write

    pump(0.3)  # let docks lay out and canvases draw
    buffer = io.BytesIO()
    iio.imwrite(buffer, viewer.screenshot(canvas_only=False), extension=".png")
    with atomic_write(path, "wb", overwrite=overwrite, what="screenshot") as fh:
        fh.write(buffer.getvalue())


def arrange_result(viewer: Any, widgets: dict[str, Any]) -> list[Any]:
    """The result screen, made for comparing frames: the true and the decoded frames of the
    held-out repeat and their difference, large and side by side (grid, one row, same size and
    contrast, named on the canvas), every other layer hidden (one click on its eye brings it
    back), the embedding view docked and a short text naming what is shown. Returns the
    three layers, left to right."""
    import numpy as np

    from napari_cebra.whole_path.demo_protocol import accuracies, verdict

    decode = widgets["decode"]
    report = decode.report
    true, decoded = decode.result_layers["true"], decode.result_layers["decoded"]
    name = f"|true − decoded| (repeat {report.test_repeat})"
    if name in viewer.layers:
        viewer.layers.remove(name)
    error = viewer.add_image(
        np.abs(np.asarray(decoded.data, np.float32) - np.asarray(true.data, np.float32)),
        name=name, colormap="magma", contrast_limits=tuple(true.contrast_limits),
        translate=tuple(true.translate), scale=tuple(true.scale),
        metadata={"napari_cebra_decoded": dict(true.metadata["napari_cebra_decoded"])})
    decoded.contrast_limits = tuple(true.contrast_limits)
    shown = [true, decoded, error]
    for layer in viewer.layers:
        layer.visible = layer in shown
    for layer in shown:  # the grid fills its cells in layer order: true, decoded, difference
        viewer.layers.move(viewer.layers.index(layer), len(viewer.layers))
    for layer in shown:
        layer.name_overlay.visible = True
    _narrow_right_docks(viewer)  # first: the canvas's shape decides the grid's
    pump()
    _fill_cells(viewer, shown)
    canvas = getattr(viewer, "canvas", viewer)
    height, width = tuple(getattr(canvas, "size", (1, 3)))[:2]  # numpy order: h × w
    wide = width >= 1.5 * height  # a wide canvas: one row; a narrow one: two by two
    canvas.grid.shape = (1, 3) if wide else (2, 2)
    canvas.grid.spacing = 0.05
    canvas.grid.enabled = True
    viewer.layers.selection.active = decoded
    _show_embedding(viewer, widgets)
    acc = accuracies(report)
    where = ("left: true · middle: decoded from CEBRA · right: |difference|" if wide else
             "top: true | decoded from CEBRA · below: |difference|")
    overlay = canvas.overlays.text if hasattr(canvas, "overlays") else viewer.text_overlay
    overlay.text = (
        f"Held-out repeat {report.test_repeat} (never trained on)\n{where}\n±1 s: "
        + " · ".join(f"{label} {acc[key]:.0%}" for key, label in (
            ("cebra", "CEBRA"), ("raw", "raw"), ("pca", "PCA"),
            ("cebra (labels shuffled)", "shuffled")) if key in acc)
        + f" · chance {acc['chance']:.0%}\n"
        + textwrap.fill(verdict(report).split(' (')[0].split(';')[0], 56))
    overlay.font_size = 10
    overlay.position = "bottom_left"
    overlay.visible = True
    viewer.reset_view()
    return shown


def _fill_cells(viewer: Any, shown: list) -> None:
    """Scale the result frames up to the largest layer's size: napari's grid cells are as
    large as the largest layer (hidden ones too), so small movie frames next to the imaging
    stack would show as thumbnails. Only how they are drawn changes, not their data."""
    import numpy as np

    def size(layer) -> np.ndarray:
        extent = np.asarray(layer.extent.world, dtype=float)
        return extent[1, -2:] - extent[0, -2:]

    largest = max((size(layer) for layer in viewer.layers if layer.ndim >= 2),
                  key=lambda s: float(np.prod(s)))
    for layer in shown:
        factor = float(np.min(largest / np.maximum(size(layer), 1e-9)))
        if factor > 1:
            scale = list(layer.scale)
            scale[-2:] = [v * factor for v in scale[-2:]]
            layer.scale = scale


def _narrow_right_docks(viewer: Any, width: int = 400) -> None:
    """Give the canvas the room: the docks on the right no wider than ``width`` px."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QDockWidget

    window = viewer.window._qt_window
    right = Qt.DockWidgetArea.RightDockWidgetArea
    docks = [d for d in window.findChildren(QDockWidget)
             if d.isVisible() and window.dockWidgetArea(d) == right]
    if docks:
        window.resizeDocks(docks, [width] * len(docks), Qt.Orientation.Horizontal)


def _show_embedding(viewer: Any, widgets: dict[str, Any]) -> None:
    """The trained embedding, docked and following the time slider."""
    from napari_cebra.gui import session_flow
    from napari_cebra.gui.embedding_view import EmbeddingView

    layer = session_flow.latest(viewer, "traces")
    if layer is None or getattr(widgets.get("train"), "result", None) is None:
        return
    EmbeddingView.for_viewer(viewer).show_source(layer)

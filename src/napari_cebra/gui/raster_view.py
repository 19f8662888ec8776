"""A raster of ROI activity (ROIs × time) with the current time marked; a click moves time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QVBoxLayout, QWidget


class RasterView(QWidget):
    """Rows are ROIs in ``order``, columns frames; ``on_time(frame)`` is called on a click."""

    def __init__(self, on_time: Callable[[int], object] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.on_time = on_time or (lambda frame: None)
        self.figure = Figure(figsize=(4, 2.4), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(170)
        self.ax = self.figure.add_subplot(111)
        self.image = None
        self.line = self.ax.axvline(0.0, color="tab:red", lw=1.0)
        self.order = np.zeros(0, int)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.canvas.mpl_connect("button_press_event", self._clicked)

    def show_raster(self, activity: np.ndarray, order: np.ndarray, fs: float | None) -> None:
        """``activity`` (N, T), shown z-scored per ROI in ``order`` (top row first)."""
        x = np.asarray(activity, np.float32)[order]
        x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)
        self.order = np.asarray(order)
        if self.image is None:
            self.image = self.ax.imshow(x, aspect="auto", cmap="gray_r", vmin=0, vmax=3,
                                        interpolation="nearest")
        else:
            self.image.set_data(x)
            self.image.set_extent((-0.5, x.shape[1] - 0.5, x.shape[0] - 0.5, -0.5))
        self.ax.set_xlabel(f"frame{f' ({fs:g} Hz)' if fs else ''}")
        self.ax.set_ylabel("ROI (sorted)")
        self.canvas.draw_idle()

    def set_time(self, frame: int) -> None:
        self.line.set_xdata([frame, frame])
        self.canvas.draw_idle()

    def _clicked(self, event) -> None:
        if event.inaxes is self.ax and event.xdata is not None:
            self.on_time(int(round(event.xdata)))

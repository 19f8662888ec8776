"""The decode widget's plot: predicted vs true movie frame (and a continuous label) over the
test repeat, with a cursor that follows the time slider."""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QVBoxLayout, QWidget


class FramePlot(QWidget):
    """Predicted vs true frame id over the test repeat, with a line at the current time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(4, 2.4), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.axes = self.figure.add_subplot(111)
        self.cursor = None
        self.cursors: list = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.setMinimumHeight(180)

    def show_report(self, report, name: str,
                    continuous_truth: dict[str, np.ndarray] | None = None) -> None:
        """Frames (top) and, when decoded, the first continuous label (bottom) over time."""
        self.figure.clear()
        cont = [c for c in report.continuous if c.name == name][:1]
        axes = self.figure.subplots(1 + len(cont), 1, sharex=True, squeeze=False)[:, 0]
        t = report.test_index
        ax = self.axes = axes[0]
        ax.plot(t, report.true_frames, color="0.3", lw=1.5, label="true")
        ax.plot(t, report.result(name).prediction, ".", ms=2, color="tab:orange",
                label=f"decoded ({name})")
        ax.set_ylabel("movie frame")
        ax.legend(loc="upper left", fontsize=7, frameon=False)
        for c, cax in zip(cont, axes[1:], strict=True):
            true = (continuous_truth or {}).get(c.label)
            if true is not None:
                cax.plot(t, true[t], color="0.3", lw=1, label="true")
            cax.plot(t, c.prediction, color="tab:blue", lw=1, label=f"decoded, R² {c.r2:.2f}")
            cax.set_ylabel(c.label, fontsize=8)
            cax.legend(loc="upper left", fontsize=7, frameon=False)
        axes[-1].set_xlabel("time (imaging frame)")
        self.cursors = [a.axvline(t[0], color="tab:red", lw=1) for a in axes]
        self.cursor = self.cursors[0]
        self.canvas.draw_idle()

    def set_time(self, t: float) -> None:
        for cursor in self.cursors:
            cursor.set_xdata([t, t])
        if self.cursors:
            self.canvas.draw_idle()

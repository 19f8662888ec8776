"""The training loss per step, drawn as it arrives (the Train widget's result view)."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPointF
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import QWidget


class LossCurve(QWidget):
    """The loss per step, repainted at most once per frame (Qt coalesces ``update()``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.losses: list[float] = []
        self.total = 1
        self.setMinimumHeight(90)

    def reset(self, total: int) -> None:
        self.losses, self.total = [], max(int(total), 1)
        self.update()

    def add(self, *losses: float) -> None:
        self.losses.extend(float(v) for v in losses)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        w, h = self.width(), self.height()
        painter.fillRect(0, 0, w, h, QColor(30, 30, 36))
        painter.setPen(QColor(170, 170, 170))
        if not self.losses:
            painter.drawText(6, 16, "loss")
            painter.end()
            return
        y = np.asarray(self.losses, dtype=np.float64)
        finite = y[np.isfinite(y)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        span = hi - lo if hi > lo else 1.0
        # At most one vertex per pixel column.
        idx = np.unique(np.linspace(0, len(y) - 1, min(len(y), max(w, 2))).astype(int))
        xs = 4 + (w - 8) * idx / max(self.total - 1, 1)
        ys = (h - 18) - (h - 26) * (np.nan_to_num(y[idx], nan=hi) - lo) / span
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(255, 170, 60), 1.5))
        painter.drawPolyline(QPolygonF([QPointF(a, b) for a, b in zip(xs, ys, strict=True)]))
        painter.setPen(QColor(200, 200, 200))
        painter.drawText(6, 14, f"loss {y[-1]:.4f}   step {len(y)}/{self.total}")
        painter.drawText(6, h - 4, f"min {lo:.4f}  max {hi:.4f}")
        painter.end()

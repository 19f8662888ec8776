"""The Train widget's files: save and load models, load a traces matrix; torch's warm-up."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Layer
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QFileDialog

from napari_cebra import model_files


class ModelFiles:
    """Mixed into :class:`~napari_cebra.gui.train_widget.TrainWidget` (``self.model``,
    ``self.result``, ``self.viewer``, its settings form)."""

    def save_model(self, path: str | Path) -> Path:
        if self.model is None:
            raise ValueError("No model yet: train or load one first.")
        settings = self.result.settings if self.result is not None else self.settings()
        return model_files.save_model(self.model, path, settings, self._model_columns,
                                   overwrite=True, rois=getattr(self, "_model_rois", None))

    def load_model(self, path: str | Path) -> None:
        model, settings, columns = model_files.load_model(path)
        self.model, self.result, self._model_columns = model, None, tuple(columns)
        self._model_rois = None
        self.set_settings(settings)
        self.set_label_columns(columns)
        self._set_busy(False)
        self.status.setText(f"Loaded {Path(path).name}; press 'Embed' to use it.")

    def load_matrix(self, path: str | Path) -> Layer:
        """A (time, neurons) .npy matrix as a traces layer (CEBRA-Time until labels exist)."""
        from napari_cebra.gui.layers import traces_layer

        path = Path(path)
        traces = np.load(path, allow_pickle=False)
        if traces.ndim != 2:
            raise ValueError(f"{path.name}: expected a (time, neurons) matrix, got {traces.shape}.")
        data, kwargs, _ = traces_layer(traces, name=path.stem)
        layer = self.viewer.add_image(data, **kwargs)
        self.select_layer(layer)
        return layer

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save CEBRA model", "cebra-model.pt",
                                              "CEBRA model (*.pt)")
        if path:
            _report(self.save_model, path)

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load CEBRA model", "", "CEBRA model (*.pt)")
        if path:
            _report(self.load_model, path)

    def _load_matrix_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load traces", "", "Traces (*.npy)")
        if path:
            _report(self.load_matrix, path)


def _report(func, *args) -> Any:
    try:
        out = func(*args)
    except (ValueError, TypeError, OSError, RuntimeError) as err:
        show_error(str(err))
        return None
    show_info(f"{getattr(func, '__name__', 'done').replace('_', ' ')}: {args[0]}")
    return out


class TorchWarmUp:
    """torch's first optimiser imports ~3 s of modules: do it once, off the UI thread.

    A plain thread, not a napari worker: a worker's Qt signals may be deleted when napari
    closes while it still runs, which aborts the process at exit.
    """

    def __init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name="torch-warm-up", daemon=True)

    @staticmethod
    def _run() -> None:
        try:
            import torch

            torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
        except Exception:  # noqa: BLE001 - only a warm-up: training reports real errors
            pass

    def start(self) -> None:
        self._thread.start()

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

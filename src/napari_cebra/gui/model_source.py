"""Where a widget gets a trained model: the Train widget's, or a model file the user picks."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import QFileDialog, QWidget

from napari_cebra.gui import registry

FROM_TRAIN_WIDGET, FROM_FILE = "Train widget's model", "Model file…"


def ask_model_file(parent: QWidget) -> Path | None:
    """A model file chosen in a dialog, or ``None`` when the user cancels."""
    path, _ = QFileDialog.getOpenFileName(parent, "CEBRA model", "", "CEBRA model (*.pt)")
    return Path(path) if path else None


def train_widget_model(viewer, alternative: str):
    """The fitted model of the viewer's Train CEBRA widget; ``ValueError`` naming
    ``alternative`` (what else the user can choose) when there is none."""
    model = getattr(registry.find(viewer, "train"), "model", None)
    if model is None or not getattr(model, "is_fitted_", False):
        raise ValueError(f"no trained model in a Train CEBRA widget; train one there or "
                         f"{alternative}.")
    return model


def checked_model_file(path: Path | None) -> Path:
    """``path`` if it names an existing file; else a ``ValueError`` saying what to do."""
    if path is None:
        raise ValueError("choose a model file first.")
    if not path.is_file():
        raise ValueError(f"model file {path} does not exist.")
    return path


class ModelChoice:
    """A "model" combo box (magicgui): the Train widget's model, a model file (asks for one
    when chosen) and any other ``choices``; ``fallback`` is chosen again when the user cancels
    the file dialog."""

    def __init__(self, parent: QWidget, viewer, choices: list[str], fallback: str) -> None:
        from magicgui.widgets import ComboBox

        self.parent, self.viewer, self.fallback = parent, viewer, fallback
        self.path: Path | None = None
        self.box = ComboBox(label="model", choices=choices, name="model")
        self.box.changed.connect(self._on_choice)

    @property
    def value(self) -> str:
        return self.box.value

    def _on_choice(self, text: str) -> None:
        if text != FROM_FILE:
            return
        path = ask_model_file(self.parent)
        if path:
            self.path = path
        else:
            with self.box.changed.blocked():
                self.box.value = self.fallback

    def set_file(self, path: str | Path) -> None:
        """Use a saved model (what the "Model file…" choice does, without a dialog)."""
        self.path = Path(path)
        with self.box.changed.blocked():
            self.box.value = FROM_FILE

    def file(self) -> Path:
        return checked_model_file(self.path)

    def trained(self, alternative: str):
        return train_widget_model(self.viewer, alternative)

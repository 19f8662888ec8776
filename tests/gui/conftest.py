"""Fixtures shared by the GUI tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def errors(monkeypatch) -> list[str]:
    """What the Train widget and the job runner show with ``show_error``, in order."""
    from napari_cebra.gui import jobs
    from napari_cebra.gui import train_widget as tw

    shown: list[str] = []
    monkeypatch.setattr(tw, "show_error", lambda msg: shown.append(str(msg)))
    monkeypatch.setattr(jobs, "show_error", lambda msg: shown.append(str(msg)))
    return shown

"""napari_cebra.runtime: the process-wide settings made inside napari, and their opt-outs."""

import sys

import pytest

from napari_cebra import runtime


def test_runtime_hides_triton_once_and_can_be_told_not_to(monkeypatch):
    monkeypatch.delitem(sys.modules, "triton", raising=False)
    monkeypatch.setenv(runtime.ALLOW_TRITON, "1")
    assert runtime.hide_triton() is False and "triton" not in sys.modules
    monkeypatch.delenv(runtime.ALLOW_TRITON)
    assert runtime.hide_triton() is True and sys.modules["triton"] is None
    with pytest.raises(ImportError):
        import triton  # noqa: F401


def test_runtime_thread_count_follows_the_environment(monkeypatch):
    monkeypatch.setenv(runtime.TORCH_THREADS, "3")
    assert runtime.torch_threads_for_gui() == 3
    monkeypatch.setenv(runtime.TORCH_THREADS, "0")
    assert runtime.torch_threads_for_gui() is None
    monkeypatch.setenv(runtime.TORCH_THREADS, "many")
    with pytest.raises(ValueError, match="NAPARI_CEBRA_TORCH_THREADS='many'"):
        runtime.torch_threads_for_gui()
    monkeypatch.delenv(runtime.TORCH_THREADS)
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 8)
    assert runtime.torch_threads_for_gui() == 7


def test_prepare_for_gui_applies_both_settings_once(monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    monkeypatch.setattr(runtime, "_prepared", False)
    monkeypatch.delitem(sys.modules, "triton", raising=False)
    monkeypatch.delenv(runtime.ALLOW_TRITON, raising=False)
    monkeypatch.setenv(runtime.TORCH_THREADS, "1")
    try:
        runtime.prepare_for_gui()
        assert torch.get_num_threads() == 1 and sys.modules["triton"] is None
        torch.set_num_threads(2)
        runtime.prepare_for_gui()  # once per process: a second call changes nothing
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)

import pytest

from napari_cebra.engine import device


def test_auto_and_cpu_resolve_without_a_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.resolve_device("auto") == "cpu"
    assert device.resolve_device("cpu") == "cpu"
    assert [d for d, _ in device.available_devices()] == ["auto", "cpu"]
    with pytest.raises(ValueError, match="no CUDA device"):
        device.resolve_device("cuda")


def test_gpus_are_listed_and_checked_when_present(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"GPU{i}")
    assert device.resolve_device("auto") == "cuda:0"
    assert device.resolve_device("cuda:1") == "cuda:1"
    assert device.available_devices()[-1] == ("cuda:1", "cuda:1 (GPU1)")
    with pytest.raises(ValueError, match="has 2 CUDA"):
        device.resolve_device("cuda:2")
    with pytest.raises(ValueError, match="not understood"):
        device.resolve_device("tpu")

"""Pick the torch device a run uses: ``"auto"`` means CUDA when present."""

from __future__ import annotations

import re

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def available_devices() -> list[tuple[str, str]]:
    """``(device, human name)`` pairs: ``auto``, ``cpu`` and each CUDA GPU torch can see."""
    import torch

    devices = [("auto", "auto (CUDA when present)"), ("cpu", "CPU")]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            devices.append((f"cuda:{index}", f"cuda:{index} ({torch.cuda.get_device_name(index)})"))
    return devices


def resolve_device(device: str) -> str:
    """Turn a user's device string into a concrete one (``cpu`` or ``cuda:N``).

    Raises ``ValueError`` for a malformed string or a GPU this machine does not have.
    """
    import torch

    if not isinstance(device, str) or not _DEVICE_PATTERN.match(device):
        raise ValueError(
            f"device={device!r} is not understood; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        )
    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} asks for a GPU but torch sees no CUDA device on this machine; "
            "use device='cpu' or 'auto'."
        )
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s) "
            f"(cuda:0 … cuda:{torch.cuda.device_count() - 1})."
        )
    return f"cuda:{index}"

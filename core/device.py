"""Choosing where tensors live: CUDA, then Apple's MPS, else the CPU.

No global state: the choice is returned, never stored. Where ``LOCAL_RANK`` is set (one process
per GPU, as ``torchrun`` starts them), auto picks the GPU it names.
"""

from __future__ import annotations

import os

import torch

from core.errors import StudioError


def choose_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; ``cpu``, ``cuda``, ``cuda:1``, ``mps`` are taken as asked, and
    refused (``StudioError``) when this machine has no such device."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise StudioError(f"unknown device {name!r}; use auto, cpu, cuda or mps") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise StudioError("device cuda was asked for, but PyTorch sees no CUDA GPU here; use --device auto or cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise StudioError(f"device {name} was asked for, but PyTorch sees {count} CUDA GPU{'s' if count > 1 else ''} "
                          f"here (cuda:0{f' to cuda:{count - 1}' if count > 1 else ''}); use --device auto or cuda")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise StudioError("device mps was asked for, but it is not available here; use --device auto or cpu")
    return device

"""Input checks shared by the kernels' host wrappers: a bad call fails here, not in Triton."""

from __future__ import annotations

import numbers

import torch
from triton.runtime.interpreter import InterpretedFunction


def check_tensors(expected: dict[str, tuple[torch.Tensor, tuple[int, ...]]]) -> torch.device:
    """Check each named tensor is contiguous float32 of its expected shape, all on one device.

    ``expected`` maps a name to ``(tensor, shape)``; returns the common device.
    """
    device = None
    for name, (tensor, shape) in expected.items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dtype != torch.float32:
            raise TypeError(f"{name} must be float32, got {_short(tensor.dtype)}")
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(tensor.shape)}")
        if not tensor.is_contiguous():
            raise ValueError(f"{name} must be contiguous (stride {tensor.stride()})")
        if device is None:
            device = tensor.device
        elif tensor.device != device:
            first = next(iter(expected))
            raise ValueError(f"{name} is on {tensor.device} but {first} is on {device}")
    return device


def matrix_shape(name: str, tensor: torch.Tensor) -> tuple[int, int]:
    """The (rows, columns) of a 2-D tensor, the one whose shape sets the others'."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dim() != 2:
        raise ValueError(f"{name} must be 2-D, got shape {tuple(tensor.shape)}")
    return tuple(tensor.shape)


def is_interpreted(kernel) -> bool:
    """Whether ``kernel`` was decorated under TRITON_INTERPRET=1 (the choice is made at import)."""
    return isinstance(kernel, InterpretedFunction)


def check_runnable(kernel, device: torch.device) -> None:
    """Check ``kernel`` can run on ``device``: CUDA natively, CPU only through the interpreter."""
    if device.type == "cuda" or (device.type == "cpu" and is_interpreted(kernel)):
        return
    raise ValueError(
        f"tensors are on {device}; Triton kernels need CUDA tensors, or CPU tensors with "
        "TRITON_INTERPRET=1 set before workbench.cuda's kernel modules are imported"
    )


def as_floats(**scalars: float) -> list[float]:
    """Each named scalar as a Python float, so Triton types it fp32 (an int 1 would become i32)."""
    floats = []
    for name, value in scalars.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
        if value != value:
            raise ValueError(f"{name} must not be NaN")
        floats.append(float(value))
    return floats


def check_block(name: str, block: int) -> int:
    """Check a tile size is a positive power of two, as tl.arange requires."""
    if isinstance(block, bool) or not isinstance(block, int) or block <= 0 or block & (block - 1):
        raise ValueError(f"{name} must be a positive power of two, got {block!r}")
    return block


def _short(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")

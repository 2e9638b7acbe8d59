"""GPU kernels written in Triton, with host wrappers that validate their inputs.

- ``advantage.puff_advantage``: GAE with V-trace clips, one program per block of rows.
- ``sample.sample_logits``: Gumbel-max action and its logprob from logits, in one pass.
- ``priority.priority_weights``: (sum_t |adv|) ** alpha per segment, for prioritized sampling.

Kernels sit at the bottom of the package: nothing here imports the rest of workbench, and
importing this package imports neither triton nor torch. The kernel modules import triton, and
Triton decides at their import whether kernels are compiled or interpreted, so set
``TRITON_INTERPRET=1`` before importing them to run on the CPU (slow; meant for tests).
"""

from __future__ import annotations

import importlib
import os

__all__ = ["available", "priority_weights", "puff_advantage", "sample_logits"]

_LAZY = {
    "puff_advantage": "advantage",
    "sample_logits": "sample",
    "priority_weights": "priority",
}


def available() -> bool:
    """Whether the kernels can run here: triton imports, and a CUDA device or the interpreter."""
    try:
        import triton
    except ImportError:
        return False
    if _interpreting(triton):
        return True
    import torch

    return torch.cuda.is_available()


def _interpreting(triton) -> bool:
    # Triton's own reading of TRITON_INTERPRET ("1", "true", "on", ...) where it offers one.
    knobs = getattr(triton, "knobs", None)
    if knobs is not None:
        return bool(knobs.runtime.interpret)
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def __getattr__(name: str):
    # Lazy so `import workbench.cuda` stays cheap and works without triton installed.
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Advantage and segment priorities: the one place that picks the CPU or the GPU implementation.

Backends, by the device the tensors live on (:func:`backend_for`):

- ``"cpu"``: the compiled Cython kernel (``cy_advantage.pyx``) reading the tensors in place;
- ``"triton"``: the kernels of :mod:`workbench.cuda` on a CUDA device, when
  ``workbench.cuda.available()`` (triton importable);
- ``"torch"``: the plain torch reference, on any device (a CUDA device without triton).

Tests pass ``backend="triton"`` with CPU tensors to run the kernels through Triton's
interpreter (``TRITON_INTERPRET=1`` set before triton is imported).
"""

from __future__ import annotations

from functools import cache

import torch

from workbench.ppo.cy_advantage import puff_advantage as _puff_advantage_cpu
from workbench.ppo.cy_advantage import puff_advantage_rows as _puff_advantage_rows_cpu

BACKENDS = ("cpu", "triton", "torch")


def advantage_reference(values, rewards, dones, ratio, gamma, lam, rho_clip, c_clip):
    """Puff advantage in plain torch, vectorized over rows and looped over time.

    Shapes: values (N, T+1) with the bootstrap in the last column; the rest (N, T).
    """
    n, horizon = rewards.shape
    out = torch.zeros_like(rewards)
    a = torch.zeros(n, dtype=rewards.dtype, device=rewards.device)
    rho = torch.clamp(ratio, max=rho_clip)
    c = torch.clamp(ratio, max=c_clip)
    for t in reversed(range(horizon)):
        nd = 1.0 - dones[:, t]
        delta = rho[:, t] * (rewards[:, t] + gamma * values[:, t + 1] * nd - values[:, t])
        a = delta + gamma * lam * c[:, t] * nd * a
        out[:, t] = a
    return out


def backend_for(device: torch.device | str) -> str:
    """The implementation used for tensors on ``device``: ``cpu``, ``triton`` or ``torch``."""
    device = torch.device(device)
    if device.type == "cpu":
        return "cpu"
    return "triton" if device.type == "cuda" and _triton_available() else "torch"


@cache
def _triton_available() -> bool:
    import workbench.cuda

    return workbench.cuda.available()


def compute_advantage(
    values, rewards, dones, ratio, out, gamma, lam, rho_clip, c_clip, *, rows=None, backend=None
):
    """Write the puff advantage into ``out`` (all tensors on one device) and return it.

    ``rows`` (int64 indices), if given, are the only rows whose inputs changed since ``out``
    was last written: each row's advantage depends on that row alone, so the CPU kernel
    recomputes just those (the GPU backends recompute all, in parallel anyway).
    ``backend`` overrides :func:`backend_for` (for tests).
    """
    name = _check_backend(backend or backend_for(values.device))
    if name == "cpu":
        arrays = (values.detach(), rewards, dones, ratio.detach(), out)
        arrays = tuple(x.numpy() for x in arrays)
        coefs = (gamma, lam, rho_clip, c_clip)
        if rows is None:
            _puff_advantage_cpu(*arrays, *coefs)
        else:
            _puff_advantage_rows_cpu(*arrays, rows.numpy(), *coefs)
    elif name == "triton":
        from workbench.cuda import puff_advantage

        puff_advantage(
            values.detach(), rewards, dones, ratio.detach(), out, gamma, lam, rho_clip, c_clip
        )
    else:
        out.copy_(advantage_reference(values, rewards, dones, ratio, gamma, lam, rho_clip, c_clip))
    return out


def segment_priorities(
    advantages: torch.Tensor, alpha: float, *, sums=None, rows=None, backend=None
):
    """Prioritized-replay weight of each segment (row): ``(sum_t |A|) ** alpha``, shape (N,).

    The Triton kernel on a GPU, else torch (there is no separate CPU kernel). ``sums``, an
    (N,) buffer, keeps each row's ``sum_t |A|`` between calls; then ``rows`` may list the
    only rows whose advantages changed, and only theirs are summed again (the power is
    taken over all rows at once: element-wise results depend on a row's position in a
    vector op, so a part would round differently). The Triton kernel ignores both.
    """
    name = _check_backend(backend or backend_for(advantages.device))
    if name == "triton":
        from workbench.cuda import priority_weights

        return priority_weights(advantages, alpha)
    if sums is None:
        return advantages.abs().sum(1).pow(alpha)
    if rows is None:
        torch.sum(advantages.abs(), 1, out=sums)
    else:
        # index_select/index_copy_, not indexing: see Trainer.update's gathers.
        sums.index_copy_(0, rows, advantages.index_select(0, rows).abs().sum(1))
    return sums.pow(alpha)


def _check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    return name

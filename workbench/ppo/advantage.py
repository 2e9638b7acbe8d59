"""Advantage estimation: the compiled kernel, and a plain torch reference for tests."""

from __future__ import annotations

import torch

from workbench.ppo.cy_advantage import puff_advantage as _puff_advantage_cpu


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


def compute_advantage(values, rewards, dones, ratio, out, gamma, lam, rho_clip, c_clip):
    """Write the puff advantage into ``out``: the compiled kernel on CPU, torch elsewhere."""
    if values.device.type == "cpu":
        _puff_advantage_cpu(
            values.detach().numpy(),
            rewards.numpy(),
            dones.numpy(),
            ratio.detach().numpy(),
            out.numpy(),
            gamma,
            lam,
            rho_clip,
            c_clip,
        )
    else:
        out.copy_(advantage_reference(values, rewards, dones, ratio, gamma, lam, rho_clip, c_clip))
    return out

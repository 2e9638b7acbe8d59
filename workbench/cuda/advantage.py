"""Puff advantage (GAE with V-trace clips) as a Triton kernel: one program per block of rows.

Per row, backwards in t, with d[t] the done flag after the action at t
(Schulman et al. 2016 for GAE, Espeholt et al. 2018 for the clipped importance weights):
    rho_t = min(ratio_t, rho_clip), c_t = min(ratio_t, c_clip)
    delta_t = rho_t * (r_t + gamma * V_{t+1} * (1 - d_t) - V_t)
    A_t = delta_t + gamma * lambda * c_t * (1 - d_t) * A_{t+1}
values has one more column than the rest: values[:, T] bootstraps the segment's end.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from workbench.cuda._checks import (
    as_floats,
    check_block,
    check_runnable,
    check_tensors,
    is_interpreted,
    matrix_shape,
)

# One row per thread; a warp of rows per program keeps many programs in flight for small N.
GPU_BLOCK_ROWS = 32
# The interpreter pays per program and per op, not per element: wide blocks are far faster.
INTERPRETER_BLOCK_ROWS = 1024


@triton.jit
def _puff_advantage_kernel(
    values_ptr,
    rewards_ptr,
    dones_ptr,
    ratio_ptr,
    out_ptr,
    n_rows,
    horizon,
    gamma,
    gamma_lam,
    rho_clip,
    c_clip,
    BLOCK_ROWS: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
    mask = rows < n_rows
    # int64 offsets: N * (T + 1) can pass 2**31 on big rollouts.
    row_start = rows.to(tl.int64) * horizon
    value_start = rows.to(tl.int64) * (horizon + 1)

    a = tl.zeros([BLOCK_ROWS], dtype=tl.float32)
    # V_{t+1} of the first step back is the bootstrap column; afterwards it is last step's V_t.
    v_next = tl.load(values_ptr + value_start + horizon, mask=mask, other=0.0)
    for i in range(horizon):
        t = horizon - 1 - i
        v = tl.load(values_ptr + value_start + t, mask=mask, other=0.0)
        r = tl.load(rewards_ptr + row_start + t, mask=mask, other=0.0)
        d = tl.load(dones_ptr + row_start + t, mask=mask, other=0.0)
        ratio = tl.load(ratio_ptr + row_start + t, mask=mask, other=0.0)
        rho = tl.minimum(ratio, rho_clip)
        c = tl.minimum(ratio, c_clip)
        nd = 1.0 - d
        delta = rho * (r + gamma * v_next * nd - v)
        a = delta + gamma_lam * c * nd * a
        tl.store(out_ptr + row_start + t, a, mask=mask)
        v_next = v


def puff_advantage(
    values: torch.Tensor,
    rewards: torch.Tensor,
    dones: torch.Tensor,
    ratio: torch.Tensor,
    out: torch.Tensor,
    gamma: float,
    lam: float,
    rho_clip: float,
    c_clip: float,
    *,
    block_rows: int | None = None,
) -> torch.Tensor:
    """Write the puff advantage of ``N`` segments of horizon ``T`` into ``out`` and return it.

    values is (N, T+1), its last column the bootstrap value; rewards, dones, ratio and out are
    (N, T). All contiguous float32 on one device. ``block_rows`` (a power of two) overrides
    the rows per program, for tests and tuning.
    """
    n, horizon = matrix_shape("rewards", rewards)
    device = check_tensors(
        {
            "rewards": (rewards, (n, horizon)),
            "values": (values, (n, horizon + 1)),
            "dones": (dones, (n, horizon)),
            "ratio": (ratio, (n, horizon)),
            "out": (out, (n, horizon)),
        }
    )
    gamma, lam, rho_clip, c_clip = as_floats(gamma=gamma, lam=lam, rho_clip=rho_clip, c_clip=c_clip)
    check_runnable(_puff_advantage_kernel, device)
    if n == 0 or horizon == 0:
        return out

    default = INTERPRETER_BLOCK_ROWS if is_interpreted(_puff_advantage_kernel) else GPU_BLOCK_ROWS
    block = min(check_block("block_rows", block_rows or default), triton.next_power_of_2(n))
    grid = (triton.cdiv(n, block),)
    # gamma * lam multiplied in double, as the torch reference does.
    _puff_advantage_kernel[grid](
        values,
        rewards,
        dones,
        ratio,
        out,
        n,
        horizon,
        gamma,
        gamma * lam,
        rho_clip,
        c_clip,
        BLOCK_ROWS=block,
        num_warps=max(1, min(4, block // 32)),
        # No FMA contraction: each product rounded as in the torch reference.
        enable_fp_fusion=False,
    )
    return out

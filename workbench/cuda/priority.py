"""Prioritized segment weights: w[n] = (sum_t |adv[n, t]|) ** alpha, one row per lane.

The per-segment priority of prioritized replay (Schaul et al. 2016) as PufferLib samples
minibatch segments by it; normalizing w into probabilities is left to the caller.
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

GPU_TILE = 2048
INTERPRETER_TILE = 1 << 16
MAX_BLOCK_COLS = 256


@triton.jit
def _priority_weights_kernel(
    adv_ptr,
    out_ptr,
    n_rows,
    horizon,
    alpha,
    zero_pow,
    BLOCK_ROWS: tl.constexpr,
    BLOCK_COLS: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
    row_mask = rows < n_rows
    row_start = rows.to(tl.int64) * horizon
    total = tl.zeros([BLOCK_ROWS], dtype=tl.float32)
    for start in range(0, horizon, BLOCK_COLS):
        cols = start + tl.arange(0, BLOCK_COLS)
        mask = row_mask[:, None] & (cols < horizon)[None, :]
        x = tl.load(adv_ptr + row_start[:, None] + cols[None, :], mask=mask, other=0.0)
        total += tl.sum(tl.abs(x), axis=1)
    # s ** alpha = exp(alpha * log s) for s > 0; 0 ** alpha comes from the host (1, 0 or inf).
    positive = total > 0.0
    weights = tl.exp(alpha * tl.log(tl.where(positive, total, 1.0)))
    tl.store(out_ptr + rows, tl.where(positive, weights, zero_pow), mask=row_mask)


def priority_weights(
    advantages: torch.Tensor,
    alpha: float,
    out: torch.Tensor | None = None,
    *,
    block_rows: int | None = None,
    block_cols: int | None = None,
) -> torch.Tensor:
    """Return ``(advantages.abs().sum(1)) ** alpha`` for (N, T) advantages as an (N,) tensor.

    advantages (and ``out``, if given) contiguous float32 on one device. ``block_rows`` and
    ``block_cols`` (powers of two) override the tile, for tests and tuning.
    """
    n, horizon = matrix_shape("advantages", advantages)
    if out is None:
        out = torch.empty(n, dtype=torch.float32, device=advantages.device)
    device = check_tensors({"advantages": (advantages, (n, horizon)), "out": (out, (n,))})
    (alpha,) = as_floats(alpha=alpha)
    check_runnable(_priority_weights_kernel, device)
    if n == 0:
        return out

    zero_pow = 1.0 if alpha == 0 else (0.0 if alpha > 0 else float("inf"))
    tile = INTERPRETER_TILE if is_interpreted(_priority_weights_kernel) else GPU_TILE
    cols = check_block(
        "block_cols", block_cols or min(triton.next_power_of_2(max(horizon, 1)), MAX_BLOCK_COLS)
    )
    rows = check_block("block_rows", block_rows or max(1, tile // cols))
    rows = min(rows, triton.next_power_of_2(n))
    _priority_weights_kernel[(triton.cdiv(n, rows),)](
        advantages,
        out,
        n,
        horizon,
        alpha,
        zero_pow,
        BLOCK_ROWS=rows,
        BLOCK_COLS=cols,
        num_warps=4 if rows * cols >= 1024 else 1,
        # No FMA contraction: each product rounded as in the torch reference.
        enable_fp_fusion=False,
    )
    return out

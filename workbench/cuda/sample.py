"""Fused categorical sampling: an action and its log-probability from logits in one pass.

Gumbel-max (Gumbel 1954; Maddison et al. 2014): argmax_a(logits_a - log(-log u_a)) with u
uniform on (0, 1) is a draw from softmax(logits). The noise comes in as a tensor, so a caller
that seeds it gets the same actions as torch would. The logprob is logits[action] minus the
row's logsumexp, kept online over column chunks (Milakov & Gimelshein 2018) so any number of
actions fits.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from workbench.cuda._checks import (
    check_block,
    check_runnable,
    check_tensors,
    is_interpreted,
    matrix_shape,
)

# Elements per program's tile: small on a GPU for occupancy, large in the interpreter,
# which pays per op rather than per element.
GPU_TILE = 2048
INTERPRETER_TILE = 1 << 16
MAX_BLOCK_COLS = 1024


@triton.jit
def _sample_logits_kernel(
    logits_ptr,
    uniform_ptr,
    actions_ptr,
    logprobs_ptr,
    n_rows,
    n_cols,
    BLOCK_ROWS: tl.constexpr,
    BLOCK_COLS: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
    row_mask = rows < n_rows
    row_start = rows.to(tl.int64) * n_cols

    # Running logsumexp (max, scaled sum) and running best perturbed logit, over chunks.
    lse_max = tl.full([BLOCK_ROWS], float("-inf"), dtype=tl.float32)
    lse_sum = tl.zeros([BLOCK_ROWS], dtype=tl.float32)
    best_z = tl.full([BLOCK_ROWS], float("-inf"), dtype=tl.float32)
    best_idx = tl.zeros([BLOCK_ROWS], dtype=tl.int32)
    best_logit = tl.zeros([BLOCK_ROWS], dtype=tl.float32)
    for start in range(0, n_cols, BLOCK_COLS):
        cols = start + tl.arange(0, BLOCK_COLS)
        col_mask = cols < n_cols
        mask = row_mask[:, None] & col_mask[None, :]
        offsets = row_start[:, None] + cols[None, :]
        # Padding rows read zeros (finite, no NaN); padding columns become -inf (never chosen).
        x = tl.load(logits_ptr + offsets, mask=mask, other=0.0)
        x = tl.where(col_mask[None, :], x, float("-inf"))
        u = tl.load(uniform_ptr + offsets, mask=mask, other=0.5)
        z = x - tl.log(-tl.log(u))

        chunk_z, chunk_idx = tl.max(z, axis=1, return_indices=True)
        chunk_idx = chunk_idx.to(tl.int32)
        chunk_logit = tl.sum(
            tl.where(cols[None, :] == (start + chunk_idx)[:, None], x, 0.0), axis=1
        )
        # Strictly greater: on a tie the earlier column wins, as torch.argmax does.
        better = chunk_z > best_z
        best_z = tl.where(better, chunk_z, best_z)
        best_idx = tl.where(better, start + chunk_idx, best_idx)
        best_logit = tl.where(better, chunk_logit, best_logit)

        new_max = tl.maximum(lse_max, tl.max(x, axis=1))
        # A row with no finite logit yet shifts by 0, so -inf - -inf never makes a NaN.
        shift = tl.where(new_max == float("-inf"), 0.0, new_max)
        lse_sum = lse_sum * tl.exp(lse_max - shift) + tl.sum(tl.exp(x - shift[:, None]), axis=1)
        lse_max = new_max

    lse = lse_max + tl.log(lse_sum)
    tl.store(actions_ptr + rows, best_idx.to(tl.int64), mask=row_mask)
    tl.store(logprobs_ptr + rows, best_logit - lse, mask=row_mask)


def sample_logits(
    logits: torch.Tensor,
    uniform: torch.Tensor,
    *,
    block_rows: int | None = None,
    block_cols: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample one action per row of ``logits`` (N, A) and return ``(actions, logprobs)``.

    ``uniform`` is (N, A) noise in (0, 1), e.g. ``torch.rand``; a 0 only removes that action.
    Both contiguous float32 on one device. actions are int64 (N,), logprobs float32 (N,):
    the same as ``(logits - log(-log(uniform))).argmax(-1)`` and ``log_softmax`` gathered at
    it. ``block_rows``/``block_cols`` (powers of two) override the tile, for tests and tuning.
    """
    n, n_cols = matrix_shape("logits", logits)
    device = check_tensors({"logits": (logits, (n, n_cols)), "uniform": (uniform, (n, n_cols))})
    if n_cols == 0:
        raise ValueError("logits must have at least one action column, got shape (N, 0)")
    check_runnable(_sample_logits_kernel, device)
    actions = torch.empty(n, dtype=torch.int64, device=device)
    logprobs = torch.empty(n, dtype=torch.float32, device=device)
    if n == 0:
        return actions, logprobs

    tile = INTERPRETER_TILE if is_interpreted(_sample_logits_kernel) else GPU_TILE
    cols = check_block(
        "block_cols", block_cols or min(triton.next_power_of_2(n_cols), MAX_BLOCK_COLS)
    )
    rows = check_block("block_rows", block_rows or max(1, tile // cols))
    rows = min(rows, triton.next_power_of_2(n))
    _sample_logits_kernel[(triton.cdiv(n, rows),)](
        logits,
        uniform,
        actions,
        logprobs,
        n,
        n_cols,
        BLOCK_ROWS=rows,
        BLOCK_COLS=cols,
        num_warps=4 if rows * cols >= 1024 else 1,
        # No FMA contraction: each product rounded as in the torch reference.
        enable_fp_fusion=False,
    )
    return actions, logprobs

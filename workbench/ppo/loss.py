"""The PPO loss over one micro-batch, with its gradient written out (one pass each way).

Clipped surrogate (Schulman et al. 2017, eq. 7), clipped value loss and entropy bonus, as
``Trainer`` computed them with autograd, and the same numbers forward. Autograd records
some 40 small elementwise nodes for this and walks them backward; here the forward also
forms the two per-element derivatives, and the backward only scales them. Ties of the
``max`` terms split the gradient in halves and the clips pass it inside their closed
range, as torch's ``maximum`` and ``clamp`` backwards do.
"""

from __future__ import annotations

import torch

# The statistics ``PPOLoss`` returns, in order (the loss itself first).
STATS = ("loss", "policy", "value", "entropy", "approx_kl", "clipfrac", "importance")


def _max_weight(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """d max(a, b) / da as torch's backward has it: 1 where a > b, 0.5 on ties, else 0."""
    return torch.where(a == b, 0.5, (a > b).to(a.dtype))


class PPOLoss(torch.autograd.Function):
    """``apply(new_logp, entropy, new_values, old_logp, adv, ret, old_values, clip,
    vf_clip, vf_coef, ent_coef)`` -> (loss, stats, ratio); stats and ratio carry no
    gradient. Tensors share one shape; ``adv`` is the normalized, weighted advantage."""

    @staticmethod
    def forward(
        ctx,
        new_logp,
        entropy,
        new_values,
        old_logp,
        adv,
        ret,
        old_values,
        clip,
        vf_clip,
        vf_coef,
        ent_coef,
    ):
        logratio = new_logp - old_logp
        ratio = logratio.exp()
        pg_a = -adv * ratio
        pg_b = -adv * ratio.clamp(1 - clip, 1 + clip)
        pg = torch.max(pg_a, pg_b)
        dv = new_values - old_values
        v_clipped = old_values + dv.clamp(-vf_clip, vf_clip)
        err_a, err_b = new_values - ret, v_clipped - ret
        sq_a, sq_b = err_a**2, err_b**2
        v_loss = 0.5 * torch.max(sq_a, sq_b)
        pg_mean, v_mean, ent_mean = pg.mean(), v_loss.mean(), entropy.mean()
        loss = pg_mean + vf_coef * v_mean - ent_coef * ent_mean
        stats = torch.stack(
            [
                loss,
                pg_mean,
                v_mean,
                ent_mean,
                ((ratio - 1) - logratio).mean(),
                ((ratio - 1).abs() > clip).float().mean(),
                ratio.mean(),
            ]
        )
        # Per-element derivatives of the sums, before the 1/N of the means.
        w = _max_weight(pg_a, pg_b)
        inside = ((ratio >= 1 - clip) & (ratio <= 1 + clip)).to(ratio.dtype)
        d_logp = -adv * (w + (1 - w) * inside) * ratio
        w = _max_weight(sq_a, sq_b)
        inside = ((dv >= -vf_clip) & (dv <= vf_clip)).to(dv.dtype)
        d_values = vf_coef * (w * err_a + (1 - w) * err_b * inside)
        ctx.save_for_backward(d_logp, d_values)
        ctx.ent_coef = ent_coef
        ctx.mark_non_differentiable(stats, ratio)
        return loss, stats, ratio

    @staticmethod
    def backward(ctx, grad_loss, _grad_stats, _grad_ratio):
        d_logp, d_values = ctx.saved_tensors
        scale = grad_loss / d_logp.numel()
        d_entropy = (-ctx.ent_coef * scale).expand(d_logp.shape)
        return d_logp * scale, d_entropy, d_values * scale, *([None] * 8)


def ppo_loss(new_logp, entropy, new_values, old_logp, adv, ret, old_values, cfg):
    """(loss, stats in ``STATS`` order, ratio) for ``cfg``'s clip and coefficients."""
    return PPOLoss.apply(
        new_logp,
        entropy,
        new_values,
        old_logp,
        adv,
        ret,
        old_values,
        cfg.clip_coef,
        cfg.vf_clip_coef,
        cfg.vf_coef,
        cfg.ent_coef,
    )

"""The PPO loss over one micro-batch, with its gradient written out (one pass each way).

Clipped surrogate (Schulman et al. 2017, eq. 7), clipped value loss and entropy bonus, as
``Trainer`` computed them with autograd, and the same numbers forward. Autograd records
some 40 small elementwise nodes for this and walks them backward; here the forward also
forms the two per-element derivatives, and the backward only scales them. Ties of the
``max`` terms split the gradient in halves and the clips pass it inside their closed
range, as torch's ``maximum`` and ``clamp`` backwards do.

``DiscretePPOLoss`` goes one step further for a single categorical action (every game
here): it takes the decoder's raw output (the logits and the value in one row) and does
the log-softmax, the action's log-probability and the entropy itself, in a (k, N) layout
where each op runs along the batch (torch's softmax over 3 logits per row runs along the
row, several times slower on a CPU), and its backward writes the gradient of that one
output tensor: no log-softmax, gather, entropy or column-slice nodes in the graph.
"""

from __future__ import annotations

import torch

# The statistics ``PPOLoss`` returns, in order (the loss itself first).
STATS = ("loss", "policy", "value", "entropy", "approx_kl", "clipfrac", "importance")


def _max_weight(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """d max(a, b) / da as torch's backward has it: 1 where a > b, 0.5 on ties, else 0."""
    return torch.where(a == b, 0.5, (a > b).to(a.dtype))


def _terms(
    new_logp, entropy, new_values, old_logp, adv, ret, old_values, clip, vf_clip, vf_coef, ent_coef
):
    """(loss, stats, ratio, d_logp, d_values): the loss, its statistics, and the
    per-element derivatives of the summed loss terms (before the 1/N of the means)."""
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
    w = _max_weight(pg_a, pg_b)
    inside = ((ratio >= 1 - clip) & (ratio <= 1 + clip)).to(ratio.dtype)
    d_logp = -adv * (w + (1 - w) * inside) * ratio
    w = _max_weight(sq_a, sq_b)
    inside = ((dv >= -vf_clip) & (dv <= vf_clip)).to(dv.dtype)
    d_values = vf_coef * (w * err_a + (1 - w) * err_b * inside)
    return loss, stats, ratio, d_logp, d_values


class PPOLoss(torch.autograd.Function):
    """``apply(new_logp, entropy, new_values, old_logp, adv, ret, old_values, clip,
    vf_clip, vf_coef, ent_coef)`` -> (loss, stats, ratio); stats and ratio carry no
    gradient. Tensors share one shape; ``adv`` is the normalized, weighted advantage."""

    @staticmethod
    def forward(ctx, new_logp, entropy, new_values, *rest):
        loss, stats, ratio, d_logp, d_values = _terms(new_logp, entropy, new_values, *rest)
        ctx.save_for_backward(d_logp, d_values)
        ctx.ent_coef = rest[-1]
        ctx.mark_non_differentiable(stats, ratio)
        return loss, stats, ratio

    @staticmethod
    def backward(ctx, grad_loss, _grad_stats, _grad_ratio):
        d_logp, d_values = ctx.saved_tensors
        scale = grad_loss / d_logp.numel()
        d_entropy = (-ctx.ent_coef * scale).expand(d_logp.shape)
        return d_logp * scale, d_entropy, d_values * scale, *([None] * 8)


class DiscretePPOLoss(torch.autograd.Function):
    """``apply(out, actions, old_logp, adv, ret, old_values, clip, vf_clip, vf_coef,
    ent_coef)`` -> (loss, stats, ratio) from the decoder's output ``out`` (N, k + 1):
    k logits of one categorical action, then the value. ``actions`` (N,) int64, the rest
    (N,). The same numbers as ``PPOLoss`` over ``log_softmax``, ``gather`` and the entropy,
    to rounding; the gradient is that of ``out``."""

    @staticmethod
    def forward(ctx, out, actions, old_logp, adv, ret, old_values, *coefs):
        logits = out[:, :-1].t().contiguous()  # (k, N): every op below runs along N
        shifted = logits - logits.amax(0)
        e = shifted.exp()
        total = e.sum(0)
        logp_all = shifted - total.log()
        p = e / total
        new_logp = logp_all.gather(0, actions.unsqueeze(0)).squeeze(0)
        entropy = -(p * logp_all).sum(0)
        loss, stats, ratio, d_logp, d_values = _terms(
            new_logp, entropy, out[:, -1], old_logp, adv, ret, old_values, *coefs
        )
        ctx.save_for_backward(p, logp_all, entropy, actions, d_logp, d_values)
        ctx.ent_coef = coefs[-1]
        ctx.mark_non_differentiable(stats, ratio)
        return loss, stats, ratio

    @staticmethod
    def backward(ctx, grad_loss, _grad_stats, _grad_ratio):
        p, logp_all, entropy, actions, d_logp, d_values = ctx.saved_tensors
        scale = grad_loss / d_logp.numel()
        g_logp = d_logp * scale
        g_ent = -ctx.ent_coef * scale
        # d log p_a / dz = onehot(a) - p;  d H / dz = -p (log p + H).
        gz = -p * (g_logp + g_ent * (logp_all + entropy))
        gz.scatter_add_(0, actions.unsqueeze(0), g_logp.unsqueeze(0))
        grad = torch.empty((p.shape[1], p.shape[0] + 1), dtype=p.dtype, device=p.device)
        grad[:, :-1] = gz.t()
        grad[:, -1] = d_values * scale
        return grad, *([None] * 9)


def _coefs(cfg) -> tuple[float, float, float, float]:
    return cfg.clip_coef, cfg.vf_clip_coef, cfg.vf_coef, cfg.ent_coef


def ppo_loss(new_logp, entropy, new_values, old_logp, adv, ret, old_values, cfg):
    """(loss, stats in ``STATS`` order, ratio) for ``cfg``'s clip and coefficients."""
    return PPOLoss.apply(
        new_logp, entropy, new_values, old_logp, adv, ret, old_values, *_coefs(cfg)
    )


def discrete_ppo_loss(out, actions, old_logp, adv, ret, old_values, cfg):
    """``ppo_loss`` from the decoder's output (logits of one categorical action, then
    the value); tensors other than ``out`` flat (N,)."""
    return DiscretePPOLoss.apply(out, actions, old_logp, adv, ret, old_values, *_coefs(cfg))

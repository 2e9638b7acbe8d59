"""The PPO loss with its written-out gradient against the same loss through autograd."""

import pytest
import torch

from workbench.ppo.config import make_config
from workbench.ppo.loss import discrete_ppo_loss, ppo_loss

CFG = make_config("bandit", clip_coef=0.2, vf_clip_coef=0.2, vf_coef=2.0, ent_coef=0.01)


def reference(new_logp, entropy, new_values, old_logp, adv, ret, old_v, cfg):
    """The loss as ``Trainer`` wrote it with autograd before (CleanRL's form)."""
    logratio = new_logp - old_logp
    ratio = logratio.exp()
    pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef))
    v_clipped = old_v + (new_values - old_v).clamp(-cfg.vf_clip_coef, cfg.vf_clip_coef)
    v_loss = 0.5 * torch.max((new_values - ret) ** 2, (v_clipped - ret) ** 2)
    loss = pg.mean() + cfg.vf_coef * v_loss.mean() - cfg.ent_coef * entropy.mean()
    stats = [
        loss,
        pg.mean(),
        v_loss.mean(),
        entropy.mean(),
        ((ratio - 1) - logratio).mean(),
        ((ratio - 1).abs() > cfg.clip_coef).float().mean(),
        ratio.mean(),
    ]
    return loss, torch.stack(stats).detach(), ratio.detach()


def inputs(seed, shape=(6, 9)):
    gen = torch.Generator().manual_seed(seed)

    def r(scale=1.0):
        return torch.randn(shape, generator=gen) * scale

    new_logp, old_logp = r(0.3) - 1, r(0.3) - 1
    new_values, old_v = r(), r()
    # Ties and clip edges: equal log-probs (ratio 1, the max terms tie), zero advantages,
    # values exactly at the clip distance.
    new_logp[0] = old_logp[0]
    adv = r()
    adv[1] = 0.0
    new_values[2] = old_v[2] + 0.2
    return [new_logp, r().abs(), new_values, old_logp, adv, r(), old_v]


@pytest.mark.parametrize("seed", range(5))
def test_loss_and_gradient_equal_autograd(seed):
    grads, outs = [], []
    for fn in (reference, ppo_loss):
        args = [x.clone().requires_grad_(k < 3) for k, x in enumerate(inputs(seed))]
        loss, stats, ratio = fn(*args, CFG)
        (loss * 0.7).backward()
        outs.append((loss.detach(), stats, ratio))
        grads.append([a.grad for a in args[:3]])
    (ref_loss, ref_stats, ref_ratio), (loss, stats, ratio) = outs
    assert torch.equal(loss, ref_loss) and torch.equal(stats, ref_stats)
    assert torch.equal(ratio, ref_ratio)
    for name, a, b in zip(("logp", "entropy", "values"), *grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-8), name


def test_stats_and_ratio_carry_no_gradient():
    args = [x.requires_grad_(k < 3) for k, x in enumerate(inputs(0))]
    loss, stats, ratio = ppo_loss(*args, CFG)
    assert loss.requires_grad and not stats.requires_grad and not ratio.requires_grad


def discrete_reference(out, actions, old_logp, adv, ret, old_v, cfg):
    """The same loss through the action head's autograd path (log-softmax, gather)."""
    logp = torch.log_softmax(out[:, :-1], dim=-1)
    new_logp = logp.gather(-1, actions[:, None]).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
    return reference(new_logp, entropy, out[:, -1], old_logp, adv, ret, old_v, cfg)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [2, 3, 9])
def test_discrete_loss_from_logits_equals_head_and_loss_through_autograd(seed, k):
    n = 6 * 9
    gen = torch.Generator().manual_seed(100 + seed)
    out = torch.randn(n, k + 1, generator=gen) * 2
    out[0, :-1] = 0.5  # equal logits: a uniform row
    actions = torch.randint(0, k, (n,), generator=gen)
    _, _, _, old_logp, adv, ret, old_v = (x.flatten() for x in inputs(seed))
    with torch.no_grad():  # ratios near 1 and some clipped, as in training
        ref_logp = torch.log_softmax(out[:, :-1], -1).gather(-1, actions[:, None]).squeeze(-1)
        old_logp = ref_logp + torch.randn(n, generator=gen) * 0.2
        old_logp[1] = ref_logp[1]
    grads, outs = [], []
    for fn in (discrete_reference, discrete_ppo_loss):
        o = out.clone().requires_grad_(True)
        loss, stats, ratio = fn(o, actions, old_logp, adv, ret, old_v, CFG)
        (loss * 0.7).backward()
        outs.append((loss.detach(), stats, ratio))
        grads.append(o.grad)
    for a, b in zip(*outs, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)
    assert torch.allclose(grads[0], grads[1], rtol=1e-5, atol=1e-8)
    assert grads[1][:, -1].abs().sum() > 0 and grads[1][:, :-1].abs().sum() > 0

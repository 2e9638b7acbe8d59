"""bf16 on the CPU: autocast for the update's network only, the fused loss kept, fp32 state."""

import pytest
import torch

from workbench.ppo.config import make_config
from workbench.ppo.loss import discrete_ppo_loss
from workbench.ppo.trainer import Trainer

# bfloat16 keeps 8 bits of mantissa: one rounding is ~0.4%, a network's outputs drift ~1%.
BF16_RTOL = 3e-2


def trainer(bf16: bool, rnn: bool) -> Trainer:
    # One minibatch of the whole batch: every figure below is of the same weights.
    cfg = make_config(
        "breakout",
        num_envs=16,
        bptt_horizon=16,
        minibatch_size=256,
        total_steps=10**6,
        hidden_size=64,
        rnn=rnn,
        bf16=bf16,
        seed=5,
    )
    return Trainer(cfg)


def fixed_batch(t: Trainer):
    n, horizon = t.rewards.shape
    gen = torch.Generator().manual_seed(0)
    idx = torch.arange(n)
    return idx, torch.randn(n, horizon, generator=gen), torch.randn(n, horizon, generator=gen)


def grads(t: Trainer) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in t.policy.parameters()])


@pytest.mark.parametrize("rnn", [False, True], ids=["mlp", "lstm"])
def test_bf16_and_fp32_updates_give_the_same_loss_on_a_fixed_batch(rnn):
    fp32, bf16 = trainer(False, rnn), trainer(True, rnn)
    for t in (fp32, bf16):
        assert t.rollout()
    # The rollout is not under autocast: the same fp32 forward, the same actions.
    for name in ("obs", "actions", "logprobs", "values", "rewards"):
        assert torch.equal(getattr(fp32, name), getattr(bf16, name)), name
    out = []
    for t in (fp32, bf16):
        loss, stats = t.minibatch_grads(*fixed_batch(t), None)
        out.append((loss, stats, grads(t)))
    (loss32, stats32, g32), (loss16, stats16, g16) = out
    assert loss16.dtype == torch.float64 and torch.isfinite(loss16)
    assert torch.allclose(loss16, loss32, rtol=BF16_RTOL, atol=1e-3)
    assert torch.allclose(stats16, stats32, rtol=BF16_RTOL, atol=1e-3)
    assert torch.nn.functional.cosine_similarity(g16, g32, dim=0) > 0.99
    assert not torch.equal(g16, g32)  # bf16 did run: its rounding shows


@pytest.mark.parametrize("rnn", [False, True], ids=["mlp", "lstm"])
def test_bf16_keeps_weights_and_optimizer_state_in_fp32(rnn):
    t = trainer(True, rnn)
    t.train_epoch()
    assert all(p.dtype == torch.float32 for p in t.policy.parameters())
    assert all(p.grad.dtype == torch.float32 for p in t.policy.parameters())
    for opt in t.optimizers:
        for state in opt.state.values():
            for value in state.values():
                if value.is_floating_point() and value.ndim:
                    assert value.dtype == torch.float32
    assert t.advantages.dtype == torch.float32


def autograd_loss(out, actions, old_logp, adv, ret, old_v, cfg):
    """The PPO loss of one categorical action, every op recorded by autograd."""
    logp = torch.log_softmax(out[:, :-1], dim=-1)
    new_logp = logp.gather(-1, actions[:, None]).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
    ratio = (new_logp - old_logp).exp()
    clip = cfg.clip_coef
    pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip))
    v = out[:, -1]
    v_clipped = old_v + (v - old_v).clamp(-cfg.vf_clip_coef, cfg.vf_clip_coef)
    v_loss = 0.5 * torch.max((v - ret) ** 2, (v_clipped - ret) ** 2)
    return pg.mean() + cfg.vf_coef * v_loss.mean() - cfg.ent_coef * entropy.mean()


@pytest.mark.parametrize("rnn", [False, True], ids=["mlp", "lstm"])
def test_fused_loss_under_autocast_matches_the_autograd_path(rnn):
    t = trainer(True, rnn)
    assert t.rollout()
    pol, cfg = t.policy, t.cfg
    _, adv, ret = fixed_batch(t)
    flat = [x.reshape(-1) for x in (t.logprobs, adv, ret, t.values[:, :-1])]
    actions = t.actions.reshape(-1)
    losses, param_grads = [], []
    for fused in (True, False):
        for p in pol.parameters():
            p.grad = None
        state = (t.h0, t.c0) if pol.recurrent else None
        with torch.autocast("cpu", torch.bfloat16):
            out = pol.forward_sequence(t.obs, state, t.starts, None, joint=True)
            assert out.dtype == torch.bfloat16  # autocast did take the network
            if fused:
                loss = discrete_ppo_loss(out.float(), actions, *flat, cfg)[0]
            else:
                loss = autograd_loss(out.float(), actions, *flat, cfg)
        assert loss.dtype == torch.float32
        loss.backward()
        losses.append(loss.detach())
        param_grads.append(torch.cat([p.grad.flatten() for p in pol.parameters()]))
    assert torch.allclose(losses[0], losses[1], rtol=1e-5, atol=1e-6)
    # Each backward rounds its gradient to bf16 at the network's output: to bf16 tolerance.
    assert torch.allclose(param_grads[0], param_grads[1], rtol=BF16_RTOL, atol=1e-4)
    assert torch.nn.functional.cosine_similarity(*param_grads, dim=0) > 0.999


@pytest.mark.parametrize("rnn", [False, True], ids=["mlp", "lstm"])
def test_bf16_rollout_samples_from_a_bf16_step_and_keeps_fp32_buffers(rnn):
    fp32 = trainer(False, rnn)
    both = Trainer(trainer(True, rnn).cfg.replace(bf16_rollout=True))
    alone = trainer(True, rnn)  # bf16 without bf16_rollout: the rollout stays fp32
    for t in (fp32, both, alone):
        assert t.rollout()
    assert torch.equal(alone.logprobs, fp32.logprobs)
    # The first step sees the same observations: its values differ by bf16 rounding only.
    v32, v16 = fp32.values[:, 0], both.values[:, 0]
    assert not torch.equal(v16, v32)
    assert torch.allclose(v16, v32, rtol=BF16_RTOL, atol=2e-2)
    assert both.values.dtype == both.logprobs.dtype == torch.float32
    if rnn:
        assert all(s.dtype == torch.float32 for s in both.state)
    row = both.train_epoch()
    assert torch.isfinite(torch.tensor(row["losses/value"]))

"""Policy pieces the update relies on: segment passes with episode starts, fused heads,
log-probabilities; each against a plain reference."""

import numpy as np
import pytest
import torch
from gymnasium import spaces

from workbench.ppo.policy import ActionHead, Policy

OBS = spaces.Box(-1.0, 1.0, (7,), np.float32)


def policy(act=None, rnn=True, hidden=16):
    return Policy(OBS, act or spaces.Discrete(3), hidden=hidden, rnn=rnn, seed=1)


def starts_at_random_columns(b, t, p, seed):
    gen = torch.Generator().manual_seed(seed)
    starts = (torch.rand(b, t, generator=gen) < p).float()
    starts[:, 0] = 0.0  # column 0's reset is already in the stored state
    return starts


def step_by_step(pol, obs, state, starts):
    """The rollout's view: one LSTMCell step per column, zeroing the state at a start."""
    h, c = state
    outs, values = [], []
    for k in range(obs.shape[1]):
        keep = (1.0 - starts[:, k])[:, None]
        out, value, (h, c) = pol.step(obs[:, k], (h * keep, c * keep))
        outs.append(out)
        values.append(value)
    return torch.stack(outs, 1).reshape(-1, outs[0].shape[-1]), torch.stack(values, 1)


@pytest.mark.parametrize("p", [0.0, 0.05, 0.3, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segment_pass_equals_step_by_step_with_starts_at_random_columns(p, seed):
    pol = policy()
    b, t = 9, 13
    gen = torch.Generator().manual_seed(100 + seed)
    obs = torch.randn(b, t, 7, generator=gen)
    state = (torch.randn(b, 16, generator=gen), torch.randn(b, 16, generator=gen))
    starts = starts_at_random_columns(b, t, p, seed)
    ref_out, ref_values = step_by_step(pol, obs, state, starts)
    out, values = pol.forward_sequence(obs, state, starts)
    assert torch.allclose(out, ref_out, atol=1e-6)
    assert torch.allclose(values, ref_values, atol=1e-6)
    # A superset of the cut columns (as host_cuts passes) changes nothing.
    out_all, values_all = pol.forward_sequence(obs, state, starts, cuts=list(range(t)))
    assert torch.allclose(out_all, ref_out, atol=1e-6)
    assert torch.allclose(values_all, ref_values, atol=1e-6)


def test_segment_pass_gradients_equal_step_by_step():
    pol = policy()
    b, t = 6, 11
    gen = torch.Generator().manual_seed(7)
    obs = torch.randn(b, t, 7, generator=gen)
    state = (torch.randn(b, 16, generator=gen), torch.randn(b, 16, generator=gen))
    starts = starts_at_random_columns(b, t, 0.25, 3)
    assert starts[:, 1:].any()

    def grads(fn):
        pol.zero_grad(set_to_none=True)
        out, values = fn(pol, obs, state, starts)
        (out.square().mean() + values.mean()).backward()
        return {n: p.grad.clone() for n, p in pol.named_parameters() if p.grad is not None}

    ref = grads(step_by_step)
    got = grads(lambda pol, *a: pol.forward_sequence(*a))
    assert ref.keys() == got.keys() and "lstm.weight_hh_l0" in got
    for name in ref:
        assert torch.allclose(got[name], ref[name], rtol=1e-5, atol=1e-7), name


def test_fused_heads_equal_separate_actor_and_critic():
    pol = policy(rnn=False)
    h = torch.randn(50, 16)
    out, value = pol.decode(h)
    assert torch.allclose(out, pol.actor(h), atol=1e-6)
    assert torch.allclose(value, pol.critic(h).squeeze(-1), atol=1e-6)


@pytest.mark.parametrize(
    "space",
    [spaces.Discrete(4), spaces.MultiDiscrete([3, 2, 5]), spaces.Box(-1.0, 1.0, (2,), np.float32)],
)
def test_logprob_entropy_is_logprob_and_entropy(space):
    head = ActionHead(space)
    out = torch.randn(40, head.out_dim)
    log_std = torch.full((head.out_dim,), -0.3) if head.kind == "gaussian" else None
    action, _ = head.sample(out, log_std, gen=torch.Generator().manual_seed(0))
    logp, ent = head.logprob_entropy(out, log_std, action)
    assert torch.equal(logp, head.logprob(out, log_std, action))
    assert torch.equal(ent, head.entropy(out, log_std))

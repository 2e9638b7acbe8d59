"""Trainer correctness: accumulation, LSTM state handling, truncation, determinism, NaN."""

import math

import numpy as np
import pytest
import torch

from workbench.ppo.config import make_config
from workbench.ppo.episodes import evaluate
from workbench.ppo.trainer import Trainer, clip_grad_norm


def trainer(env="bandit", **kw):
    base = dict(num_envs=32, bptt_horizon=16, minibatch_size=256, total_steps=10**6, seed=3)
    return Trainer(make_config(env, **{**base, **kw}))


def params(t):
    return torch.cat([p.detach().flatten() for p in t.policy.parameters()])


@pytest.mark.parametrize("optimizer", ["adam", "muon"])
@pytest.mark.parametrize("rnn", [False, True])
def test_gradient_accumulation_equals_full_minibatch(optimizer, rnn):
    # One minibatch of 32 segments: at once, or as micro-batches of 5+5+5+5+5+5+2.
    kw = dict(env="memory", optimizer=optimizer, rnn=rnn, minibatch_size=512)
    full = trainer(**kw, max_minibatch_size=512)
    accum = trainer(**kw, max_minibatch_size=80)
    for t in (full, accum):
        t.rollout()
    before = params(full)
    assert torch.equal(before, params(accum))
    full.update()
    accum.update()
    # After a single-minibatch update, .grad holds the accumulated (clipped) gradient.
    for (name, a), b in zip(full.policy.named_parameters(), accum.policy.parameters(), strict=True):
        assert a.grad.abs().max() > 0, name
        assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-7), name
    assert not torch.allclose(before, params(full))
    if optimizer == "adam":
        # Muon's Newton-Schulz step amplifies float-rounding directions of low-rank
        # gradients, so only the Adam update is compared parameter by parameter.
        assert torch.allclose(params(full), params(accum), atol=2e-5)


def test_accumulation_splits_into_micro_batches():
    t = trainer("memory", minibatch_size=512, max_minibatch_size=80)
    calls = []
    original = t.policy.forward_sequence
    t.policy.forward_sequence = lambda obs, *a, **kw: (
        calls.append(obs.shape[0]) or original(obs, *a, **kw)
    )
    t.rollout()
    t.update()
    assert calls == [5, 5, 5, 5, 5, 5, 2]


def test_training_pass_replays_the_rollout_exactly():
    # Episodes (5 steps) end inside segments of 16 and segments start mid-episode:
    # the full-sequence LSTM must reset where the rollout reset and start from the stored
    # state, so logprobs and values match the rollout's.
    t = trainer("memory", rnn=True, env_params={"delay": 4})
    t.rollout()
    t.update()
    t.rollout()  # second rollout: segments start from a carried (non-zero) state
    pol = t.policy
    assert t.starts[:, 1:].any() and t.h0.abs().sum() > 0
    n, horizon = t.logprobs.shape
    actions = t.actions.reshape(n * horizon)

    def replay(state, starts):
        with torch.no_grad():
            out, values = pol.forward_sequence(t.obs, state, starts)
            return pol.head.logprob(out, None, actions).reshape(n, horizon), values

    logp, values = replay((t.h0, t.c0), t.starts)
    assert torch.allclose(logp, t.logprobs, atol=1e-5)
    assert torch.allclose(values, t.values[:, :-1], atol=1e-5)
    # Ignoring resets, or starting from zeros, gives different numbers: the test can fail.
    logp_no_reset, _ = replay((t.h0, t.c0), None)
    zeros = torch.zeros_like(t.h0)
    logp_zero_start, _ = replay((zeros, zeros), t.starts)
    assert not torch.allclose(logp_no_reset, t.logprobs, atol=1e-4)
    assert not torch.allclose(logp_zero_start, t.logprobs, atol=1e-4)


def test_rollout_resets_hidden_state_of_finished_agents():
    t = trainer("bandit", rnn=True)  # every step ends an episode
    t.rollout()
    assert torch.all(t.starts[:, 1:] == 1)
    assert torch.count_nonzero(t.state[0]) == 0 and torch.count_nonzero(t.state[1]) == 0


@pytest.mark.parametrize("bootstrap,expected", [(True, 10.0), (False, 3.59)])
def test_truncation_bootstraps_from_the_final_value(bootstrap, expected):
    # Reward 1 per step, truncated every 8 steps, no clock in the observation, gamma 0.9:
    # V = 1/(1-gamma) = 10 with the bootstrap; treating truncation as terminal averages
    # (1 - 0.9^k)/0.1 over k = 1..8 steps left, about 3.59.
    t = trainer(
        "timelimit",
        rnn=False,
        gamma=0.9,
        gae_lambda=0.95,
        vf_clip_coef=100.0,
        learning_rate=0.01,
        optimizer="adam",
        truncation_bootstrap=bootstrap,
        num_envs=64,
        minibatch_size=512,
    )
    for _ in range(150):
        t.rollout()
        t.update()
    with torch.no_grad():
        v = t.policy.value(torch.ones(1, 1), None).item()
    assert v == pytest.approx(expected, rel=0.12)


def test_same_seed_same_curve():
    def losses(seed):
        t = trainer("memory", rnn=True, seed=seed)
        return [list(t.train_epoch().values()) for _ in range(3)]

    a, b, c = losses(1), losses(1), losses(2)

    def core(rows):  # drop timing and sps, which are wall-clock
        return [r[:2] + r[3:-5] for r in rows]

    assert core(a) == core(b)
    assert core(a) != core(c)


def test_nan_loss_is_detected_before_the_weights_change():
    t = trainer("bandit", rnn=False)
    with torch.no_grad():
        t.policy.critic.weight.fill_(math.nan)
    t.rollout()
    actor_before = t.policy.actor.weight.detach().clone()
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 0"):
        t.update()
    assert torch.equal(t.policy.actor.weight, actor_before)


def test_evaluate_counts_each_agents_first_episode():
    t = trainer("memory", rnn=True, num_envs=16)
    result = evaluate(t.policy, t.env)
    assert result["episodes"] == 16 and result["n"] == pytest.approx(16)
    assert result["unfinished"] == 0
    assert all(type(v) in (int, float) for v in result.values())  # plain numbers, no numpy
    assert result["steps"] == 4 + 1  # delay 4: every first episode is 5 steps
    assert 0.0 <= result["perf"] <= 1.0


def test_continuous_actions_train():
    t = trainer("breakout", num_envs=8, minibatch_size=128, env_params={"continuous": True})
    row = t.train_epoch()
    assert np.isfinite(row["losses/policy"]) and t.actions.dtype == torch.float32


def test_update_phases_add_up_to_the_learn_timing():
    t = trainer("memory", rnn=True, update_epochs=2)
    row = t.train_epoch()
    phases = t.timer.phases
    assert all(phases[k] > 0 for k in ("advantage", "loss", "backward", "optimizer"))
    learn = sum(phases[k] for k in ("learn", "advantage", "loss", "backward", "optimizer"))
    assert row["timing/learn"] == pytest.approx(learn)
    assert set(k for k in row if k.startswith("timing/")) == {
        "timing/env",
        "timing/forward",
        "timing/copy",
        "timing/learn",
        "timing/misc",
    }


@pytest.mark.parametrize("max_norm", [0.05, 1e9])
def test_clip_grad_norm_equals_torchs(max_norm):
    gen = torch.Generator().manual_seed(0)
    shapes = [(16, 9), (16,), (4, 16), (4,), (3,)]
    ours, theirs = ([torch.zeros(s, requires_grad=True) for s in shapes] for _ in range(2))
    for a, b in zip(ours[:-1], theirs[:-1], strict=True):  # the last has no gradient
        a.grad = torch.randn(a.shape, generator=gen)
        b.grad = a.grad.clone()
    total = clip_grad_norm(ours, max_norm)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, foreach=True)
    assert torch.equal(total, expected)
    for a, b in zip(ours[:-1], theirs[:-1], strict=True):
        assert torch.equal(a.grad, b.grad)
    assert ours[-1].grad is None


def test_recomputing_only_the_last_minibatchs_rows_equals_recomputing_all():
    # After each minibatch only its segments' ratios change, so only their advantages
    # and priorities are recomputed: the same numbers as recomputing every row.
    runs = []
    for incremental in (True, False):
        t = trainer("memory", rnn=True, minibatch_size=128, update_epochs=3, seed=4)
        if not incremental:
            full_adv, full_probs = t._advantages, t._segment_probs
            t._advantages = lambda rows=None, f=full_adv: f()
            t._segment_probs = lambda rows=None, f=full_probs: f()
        logs = [t.train_epoch() for _ in range(2)]
        runs.append((t, logs))
    (a, logs_a), (b, logs_b) = runs
    assert a.cfg.num_minibatches() * a.cfg.update_epochs > 1 and a.cfg.prio_alpha > 0
    assert torch.equal(a.advantages, b.advantages)
    for p, q in zip(a.policy.parameters(), b.policy.parameters(), strict=True):
        assert torch.equal(p, q)
    drop = ("timing/", "sps", "wall_time")
    for x, y in zip(logs_a, logs_b, strict=True):
        assert {k: v for k, v in x.items() if not k.startswith(drop)} == {
            k: v for k, v in y.items() if not k.startswith(drop)
        }

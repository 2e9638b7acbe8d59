"""The rollout's C kernels (cy_rollout.pyx) against the torch code they replace on the CPU:
sampling a categorical action, and recording rewards and done flags."""

import numpy as np
import pytest
import torch
from gymnasium import spaces

from workbench.ppo import cy_rollout
from workbench.ppo.config import make_config
from workbench.ppo.policy import ActionHead
from workbench.ppo.trainer import Trainer


@pytest.mark.parametrize("k", [2, 3, 7])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_sampling_in_c_equals_the_action_head(k, dtype):
    n, horizon, t = 257, 5, 3
    gen = torch.Generator().manual_seed(k)
    out = torch.randn(n, k + 1, generator=gen) * 3
    out[:5, :k] = 1.0  # equal logits
    head = ActionHead(spaces.Discrete(k))
    noise = head.noise(n, "cpu", torch.float32, gen)
    noise[0][:3] = torch.tensor([0.0, 1.0 - 2**-24, 0.5])  # the ends of [0, 1), a boundary
    action, logp = head.sample(out[:, :-1], None, noise=noise)

    # Destinations as the trainer has them: one column of (agents, horizon) buffers.
    actions = np.zeros((n, horizon), dtype=dtype)
    logprobs = np.zeros((n, horizon), dtype=np.float32)
    values = np.zeros((n, horizon + 1), dtype=np.float32)
    env_actions = np.full(n, -1, dtype=dtype)
    cy_rollout.sample_categorical(
        out.numpy(), noise[0].numpy(), actions[:, t], logprobs[:, t], values[:, t], env_actions
    )
    assert np.array_equal(actions[:, t], action.numpy())
    assert np.array_equal(env_actions, action.numpy())
    assert np.allclose(logprobs[:, t], logp.numpy(), rtol=0, atol=1e-6)
    assert np.array_equal(values[:, t], out[:, -1].numpy())
    others = np.delete(np.arange(horizon), t)
    assert not actions[:, others].any() and not logprobs[:, others].any()


def test_sampling_in_c_rejects_mismatched_buffers():
    out = np.zeros((4, 4), dtype=np.float32)
    one = np.zeros(4, dtype=np.int32)
    f = np.zeros(4, dtype=np.float32)
    with pytest.raises(ValueError, match="uniform must have 4 rows"):
        cy_rollout.sample_categorical(out, f[:2], one, f, f, one)
    with pytest.raises(ValueError, match="logprobs must have 4 rows"):
        cy_rollout.sample_categorical(out, f, one, f[:3], f, one)


@pytest.mark.parametrize("path", ["c", "torch"])
def test_sampling_draws_the_softmax_distribution(path):
    n, probs = 200_000, torch.tensor([0.05, 0.6, 0.0001, 0.3499])
    out = torch.cat([probs.log().expand(n, 4) + 1.7, torch.zeros(n, 1)], 1).contiguous()
    u = torch.rand(n, generator=torch.Generator().manual_seed(0))
    if path == "c":
        actions, logp = np.zeros(n, np.int64), np.zeros(n, np.float32)
        values, env = np.zeros(n, np.float32), np.zeros(n, np.int64)
        cy_rollout.sample_categorical(out.numpy(), u.numpy(), actions, logp, values, env)
        actions, logp = torch.from_numpy(actions), torch.from_numpy(logp)
    else:
        actions, logp = ActionHead(spaces.Discrete(4)).sample(out[:, :-1], None, noise=[u])
    freq = torch.bincount(actions, minlength=4) / n
    assert torch.allclose(freq, probs, atol=4 * (0.25 / n) ** 0.5)  # 4 standard errors
    assert torch.allclose(logp, probs.log()[actions], atol=1e-5)


@pytest.mark.parametrize("clip", [0.0, 1.0])
def test_recording_in_c_clips_rewards_and_flags_dones(clip):
    rewards = np.array([0.5, -3.0, 2.0, 1.0], dtype=np.float32)
    terminals = np.array([0, 1, 0, 0], dtype=np.uint8)
    truncations = np.array([0, 0, 0, 1], dtype=np.uint8)
    buf_r = np.zeros((4, 3), dtype=np.float32)
    buf_d = np.full((4, 3), 7.0, dtype=np.float32)
    ended = cy_rollout.record_step(rewards, terminals, truncations, buf_r[:, 1], buf_d[:, 1], clip)
    expected = np.clip(rewards, -clip, clip) if clip else rewards
    assert np.array_equal(buf_r[:, 1], expected)
    assert np.array_equal(buf_d[:, 1], [0, 1, 0, 1])
    assert ended is True
    none = truncations * 0
    assert cy_rollout.record_step(rewards, none, none, buf_r[:, 2], buf_d[:, 2], 0) is False
    assert cy_rollout.record_step(rewards, terminals, none, buf_r[:, 2], buf_d[:, 2], 0) is True
    assert cy_rollout.record_step(rewards, none, truncations, buf_r[:, 2], buf_d[:, 2], 0) is True
    assert (buf_d[:, 0] == 7.0).all()  # other columns untouched


@pytest.mark.parametrize("env, ends", [("timelimit", True), ("memory", True), ("breakout", False)])
def test_trainer_rollout_in_c_equals_the_torch_rollout(env, ends):
    # Episodes end (and, in timelimit, are truncated and bootstrapped) inside the rollout.
    kw = dict(num_envs=16, bptt_horizon=32, minibatch_size=256, total_steps=10**6, seed=5)
    runs = []
    for fast in (True, False):
        t = Trainer(make_config(env, reward_clip=0.5, **kw))
        assert t._host_sample is not None  # the C path is what the CPU takes
        if not fast:
            t._host_sample = None
        for _ in range(2):
            t.rollout()
            t.update()  # the second rollout samples from an updated policy
        runs.append(t)
    a, b = runs
    assert torch.equal(a.actions, b.actions)
    assert torch.equal(a.dones, b.dones) and bool(a.dones.any()) == ends
    for name in ("logprobs", "values", "rewards"):
        assert torch.allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-5), name
    assert torch.equal(torch.from_numpy(a.env.actions), torch.from_numpy(b.env.actions))

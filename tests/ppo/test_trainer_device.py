"""The trainer's device code paths, exercised on the CPU: no reads from the device inside the
update, the checks-free segment sampler, shared sampling noise, threaded and double-buffered
rollouts, and the GPU-only flags (bf16, torch.compile) wired behind their config fields."""

import sys
import threading

import pytest
import torch
from gymnasium import spaces

import workbench
from workbench.ppo import advantage
from workbench.ppo.config import ConfigError, make_config
from workbench.ppo.policy import ActionHead
from workbench.ppo.trainer import Trainer, sample_without_replacement


def trainer(env="memory", **kw):
    base = dict(num_envs=32, bptt_horizon=16, minibatch_size=256, total_steps=10**6, seed=3)
    return Trainer(make_config(env, **{**base, **kw}))


def core(row):  # a metric row without wall-clock figures
    return {k: v for k, v in row.items() if not k.startswith("timing/") and k != "sps"}


# -- the update reads from the device only where it must --


class _Reads:
    """Counts host reads of tensor values (bool, float, item, tolist) made by workbench.ppo."""

    def __init__(self, monkeypatch):
        self.calls = []
        for name in ("__bool__", "__float__", "item", "tolist"):
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._wrap(name, original))

    def _wrap(self, name, original):
        def read(tensor, *args):
            caller = sys._getframe(1).f_code.co_filename.replace("\\", "/")
            if "/workbench/ppo/" in caller:
                self.calls.append(name)
            return original(tensor, *args)

        return read


@pytest.mark.parametrize("rnn", [False, True])
def test_update_reads_one_flag_per_minibatch_and_the_statistics_once(monkeypatch, rnn):
    t = trainer(rnn=rnn, update_epochs=2, minibatch_size=128, max_minibatch_size=64)
    t.host_cuts = True  # as on a GPU: LSTM pieces from the rollout's host-side done flags
    t.rollout()
    reads = _Reads(monkeypatch)
    t.update()
    minibatches = 2 * (32 * 16 // 128)
    assert reads.calls == ["__bool__"] * minibatches + ["tolist"]


def test_host_cuts_train_like_the_minibatch_cuts():
    # A cut where no segment of the micro-batch starts leaves the LSTM state as it is.
    a, b = trainer(rnn=True), trainer(rnn=True)
    b.host_cuts = True
    for _ in range(3):
        ra, rb = core(a.train_epoch()), core(b.train_epoch())
    assert ra.keys() == rb.keys()
    for key in ra:
        assert ra[key] == pytest.approx(rb[key], rel=1e-3, abs=1e-5), key


@pytest.mark.parametrize("k", [1, 5, 31])
def test_segment_sampler_draws_what_multinomial_draws(k):
    probs = torch.rand(32, generator=torch.Generator().manual_seed(k)) ** 3
    probs /= probs.sum()
    ours = sample_without_replacement(probs, k, torch.Generator().manual_seed(7))
    theirs = torch.multinomial(
        probs, k, replacement=False, generator=torch.Generator().manual_seed(7)
    )
    assert torch.equal(ours.flatten(), theirs)


def test_bad_priorities_fall_back_to_uniform_on_the_device():
    t = trainer("bandit")
    t.advantages.fill_(float("nan"))
    assert torch.equal(t._segment_probs(), torch.full((32,), 1 / 32))
    t.advantages.zero_()
    assert torch.equal(t._segment_probs(), torch.full((32,), 1 / 32))


def test_advantage_backend_is_chosen_by_device_in_one_place(monkeypatch):
    assert advantage.backend_for("cpu") == "cpu"
    monkeypatch.setattr(advantage, "_triton_available", lambda: True)
    assert advantage.backend_for("cuda:0") == "triton"
    monkeypatch.setattr(advantage, "_triton_available", lambda: False)
    assert advantage.backend_for("cuda") == "torch"
    with pytest.raises(ValueError, match=r"backend must be one of cpu, triton, torch"):
        advantage.segment_priorities(torch.zeros(2, 3), 0.5, backend="cuda")


def test_torch_backend_matches_the_compiled_kernel():
    g = torch.Generator().manual_seed(0)
    values, rewards = torch.randn(40, 17, generator=g), torch.randn(40, 16, generator=g)
    dones = (torch.rand(40, 16, generator=g) < 0.1).float()
    ratio = 0.5 + torch.rand(40, 16, generator=g)
    out = [torch.zeros(40, 16) for _ in range(2)]
    for o, name in zip(out, ("cpu", "torch"), strict=True):
        advantage.compute_advantage(
            values, rewards, dones, ratio, o, 0.99, 0.9, 1.0, 1.0, backend=name
        )
    torch.testing.assert_close(out[0], out[1], rtol=1e-5, atol=1e-5)


# -- sampling noise drawn once per step, shared by parts of the batch --


@pytest.mark.parametrize(
    "space",
    [
        spaces.Discrete(5),
        spaces.MultiDiscrete([3, 4]),
        spaces.Box(-1, 1, (2,)),
    ],
    ids=["discrete", "multidiscrete", "box"],
)
def test_noise_rows_sample_like_one_full_batch(space):
    head = ActionHead(space)
    out = torch.randn(10, head.out_dim)
    log_std = torch.zeros(head.out_dim) if head.kind == "gaussian" else None
    full = head.sample(out, log_std, torch.Generator().manual_seed(1))
    noise = head.noise(10, "cpu", torch.float32, torch.Generator().manual_seed(1))
    halves = [
        head.sample(out[r], log_std, noise=[z[r] for z in noise])
        for r in (slice(0, 4), slice(4, 10))
    ]
    assert torch.equal(full[0], torch.cat([h[0] for h in halves]))
    assert torch.equal(full[1], torch.cat([h[1] for h in halves]))


# -- threaded and double-buffered rollouts --


def test_env_threads_give_the_same_curve():
    a, b = trainer("breakout", rnn=True), trainer("breakout", rnn=True, env_threads=3)
    assert b.env.slices == 3
    for _ in range(2):
        assert core(a.train_epoch()) == core(b.train_epoch())


def _blind(t):
    # Actor and critic ignore the observation (zero weights: sums of exact zeros), so the
    # actions depend only on the sampling noise, whatever the batch-size rounding.
    with torch.no_grad():
        t.policy.actor.weight.zero_()
        t.policy.critic.weight.zero_()
        t.policy.actor.bias.copy_(torch.linspace(-1, 1, t.policy.actor.bias.numel()))
    return t


@pytest.mark.parametrize(
    ("env", "kw"),
    [
        ("breakout", dict(rnn=True)),
        ("timelimit", dict(rnn=True)),  # truncations bootstrapped from half-batch states
        (
            "snake",
            dict(
                rnn=False,
                num_envs=4,
                env_params=dict(num_snakes=8, num_food=16, width=24, height=24),
            ),
        ),
    ],
)
def test_double_buffered_rollout_equals_the_serial_one_for_the_same_actions(env, kw):
    serial = _blind(trainer(env, **kw))
    double = _blind(trainer(env, double_buffer=True, env_threads=2 if env != "snake" else 1, **kw))
    for _ in range(2):
        serial.rollout()
        double.rollout()
        for name in ("obs", "actions", "rewards", "dones", "starts", "logprobs", "values"):
            assert torch.equal(getattr(serial, name), getattr(double, name)), name
        if serial.state is not None:
            torch.testing.assert_close(serial.state, double.state, rtol=1e-5, atol=1e-6)


def test_double_buffered_rollout_replays_exactly_in_training():
    # Episodes end inside segments in both halves: the LSTM state each half carries, and
    # resets, must be what the full-sequence pass recomputes.
    t = trainer("memory", rnn=True, double_buffer=True, env_params={"delay": 4})
    t.rollout()
    t.update()
    t.rollout()
    assert t.starts[:, 1:].any() and t.h0.abs().sum() > 0
    n, horizon = t.logprobs.shape
    with torch.no_grad():
        out, values = t.policy.forward_sequence(t.obs, (t.h0, t.c0), t.starts)
        logp = t.policy.head.logprob(out, None, t.actions.reshape(n * horizon))
    assert torch.allclose(logp.reshape(n, horizon), t.logprobs, atol=1e-5)
    assert torch.allclose(values, t.values[:, :-1], atol=1e-5)


def test_double_buffered_training_learns(tmp_path):
    run = workbench.train(
        "bandit",
        num_envs=64,
        bptt_horizon=16,
        minibatch_size=512,
        learning_rate=0.01,
        total_steps=40_000,
        rnn=False,
        double_buffer=True,
        eval_episodes=64,
        store=tmp_path / "wb.db",
    )
    assert run.status == "finished"
    assert run.summary["eval/perf"] >= 0.9  # chance is 0.25


def test_a_stop_mid_rollout_leaves_no_env_step_running():
    t = trainer("breakout", double_buffer=True)
    stop = threading.Event()
    calls = []
    original = t._act

    def act(step, rows, noise):
        calls.append(step)
        if len(calls) == 5:
            stop.set()
        original(step, rows, noise)

    t._act = act
    assert t.rollout(stop) is False
    assert t._stepper.submit(lambda: "idle").result() == "idle"


# -- configuration --


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        (dict(env_threads=0), r"env_threads must be > 0"),
        (dict(env_threads=5, num_envs=4), r"env_threads=5 needs 5 env copies.*env_threads <= 4"),
        (
            dict(env_threads=3, double_buffer=True, num_envs=4),
            r"env_threads=3 with double_buffer .* needs 6 env copies.*env_threads <= 2",
        ),
        (dict(env_params={"slices": 2}), r"set env_threads as a training field"),
        (dict(env="gym:CartPole-v1", double_buffer=True), r"steps all its copies in one piece"),
    ],
)
def test_bad_thread_configs_name_the_fix(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make_config("pong", **overrides)


def test_double_buffer_needs_an_env_in_halves():
    env = workbench.make("bandit", num_envs=8)
    with pytest.raises(ValueError, match=r"slices = 2 \* env_threads"):
        Trainer(make_config("bandit", num_envs=8, minibatch_size=64, double_buffer=True), env=env)


# -- GPU speedups behind flags, default off --


@pytest.mark.parametrize("rnn", [False, True])
def test_bf16_autocast_trains_when_asked(rnn):
    t = trainer(rnn=rnn, bf16=True)
    before = torch.cat([p.detach().flatten() for p in t.policy.parameters()])
    rows = [t.train_epoch() for _ in range(2)]
    after = torch.cat([p.detach().flatten() for p in t.policy.parameters()])
    assert all(torch.isfinite(torch.tensor(r["losses/value"])) for r in rows)
    assert not torch.equal(before, after)


def test_compile_rollout_compiles_only_the_rollout_step(monkeypatch):
    compiled = []

    def fake_compile(fn, **kw):
        compiled.append(fn)
        return fn

    monkeypatch.setattr(torch, "compile", fake_compile)
    trainer("bandit", rnn=False)
    assert compiled == []
    t = trainer("bandit", rnn=False, compile_rollout=True)
    assert compiled == [t.policy.step]
    t.train_epoch()

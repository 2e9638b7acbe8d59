"""TrainConfig: defaults, layering, and a clear error for every bad value."""

import dataclasses

import pytest

from workbench.ppo.config import ConfigError, TrainConfig, env_overrides, field_docs, make_config


def test_defaults_match_the_reference():
    c = TrainConfig()
    assert (c.optimizer, c.learning_rate, c.gamma, c.gae_lambda) == ("muon", 0.015, 0.995, 0.90)
    assert (c.update_epochs, c.clip_coef, c.vf_coef, c.vf_clip_coef) == (1, 0.2, 2.0, 0.2)
    assert (c.max_grad_norm, c.ent_coef, c.bptt_horizon) == (1.5, 0.001, 64)
    assert (c.minibatch_size, c.max_minibatch_size) == (8192, 0)  # 0: automatic
    assert (c.vtrace_rho_clip, c.vtrace_c_clip, c.prio_alpha, c.prio_beta0) == (1, 1, 0.8, 0.2)
    assert c.anneal_lr is False


def test_every_field_has_a_one_line_docstring():
    docs = field_docs()
    for f in dataclasses.fields(TrainConfig):
        assert docs.get(f.name), f"{f.name} has no docstring"
        assert "\n" not in docs[f.name]


def test_env_toml_layers_under_keyword_overrides():
    layered = env_overrides("breakout")
    assert layered and "env_params" in layered
    cfg = make_config("breakout")
    for key, value in layered.items():
        assert getattr(cfg, key) == value
    cfg = make_config("breakout", num_envs=128, env_params={"frameskip": 2})
    assert cfg.num_envs == 128 and cfg.env_params["frameskip"] == 2
    assert make_config("bandit").num_envs == TrainConfig.num_envs  # no TOML: defaults


def test_a_derived_limit_never_rejects_a_config_the_user_wrote():
    # The user set none of max_minibatch_size: its automatic value follows the horizon.
    cfg = make_config("breakout", num_envs=5, bptt_horizon=80, minibatch_size=400)
    assert cfg.max_minibatch_size == 0
    assert cfg.micro_batch_size(sample_bytes=1000) == 400  # fits: the whole minibatch
    assert cfg.micro_batch_size(sample_bytes=(1 << 30) // 100) == 80  # never below a segment
    big = make_config("breakout", bptt_horizon=80, minibatch_size=40960, num_envs=512)
    micro = big.micro_batch_size(sample_bytes=(1 << 30) // 10_000)
    assert micro % 80 == 0 and micro <= 10_000 < micro + 80
    assert make_config("bandit", max_minibatch_size=512).micro_batch_size(10**9) == 512


def test_the_odd_sized_example_trains(tmp_path):
    import workbench

    run = workbench.train(
        "breakout",
        num_envs=5,
        bptt_horizon=80,
        minibatch_size=400,
        total_steps=1200,
        eval_episodes=4,
        store=tmp_path / "wb.db",
    )
    assert run.status == "finished" and run.summary["agent_steps"] == 1200


def test_non_power_of_two_shapes_are_fine():
    cfg = make_config(
        "bandit", num_envs=640, bptt_horizon=80, minibatch_size=8160, max_minibatch_size=4080
    )
    assert cfg.batch_size() == 51200 and cfg.num_minibatches() == 6


@pytest.mark.parametrize(
    "overrides,pattern",
    [
        (
            dict(minibatch_size=8192, bptt_horizon=80),
            r"minibatch_size=8192 must be a multiple of bptt_horizon=80.*8160 or 8240",
        ),
        (
            dict(max_minibatch_size=100, bptt_horizon=64),
            r"max_minibatch_size=100 must be a multiple of bptt_horizon=64.*64 or 128",
        ),
        (
            dict(num_envs=4, bptt_horizon=64, minibatch_size=512),
            r"minibatch_size=512 exceeds the batch: 4 agents x bptt_horizon=64 = 256",
        ),
        (dict(learning_rate=0.0), r"learning_rate must be > 0, got 0.0"),
        (dict(learning_rate=-1e-3), r"learning_rate must be > 0"),
        (dict(learning_rate=float("nan")), r"learning_rate must be finite"),
        (dict(gamma=0.0), r"gamma must be in \(0.0, 1.0\], got 0.0"),
        (dict(gamma=1.5), r"gamma must be in \(0.0, 1.0\], got 1.5"),
        (dict(gae_lambda=-0.1), r"gae_lambda must be in \[0.0, 1.0\]"),
        (dict(prio_beta0=2.0), r"prio_beta0 must be in \[0.0, 1.0\]"),
        (dict(update_epochs=0), r"update_epochs must be > 0"),
        (dict(num_envs=0), r"num_envs must be > 0"),
        (dict(ent_coef=-0.1), r"ent_coef must be >= 0"),
        (dict(optimizer="sgd"), r"optimizer must be 'muon' or 'adam', got 'sgd'"),
        (dict(device="tpu"), r"device must be 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
        (dict(num_envs="8"), r"num_envs must be int, got '8' \(str\)"),
        (dict(rnn=1), r"rnn must be bool, got 1"),
        (dict(learning_rat=0.1), r"unknown config field 'learning_rat'.*'learning_rate'"),
        (dict(env="pongg"), r"unknown env 'pongg'"),
        (dict(env_params={"frameskip": 0}), r"env_params: breakout: parameter 'frameskip'"),
        (dict(env_params={"num_envs": 3}), r"set num_envs and seed as training fields"),
    ],
)
def test_bad_configs_name_the_value_and_a_fix(overrides, pattern):
    base = dict(env="breakout", num_envs=256)
    with pytest.raises((ConfigError, ValueError, TypeError), match=pattern):
        make_config({**base, **overrides})


def test_cuda_requested_without_cuda(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="CUDA is not available here; use 'cpu'"):
        make_config("bandit", device="cuda")

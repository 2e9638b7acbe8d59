"""PettingZoo adapter: slots per agent, masking finished agents, resets, logs."""

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

import workbench
from tests.envs.pz_tag import Tag, parallel_env

PATH = "pettingzoo:tests.envs.pz_tag:parallel_env"


def test_the_test_env_follows_the_parallel_api():
    parallel_api_test(Tag(), num_cycles=20)


def test_slots_masks_and_copy_reset():
    env = workbench.make(PATH, num_envs=2, log_interval=10**9)
    assert env.num_agents == 6 and env.num_copies == 2
    assert env.observations[:3, 0].tolist() == [0, 1, 2]
    ones = np.ones(6, dtype=np.int32)
    _, rewards, terminals, _, _ = env.step(ones)  # t=1: nobody done
    assert rewards.tolist() == [1.0] * 6 and not terminals.any()
    _, rewards, terminals, _, _ = env.step(ones)  # t=2: a0 finishes
    assert (
        terminals.tolist() == [True, False, False] * 2
        and env.masks.tolist() == [False, True, True] * 2
    )
    assert (env.observations[0] == 0).all()
    bad = ones.copy()
    bad[0] = 99  # a finished agent's action is ignored, not an error
    _, rewards, terminals, _, _ = env.step(bad)  # t=3: a1 finishes; a0 still masked
    assert terminals.tolist() == [True, True, False] * 2 and rewards[0] == 0
    _, _, terminals, _, _ = env.step(ones)  # t=4: a2 finishes, copy resets
    assert terminals.tolist() == [True] * 6 and env.masks.all()
    assert env.observations[:3, 1].tolist() == [0, 0, 0]  # fresh episode, t = 0
    log = env.log()
    assert log["n"] == 6 and log["episode_length"] == pytest.approx(3.0)
    assert log["episode_return"] == pytest.approx(3.0) and "perf" not in log
    with pytest.raises(ValueError, match="out of range"):
        env.step(np.full(6, 5, dtype=np.int32))


def test_truncation_keeps_the_final_observation():
    env = workbench.make(parallel_env, num_envs=1, env_kwargs={"truncate_at": 2})
    env.step(np.zeros(3, np.int32))
    _, _, terminals, truncations, _ = env.step(np.zeros(3, np.int32))
    assert terminals.tolist() == [True, False, False]  # a0 terminates at 2 (wins the tie)
    assert truncations.tolist() == [False, True, True]
    assert env.final_observations[1].tolist() == [1, 2] and env.final_observations[2].tolist() == [
        2,
        2,
    ]


def test_bad_factory_path():
    with pytest.raises(ValueError, match="cannot load PettingZoo env factory"):
        workbench.make("pettingzoo:tests.envs.pz_tag:nope")


def test_trains_through_the_adapter(tmp_path):
    run = workbench.train(
        PATH,
        store=tmp_path / "wb.db",
        num_envs=32,
        bptt_horizon=8,
        minibatch_size=256,
        total_steps=20_000,
        rnn=False,
        eval_episodes=8,
    )
    assert run.status == "finished" and run.summary["eval/episodes"] >= 8


def test_bad_perf_range_is_refused():
    with pytest.raises(ValueError, match=r"perf must be \(\) or \(low, high\).*\(5, 1\)"):
        workbench.make(PATH, perf=(5, 1))

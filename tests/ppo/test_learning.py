"""Learning on tiny sanity envs, within seconds on a CPU."""

import pytest

import workbench


def learn(env, tmp_path, **kw):
    base = dict(
        num_envs=64,
        bptt_horizon=16,
        minibatch_size=512,
        learning_rate=0.01,
        eval_episodes=64,
        store=tmp_path / "wb.db",
    )
    return workbench.train(env, **{**base, **kw})


@pytest.mark.parametrize("rnn", [False, True])
def test_bandit_learns_the_best_arm(tmp_path, rnn):
    run = learn("bandit", tmp_path, rnn=rnn, total_steps=40_000)
    assert run.status == "finished"
    assert run.summary["eval/perf"] >= 0.9  # chance is 0.25


def test_memory_needs_the_lstm(tmp_path):
    with_lstm = learn("memory", tmp_path, rnn=True, total_steps=100_000)
    without = learn("memory", tmp_path, rnn=False, total_steps=100_000)
    assert with_lstm.summary["eval/perf"] >= 0.9
    assert without.summary["eval/perf"] <= 0.7  # chance is 0.5


def test_multiagent_copies_learn_their_own_actions(tmp_path):
    run = learn("multiagent", tmp_path, num_envs=16, rnn=False, total_steps=40_000)
    assert run.summary["eval/perf"] >= 0.9  # chance is 0.25


def test_continuous_actions_learn_to_match_the_target(tmp_path):
    run = learn("continuous", tmp_path, rnn=False, total_steps=150_000, learning_rate=0.01)
    assert run.summary["eval/perf"] >= 0.9  # a zero policy gets 0.75

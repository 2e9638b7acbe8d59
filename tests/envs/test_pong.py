"""Pong: rules by scripted scenarios."""

import numpy as np
import pytest

import workbench

W, H, PADDLE_H, BALL = 500.0, 640.0, 70.0, 32.0
STAY, UP, DOWN = 0, 1, 2


def make(**kw):
    kw.setdefault("frameskip", 1)
    env = workbench.make("pong", **kw)
    env.reset()
    return env


def state(env, i=0):
    return env._core.get_state(i)


def act(env, a):
    return env.step(np.full(env.num_agents, a, dtype=np.int32))


def test_serve_from_one_fifth_toward_the_agent():
    env = make(num_envs=64, seed=1)
    vys = set()
    for i in range(64):
        s = state(env, i)
        assert s["ball_x"] == pytest.approx(W / 5) and s["vx"] == 10.0
        vys.add(s["vy"])
    assert vys == {-1.0, 0.0}


def test_agent_scores_when_ball_passes_the_opponent():
    env = make()
    env._core.set_state(0, ball_x=4.0, ball_y=600.0, vx=-10.0, vy=0.0, opp_y=0.0)
    _, rewards, terminals, _, _ = act(env, STAY)
    s = state(env)
    assert rewards[0] == 1.0 and s["agent_score"] == 1 and not terminals[0]
    assert env.observations[0, 6] == pytest.approx(1 / 21)  # real division, not 0
    assert s["ball_x"] == pytest.approx(W / 5) and s["vx"] == 10.0  # served again


def test_opponent_scores_when_ball_passes_the_agent():
    env = make()
    env._core.set_state(0, ball_x=W - BALL - 4, ball_y=600.0, vx=10.0, vy=0.0, agent_y=0.0)
    _, rewards, _, _, _ = act(env, STAY)
    assert rewards[0] == -1.0 and state(env)["opp_score"] == 1
    assert env.observations[0, 7] == pytest.approx(1 / 21)


def test_opponent_paddle_returns_the_ball():
    env = make()
    env._core.set_state(0, ball_x=4.0, ball_y=300.0, vx=-10.0, vy=0.0, opp_y=290.0)
    _, rewards, _, _, _ = act(env, STAY)
    s = state(env)
    assert rewards[0] == 0 and s["vx"] == 10.0 and s["ball_x"] > 0


@pytest.mark.parametrize("action,vy_after", [(STAY, 3.0), (DOWN, 5.0), (UP, -1.0)])
def test_agent_return_gives_bonus_and_spin(action, vy_after):
    env = make()
    env._core.set_state(0, ball_x=W - BALL - 4, ball_y=300.0, vx=10.0, vy=2.0, agent_y=290.0)
    _, rewards, _, _, _ = act(env, action)
    s = state(env)
    assert rewards[0] == pytest.approx(0.1) and s["vx"] == -10.0
    expected = {STAY: 2.0, DOWN: 5.0, UP: -1.0}[action]
    assert s["vy"] == pytest.approx(expected)


def test_spin_is_capped_at_13():
    env = make()
    env._core.set_state(0, ball_x=W - BALL - 4, ball_y=300.0, vx=10.0, vy=12.0, agent_y=290.0)
    act(env, DOWN)
    assert state(env)["vy"] == 13.0


def test_opponent_tracks_the_ball_at_paddle_speed():
    env = make()
    env._core.set_state(0, ball_x=250.0, ball_y=600.0, vx=10.0, vy=0.0, opp_y=0.0)
    act(env, STAY)
    assert state(env)["opp_y"] == 8.0  # far from the ball: moves 8 px, no more
    env._core.set_state(0, ball_y=300.0, vy=0.0, opp_y=300.0 + BALL / 2 - PADDLE_H / 2 + 3)
    act(env, STAY)
    s = state(env)
    assert s["opp_y"] + PADDLE_H / 2 == pytest.approx(s["ball_y"] + BALL / 2)


def test_walls_reflect_the_ball():
    env = make()
    env._core.set_state(0, ball_x=200.0, ball_y=2.0, vx=10.0, vy=-5.0)
    act(env, STAY)
    s = state(env)
    assert s["vy"] == 5.0 and s["ball_y"] == pytest.approx(3.0)


@pytest.mark.parametrize("frameskip", [1, 4, 8])
def test_frameskip_repeats_the_action(frameskip):
    env = make(frameskip=frameskip)
    y0 = state(env)["agent_y"]
    act(env, DOWN)
    assert state(env)["agent_y"] == pytest.approx(y0 + 8 * frameskip)
    assert state(env)["ep_length"] == 1


def test_game_ends_at_21_with_score_and_perf():
    env = make()
    env._core.set_state(
        0, agent_score=20, opp_score=7, ball_x=4.0, ball_y=600.0, vx=-10.0, vy=0.0, opp_y=0.0
    )
    _, _, terminals, _, _ = act(env, STAY)
    assert terminals[0]
    log = env.log()
    assert log["score"] == 21 and log["perf"] == pytest.approx(21 / 28) and log["n"] == 1
    assert state(env)["agent_score"] == 0  # auto-reset


def test_continuous_velocity():
    env = make(continuous=True)
    y0 = state(env)["agent_y"]
    env.step(np.full((1, 1), 0.5, dtype=np.float32))
    assert state(env)["agent_y"] == pytest.approx(y0 + 4.0)

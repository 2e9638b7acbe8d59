"""Breakout: rules by scripted scenarios, determinism, bounds, logs, bad input."""

import numpy as np
import pytest

import workbench

PADDLE_Y, BALL, BRICK_TOP, BRICK_H, BRICK_W = 312.0, 32.0, 50.0, 12.0, 32.0
NOOP, LEFT, RIGHT = 0, 1, 2


def make(**kw):
    kw.setdefault("frameskip", 1)
    env = workbench.make("breakout", **kw)
    env.reset()
    return env


def state(env, i=0):
    return env._core.get_state(i)


def act(env, a):
    return env.step(np.full(env.num_agents, a, dtype=np.int32))


def only_bricks(*present):
    """Brick flags with every brick broken except the (row, col) pairs given."""
    flags = np.ones(108, dtype=np.float32)
    for r, c in present:
        flags[r * 18 + c] = 0
    return flags.tolist()


def under_brick(r, c, vy=-5.0):
    """Ball just below brick (r, c), moving straight up at vy px/frame."""
    return dict(ball_x=c * BRICK_W, ball_y=BRICK_TOP + (r + 1) * BRICK_H + 2.0, vx=0.0, vy=vy)


@pytest.mark.parametrize("row,points", [(0, 7), (1, 7), (2, 4), (3, 4), (4, 1), (5, 1)])
def test_brick_values_by_row(row, points):
    env = make()
    env._core.set_state(0, bricks=only_bricks((row, 5)), **under_brick(row, 5))
    _, rewards, terminals, _, _ = act(env, NOOP)
    s = state(env)
    assert rewards[0] == points
    assert s["score"] == points
    assert s["bricks"][row * 18 + 5] == 1
    assert s["vy"] > 0  # bounced back down
    assert env.observations[0, 10 + row * 18 + 5] == 1.0
    assert not terminals[0]


def test_full_wall_is_432_points_and_restores_at_next_paddle_hit():
    env = make()
    # Last brick of the first wall: a bottom-row brick worth 1, score at 431.
    env._core.set_state(0, bricks=only_bricks((5, 3)), score=431, **under_brick(5, 3))
    _, rewards, terminals, _, _ = act(env, NOOP)
    s = state(env)
    assert rewards[0] == 1 and s["score"] == 432 and s["bricks_left"] == 0
    assert s["restore_pending"] == 1 and not terminals[0]
    assert env.observations[0, 10:].min() == 1.0  # every brick shows broken
    # Ball falling onto the middle of the paddle: the bricks come back on the hit.
    env._core.set_state(0, paddle_x=200.0, ball_x=215.0, ball_y=PADDLE_Y - BALL - 2, vx=0.0, vy=5.0)
    act(env, NOOP)
    s = state(env)
    assert s["vy"] < 0 and s["bricks_left"] == 108 and s["restore_pending"] == 0
    assert env.observations[0, 10:].max() == 0.0


def test_second_wall_clear_terminates_at_864():
    env = make()
    env._core.set_state(0, bricks=only_bricks((5, 0)), score=863, **under_brick(5, 0))
    _, rewards, terminals, _, _ = act(env, NOOP)
    assert rewards[0] == 1 and terminals[0]
    log = env.log()
    assert log["score"] == 864 and log["perf"] == 1.0 and log["n"] == 1
    # Auto-reset: a fresh game in the buffers.
    assert state(env)["score"] == 0 and env.observations[0, 7] == 0.0


def test_top_wall_hit_halves_paddle_until_next_ball():
    env = make()
    env._core.set_state(0, bricks=only_bricks(), ball_x=100.0, ball_y=3.0, vx=0.0, vy=-5.0)
    act(env, NOOP)
    s = state(env)
    assert s["paddle_w"] == 31.0 and s["vy"] > 0 and env.observations[0, 9] == 0.5
    # A second top hit does not shrink it further.
    env._core.set_state(0, ball_y=3.0, vy=-5.0)
    act(env, NOOP)
    assert state(env)["paddle_w"] == 31.0
    # Lose the ball: the next ball has a full paddle.
    env._core.set_state(0, paddle_x=400.0, ball_x=100.0, ball_y=PADDLE_Y + 6, vx=0.0, vy=5.0)
    act(env, NOOP)
    assert state(env)["paddle_w"] == 62.0 and state(env)["balls_left"] == 4


def test_losing_a_ball_decrements_balls_left_and_relaunches():
    env = make()
    env._core.set_state(0, paddle_x=400.0, ball_x=100.0, ball_y=PADDLE_Y + 5, vx=0.0, vy=5.0)
    _, rewards, terminals, _, _ = act(env, NOOP)
    s = state(env)
    assert s["balls_left"] == 4 and not terminals[0] and rewards[0] == 0
    assert env.observations[0, 8] == pytest.approx(0.8)
    # New ball: centre, falling at 256 px/s at pi/3.25 from horizontal.
    speed = np.hypot(s["vx"], s["vy"]) * 60
    assert speed == pytest.approx(256.0, rel=1e-5)
    assert s["vy"] > 0
    assert np.arctan2(s["vy"], abs(s["vx"])) == pytest.approx(np.pi / 3.25, rel=1e-5)


def test_episode_ends_after_last_ball():
    env = make()
    env._core.set_state(
        0, balls_left=0, score=12, paddle_x=400.0, ball_x=100.0, ball_y=PADDLE_Y + 5, vx=0.0, vy=5.0
    )
    _, _, terminals, truncations, _ = act(env, NOOP)
    assert terminals[0] and not truncations[0]
    log = env.log()
    assert log["n"] == 1 and log["score"] == 12 and log["perf"] == pytest.approx(12 / 864)
    assert state(env)["balls_left"] == 5


def test_launch_direction_is_random_left_or_right():
    env = make(num_envs=64, seed=3)
    signs = {np.sign(state(env, i)["vx"]) for i in range(64)}
    assert signs == {-1.0, 1.0}


@pytest.mark.parametrize("frameskip", [1, 4, 7])
def test_frameskip_repeats_the_action(frameskip):
    env = make(frameskip=frameskip)
    x0 = state(env)["paddle_x"]
    act(env, LEFT)
    assert state(env)["paddle_x"] == pytest.approx(x0 - frameskip * 620 / 60, abs=1e-3)
    x1 = state(env)["paddle_x"]
    act(env, RIGHT)
    assert state(env)["paddle_x"] == pytest.approx(x1 + frameskip * 620 / 60, abs=1e-3)
    assert state(env)["ep_length"] == 2  # one agent step each, whatever the frameskip


def test_paddle_is_clamped_to_the_field():
    env = make(frameskip=8)  # 82.7 px per step: 4 steps cross the 257 px to the left edge
    for _ in range(4):
        act(env, LEFT)
    assert state(env)["paddle_x"] == 0.0
    for _ in range(7):
        act(env, RIGHT)
    assert state(env)["paddle_x"] == pytest.approx(576 - state(env)["paddle_w"])


def test_continuous_action_is_paddle_velocity():
    env = make(continuous=True)
    x0 = state(env)["paddle_x"]
    env.step(np.full((1, 1), -0.5, dtype=np.float32))
    assert state(env)["paddle_x"] == pytest.approx(x0 - 0.5 * 620 / 60, abs=1e-3)
    env.step(np.full((1, 1), 9.0, dtype=np.float32))  # clipped to +1
    assert state(env)["paddle_x"] == pytest.approx(x0 + 0.5 * 620 / 60, abs=1e-3)


@pytest.mark.parametrize("offset,sign", [(-16.0, -1), (15.0, 0), (46.0, 1)])
def test_paddle_bounce_angle_depends_on_hit_position(offset, sign):
    env = make()
    env._core.set_state(
        0,
        paddle_x=200.0,
        ball_x=200.0 + offset,
        ball_y=PADDLE_Y - BALL - 2,
        vx=0.0,
        vy=5.0,
        speed=256.0,
    )
    act(env, NOOP)
    s = state(env)
    angle = np.degrees(np.arctan2(s["vx"], -s["vy"]))
    expected = {-1: -45.0, 0: 0.0, 1: 45.0}[sign]
    # Centre of the ball relative to the paddle: 0 at the left end, 1 at the right.
    rel = np.clip((offset + 16.0) / 62.0, 0, 1)
    assert angle == pytest.approx((2 * rel - 1) * 45.0, abs=1e-3)
    if sign:
        assert angle == pytest.approx(expected, abs=1e-3)
    assert np.hypot(s["vx"], s["vy"]) * 60 == pytest.approx(256.0, rel=1e-5)


def test_every_fourth_paddle_hit_speeds_up_to_448():
    env = make()
    speeds = []
    for _ in range(16):
        env._core.set_state(
            0, paddle_x=200.0, ball_x=215.0, ball_y=PADDLE_Y - BALL - 2, vx=0.0, vy=5.0
        )
        act(env, NOOP)
        speeds.append(state(env)["speed"])
    assert speeds[:4] == [256, 256, 256, 320]
    assert speeds[7] == 384 and speeds[11] == 448 and speeds[15] == 448


@pytest.mark.parametrize("row,fast", [(0, True), (2, True), (3, False), (5, False)])
def test_top_three_rows_set_top_speed(row, fast):
    env = make()
    env._core.set_state(
        0, bricks=only_bricks((row, 5)), speed=256.0, **under_brick(row, 5, vy=-256 / 60)
    )
    act(env, NOOP)
    s = state(env)
    assert s["speed"] == (448 if fast else 256)
    assert np.hypot(s["vx"], s["vy"]) * 60 == pytest.approx(s["speed"], rel=1e-5)


@pytest.mark.parametrize("vy", [-448 / 60, -40.0, -300.0])
def test_fast_ball_never_tunnels_through_a_brick_row(vy):
    # Bottom row intact; a ball moving faster than a brick is tall must still stop there.
    env = make()
    flags = np.ones(108, dtype=np.float32)
    flags[5 * 18 : 6 * 18] = 0
    env._core.set_state(
        0, bricks=flags.tolist(), ball_x=100.0, ball_y=BRICK_TOP + 6 * 12 + 1, vx=0.0, vy=vy
    )
    _, rewards, _, _, _ = act(env, NOOP)
    s = state(env)
    assert rewards[0] >= 1
    assert s["ball_y"] >= BRICK_TOP + 6 * BRICK_H - 1e-3  # never inside or above the row
    assert sum(s["bricks"][: 5 * 18]) == 5 * 18  # nothing above the row was touched


@pytest.mark.parametrize("vy", [448 / 60, 40.0, 300.0])
def test_fast_ball_never_tunnels_through_the_paddle(vy):
    env = make()
    env._core.set_state(0, paddle_x=200.0, ball_x=215.0, ball_y=PADDLE_Y - BALL - 1, vx=0.0, vy=vy)
    _, _, terminals, _, _ = act(env, NOOP)
    s = state(env)
    assert s["balls_left"] == 5 and s["vy"] < 0 and not terminals[0]


def test_ball_never_overlaps_a_present_brick_at_top_speed():
    # Invariant over thousands of frames at 448 px/s from many angles.
    env = make(num_envs=256, seed=7, frameskip=1)
    rng = np.random.default_rng(0)
    for i in range(256):
        angle = rng.uniform(0, 2 * np.pi)
        env._core.set_state(
            i, speed=448.0, vx=448 / 60 * np.cos(angle), vy=448 / 60 * np.sin(angle)
        )
    for _ in range(600):
        env.step(rng.integers(0, 3, 256, dtype=np.int32))
        obs = env.observations
        bx, by = obs[:, 2] * 576, obs[:, 3] * 330
        bricks = obs[:, 10:].reshape(-1, 6, 18)
        for r in range(6):
            y0 = BRICK_TOP + r * BRICK_H
            rows_hit = (by < y0 + BRICK_H - 1e-3) & (by + BALL > y0 + 1e-3)
            for i in np.flatnonzero(rows_hit):
                c0 = max(int(bx[i] // BRICK_W), 0)
                for c in range(c0, min(c0 + 2, 17) + 1):
                    if bricks[i, r, c] == 0:
                        overlap = min(bx[i] + BALL, (c + 1) * BRICK_W) - max(bx[i], c * BRICK_W)
                        assert overlap <= 1e-3, f"copy {i} overlaps brick ({r},{c})"


def test_same_seed_same_trajectory_different_seed_differs():
    def run(seed):
        env = workbench.make("breakout", num_envs=8, seed=seed)
        env.reset()
        rng = np.random.default_rng(123)
        obs, rew, term = [], [], []
        for _ in range(10_000):
            o, r, t, _, _ = env.step(rng.integers(0, 3, 8, dtype=np.int32))
            obs.append(o.copy())
            rew.append(r.copy())
            term.append(t.copy())
        return np.array(obs), np.array(rew), np.array(term)

    a, b, c = run(1), run(1), run(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert a[2].sum() > 0  # episodes did end, so terminals were compared meaningfully
    assert not np.array_equal(a[0], c[0])


def test_reset_with_seed_replays_the_same_trajectory():
    env = make(num_envs=4, seed=5, frameskip=4)
    actions = np.random.default_rng(0).integers(0, 3, (500, 4), dtype=np.int32)

    def roll():
        env.reset(seed=11)
        return np.array([env.step(a)[0].copy() for a in actions])

    assert np.array_equal(roll(), roll())


def test_observations_stay_in_bounds_and_logs_are_consistent():
    env = workbench.make("breakout", num_envs=100, seed=0, log_interval=10**9)
    env.reset()
    space = env.single_observation_space
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 3, (64, 100), dtype=np.int32)
    ended = 0
    lo, hi = np.inf, -np.inf
    for k in range(1000):  # 100k agent steps
        obs, rewards, terminals, truncations, _ = env.step(actions[k % 64])
        lo = np.minimum(lo, obs.min(axis=0))
        hi = np.maximum(hi, obs.max(axis=0))
        ended += int(terminals.sum())
        assert not truncations.any()
        assert rewards.min() >= 0
    assert np.all(lo >= space.low) and np.all(hi <= space.high)
    assert set(np.unique(env.observations[:, 10:])) <= {0.0, 1.0}
    log = env.log()
    assert ended > 100 and log["n"] == ended
    assert log["perf"] == pytest.approx(log["score"] / 864, rel=1e-9)
    assert log["episode_return"] == pytest.approx(log["score"], rel=1e-9)
    assert env.log() == {}  # cleared; zero episodes is an empty report


def test_info_reports_log_every_log_interval_steps():
    env = workbench.make("breakout", num_envs=64, seed=0, log_interval=50)
    env.reset()
    reports = []
    for _ in range(400):
        info = env.step(np.zeros(64, dtype=np.int32))[4]
        if info:
            reports.append(dict(info))
    assert 1 <= len(reports) <= 8 and all(r["n"] > 0 for r in reports)


def test_buffers_are_the_same_objects_every_step():
    env = make(num_envs=3)
    out1 = env.step(np.zeros(3, np.int32))
    out2 = env.step(np.zeros(3, np.int32))
    for x, y in zip(out1[:4], out2[:4], strict=True):
        assert x is y
    assert out1[0] is env.observations
    # Writing actions into env.actions directly is the zero-copy path.
    env.actions[:] = LEFT
    x0 = state(env)["paddle_x"]
    env.step(env.actions)
    assert state(env)["paddle_x"] < x0


def test_render_draws_bricks_paddle_and_ball():
    env = make()
    frame = env.render(0)
    assert frame.shape == (330, 576, 3) and frame.dtype == np.uint8
    s = state(env)
    assert frame[int(PADDLE_Y) + 4, int(s["paddle_x"]) + 30].tolist() == [200, 72, 72]
    assert frame[int(s["ball_y"]) + 16, int(s["ball_x"]) + 16].tolist() == [236, 236, 236]
    assert frame[int(BRICK_TOP) + 6, 16].any() and not frame[20, 16].any()


# -- bad input --


def test_wrong_action_dtype():
    env = make(num_envs=4)
    with pytest.raises(TypeError, match=r"actions must be int32 of shape \(4,\).*float64"):
        env.step(np.zeros(4))


def test_wrong_action_shape():
    env = make(num_envs=4)
    with pytest.raises(ValueError, match=r"shape \(4,\).*\(5,\)"):
        env.step(np.zeros(5, dtype=np.int32))


def test_out_of_range_discrete_action_names_index_and_valid_values():
    env = make(num_envs=4)
    before = env.observations.copy()
    with pytest.raises(ValueError, match=r"actions\[2\] = 3 .*0 \(noop\), 1 \(left\), 2 \(right\)"):
        env.step(np.array([0, 1, 3, 0], dtype=np.int32))
    with pytest.raises(ValueError, match=r"actions\[1\] = -1"):
        env.step(np.array([0, -1, 0, 0], dtype=np.int64))
    with pytest.raises(ValueError, match=r"actions\[0\] = 4294967297"):
        env.step(np.array([2**32 + 1, 0, 0, 0], dtype=np.int64))  # would wrap to 1 as int32
    assert np.array_equal(env.observations, before)  # nothing stepped


def test_int64_actions_are_accepted():
    env = make(num_envs=2)
    env.step(np.array([1, 2], dtype=np.int64))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_continuous_action(bad):
    env = make(num_envs=2, continuous=True)
    with pytest.raises(ValueError, match=r"actions\[1\] = .* is not finite"):
        env.step(np.array([[0.0], [bad]], dtype=np.float32))


@pytest.mark.parametrize("n", [0, -3])
def test_num_envs_must_be_positive(n):
    with pytest.raises(ValueError, match=rf"'num_envs' must be int in \[1, .*got {n}"):
        workbench.make("breakout", num_envs=n)


def test_unknown_env_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown env 'breakot' \(did you mean 'breakout'\?\)"):
        workbench.make("breakot")


def test_unknown_parameter_names_valid_ones():
    with pytest.raises(ValueError, match=r"unknown parameter 'frame_skip'=2.*'frameskip'"):
        workbench.make("breakout", frame_skip=2)


@pytest.mark.parametrize(
    "params,err,pattern",
    [
        ({"frameskip": "4"}, TypeError, r"'frameskip' must be int in \[1, 64\], got '4'"),
        ({"frameskip": 2.5}, TypeError, r"'frameskip' must be int"),
        ({"frameskip": 0}, ValueError, r"'frameskip' must be int in \[1, 64\], got 0"),
        ({"continuous": 1}, TypeError, r"'continuous' must be bool, got 1"),
        ({"seed": -1}, ValueError, r"'seed' must be int in \[0, .*got -1"),
        ({"num_envs": 2.0}, TypeError, r"'num_envs' must be int"),
    ],
)
def test_bad_parameters(params, err, pattern):
    with pytest.raises(err, match=pattern):
        workbench.make("breakout", **params)


def test_render_index_out_of_range_and_closed_env():
    env = make(num_envs=2)
    with pytest.raises(ValueError, match=r"render index must be in \[0, 1\], got 2"):
        env.render(2)
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.step(np.zeros(2, dtype=np.int32))

"""bench interop's pieces, run small: schedules, the SB3 driver, the overhead table, CLI."""

import pytest

from workbench.bench import interop
from workbench.cli import main


def test_linear_schedules_decay_to_zero():
    schedule = interop._schedule("lin_0.001")
    assert schedule(1.0) == pytest.approx(0.001) and schedule(0.5) == pytest.approx(0.0005)
    assert interop._schedule(0.3) == 0.3


def test_sb3_driver_reports_steps_and_recent_returns():
    pytest.importorskip("stable_baselines3")
    from workbench.envs.sb3 import make_sb3

    hyper = {"n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 1, "clip_range": "lin_0.2"}
    out = interop.sb3_ppo(make_sb3("timelimit", 2, limit=4), hyper, 0, 60.0, 160, target=4.0)
    assert out["reach"] is not None  # every episode returns 4
    assert out["recent_return"] == 4.0 and out["agent_steps"] >= out["reach"]["agent_steps"]


def test_overhead_table(capsys):
    out = interop.run_overhead(seconds=0.01, repeats=1)
    assert all(r["ratio"] > 0 for r in out.values())
    assert "make_gymnasium / native" in capsys.readouterr().out


def test_bad_parts_are_one_line_errors(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "interop", "--parts", "cartpole,bogus"])
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --parts must be a comma-separated subset of overhead")
    assert "\n" not in err

"""Run store and run lifecycle: queries, concurrent writers, and nothing lost on any ending."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import workbench
from workbench.store import RunStore

FAST = dict(num_envs=32, bptt_horizon=16, minibatch_size=256, learning_rate=0.01)


def test_runs_dataframe_flattens_config_and_summary_and_filters(tmp_path):
    store = RunStore(tmp_path / "wb.db")
    a = store.create_run("a", "breakout", {"learning_rate": 0.01, "env_params": {"frameskip": 4}})
    b = store.create_run("b", "pong", {"learning_rate": 0.03, "env_params": {}})
    store.log(a, 0, {"agent_steps": 10, "wall_time": 0.5, "env/score": 1.0, "sps": float("nan")})
    store.log(a, 1, {"agent_steps": 20, "wall_time": 1.0, "env/score": 3.0})
    store.finish(a, "finished", {"score": 320.0, "perf": 0.37})
    store.finish(b, "failed", {"score": 12.0}, error="boom")
    df = store.runs()
    assert list(df["name"]) == ["a", "b"]
    assert {"learning_rate", "frameskip", "score", "perf", "status", "error"} <= set(df.columns)
    picked = store.runs("env == 'breakout' and score >= 300")
    assert list(picked["id"]) == [a]
    curve = store.curve(a)
    assert list(curve["agent_steps"]) == [10, 20] and list(curve["env/score"]) == [1.0, 3.0]
    assert curve["sps"].isna().iloc[0]
    assert store.run(b)["error"] == "boom"


def test_db_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "env.db"))
    assert RunStore().path == tmp_path / "env.db"
    assert (tmp_path / "env.db").exists()


WRITER = textwrap.dedent(
    """
    import sys
    from workbench.store import RunStore
    store = RunStore(sys.argv[1])
    run = store.create_run(sys.argv[2], "bandit", {})
    for i in range(300):
        store.log(run, i, {"agent_steps": i, "wall_time": i * 0.01, "x": i})
    store.finish(run, "finished", {"rows": 300})
    """
)


def test_two_processes_write_at_once(tmp_path):
    db = tmp_path / "wb.db"
    RunStore(db)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), f"w{i}"]) for i in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    df = RunStore(db).runs()
    assert sorted(df["name"]) == ["w0", "w1", "w2"] and set(df["status"]) == {"finished"}
    for run_id in df["id"]:
        assert list(RunStore(db).curve(run_id)["x"]) == list(range(300))


TRAINER = textwrap.dedent(
    """
    import sys, workbench
    workbench.train("memory", store=sys.argv[1], total_steps=10**9, num_envs=32,
                    bptt_horizon=16, minibatch_size=256, checkpoint_interval=5)
    """
)


def start_trainer(db):
    proc = subprocess.Popen([sys.executable, "-c", TRAINER, str(db)], stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.3)
        if db.exists():
            df = RunStore(db).runs()
            if len(df) and len(RunStore(db).curve(df["id"][0])) >= 8:
                return proc, df["id"][0]
    proc.kill()
    raise AssertionError("trainer produced no rows")


def test_killed_process_is_shown_as_failed_not_running(tmp_path):
    db = tmp_path / "wb.db"
    proc, run_id = start_trainer(db)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    run = RunStore(db).run(run_id)  # opening the store reaps the dead run
    assert run["status"] == "failed" and "killed" in run["error"]
    assert len(RunStore(db).curve(run_id)) >= 8
    assert run["checkpoint"] and os.path.exists(run["checkpoint"])


def test_ctrl_c_leaves_a_stopped_run_with_rows_and_checkpoint(tmp_path):
    db = tmp_path / "wb.db"
    proc, run_id = start_trainer(db)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and b"KeyboardInterrupt" in err
    run = RunStore(db).run(run_id)
    assert run["status"] == "stopped" and run["error"] == "KeyboardInterrupt"
    assert len(RunStore(db).curve(run_id)) >= 8
    assert os.path.exists(run["checkpoint"])
    assert torch.load(run["checkpoint"], weights_only=False)["agent_steps"] > 0


def test_launch_runs_in_background_and_stops(tmp_path):
    rows = []
    handle = workbench.launch(
        "memory", store=tmp_path / "wb.db", total_steps=10**9, on_log=rows.append, **FAST
    )
    t0 = time.perf_counter()
    assert sum(range(1000)) == 499500  # the caller keeps running while the run trains
    assert time.perf_counter() - t0 < 1.0
    deadline = time.time() + 60
    while handle.latest() is None and time.time() < deadline:
        time.sleep(0.05)
    assert handle.status == "running" and handle.latest()["agent_steps"] > 0
    handle.stop()
    run = handle.wait(timeout=60)
    assert run.status == "stopped" and handle.status == "stopped"
    stored = RunStore(tmp_path / "wb.db").run(handle.run_id)
    assert stored["status"] == "stopped" and os.path.exists(stored["checkpoint"])
    assert len(run.curve()) == len(rows) >= 1


def test_exception_marks_the_run_failed_with_its_error(tmp_path):
    def boom(row):
        if row["epoch"] >= 3:
            raise RuntimeError("callback exploded")

    with pytest.raises(RuntimeError, match="callback exploded"):
        workbench.train("bandit", store=tmp_path / "wb.db", total_steps=10**6, on_log=boom, **FAST)
    run = RunStore(tmp_path / "wb.db").runs().iloc[0]
    assert run["status"] == "failed" and "callback exploded" in run["error"]
    assert len(RunStore(tmp_path / "wb.db").curve(run["id"])) == 3
    assert os.path.exists(run["checkpoint"])


def test_nan_loss_fails_the_run_and_keeps_a_checkpoint(tmp_path):
    db = tmp_path / "wb.db"
    first = workbench.train("bandit", store=db, total_steps=2000, eval_episodes=0, **FAST)
    ckpt = torch.load(first.checkpoint, weights_only=False)
    ckpt["policy"]["critic.weight"].fill_(float("nan"))
    torch.save(ckpt, tmp_path / "poisoned.pt")
    with pytest.raises(FloatingPointError, match="loss is nan"):
        workbench.train(
            "bandit", store=db, total_steps=10**6, resume=str(tmp_path / "poisoned.pt"), **FAST
        )
    run = RunStore(db).runs().iloc[-1]
    assert run["status"] == "failed" and "loss is nan" in run["error"]
    assert os.path.exists(run["checkpoint"])


def test_resume_continues_from_the_checkpoint(tmp_path):
    db = tmp_path / "wb.db"
    first = workbench.train("memory", store=db, total_steps=4096, eval_episodes=0, **FAST)
    second = workbench.train(
        "memory", store=db, total_steps=8192, eval_episodes=0, resume=first.id, **FAST
    )
    curve = second.curve()
    assert curve["agent_steps"].iloc[0] == 4096 + 512 and curve["agent_steps"].iloc[-1] == 8192


def test_invalid_config_raises_before_anything_is_recorded(tmp_path):
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        workbench.launch("bandit", store=tmp_path / "wb.db", learning_rate=0.0)
    assert RunStore(tmp_path / "wb.db").runs().empty


def test_runs_show_as_html_in_notebooks(tmp_path):
    run = workbench.train(
        "bandit", store=tmp_path / "wb.db", total_steps=2000, eval_episodes=4, **FAST
    )
    card = run._repr_html_()
    assert run.id in card and "finished" in card and "2,048 steps" in card

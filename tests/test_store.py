"""Run store and run lifecycle: queries, concurrent writers, and nothing lost on any ending."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import workbench
from tests.processes import sigint_default
from workbench.store import RunStore, run_tag

FAST = dict(num_envs=32, bptt_horizon=16, minibatch_size=256, learning_rate=0.01)


def test_runs_dataframe_flattens_config_and_summary_and_filters(tmp_path):
    store = RunStore(tmp_path / "wb.db")
    a = store.create_run("a", "breakout", {"learning_rate": 0.01, "env_params": {"frameskip": 4}})
    b = store.create_run("b", "pong", {"learning_rate": 0.03, "env_params": {}})
    store.log(a, 0, {"agent_steps": 10, "wall_time": 0.5, "env/score": 1.0, "sps": float("nan")})
    store.log(a, 1, {"agent_steps": 20, "wall_time": 1.0, "env/score": 3.0})
    store.finish(a, "finished", {"env/score": 300.0, "eval/score": 320.0, "eval/perf": 0.37})
    store.finish(b, "failed", {"env/score": 12.0}, error="boom")
    df = store.runs()
    assert list(df["name"]) == ["a", "b"]
    assert {"learning_rate", "frameskip", "score", "perf", "status", "error"} <= set(df.columns)
    assert list(df["score"]) == [320.0, 12.0]  # the final value: eval when present
    assert list(df["env/score"]) == [300.0, 12.0]
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
    proc = subprocess.Popen(
        [sys.executable, "-c", TRAINER, str(db)],
        stderr=subprocess.PIPE,
        preexec_fn=sigint_default,
    )
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
    store = RunStore(db, create=False)
    run = store.run(run_id)  # a reader sees the dead run as failed...
    assert run["status"] == "failed" and run["cause"] == "killed"
    assert store.runs()["status"].tolist() == ["failed"]
    cli = subprocess.run(
        [sys.executable, "-m", "workbench", "runs", "--db", str(db)], capture_output=True, text=True
    )
    assert cli.returncode == 0 and "failed" in cli.stdout
    # ... and nothing was written: the record still says running
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT status, cause FROM runs").fetchall() == [("running", None)]
    assert store.reap_dead() == 1  # a writer's explicit step marks it in the file
    assert store.reap_dead() == 0
    run = store.run(run_id)
    assert len(RunStore(db).curve(run_id)) >= 8
    assert run["checkpoint"] and os.path.exists(run["checkpoint"])
    # Its summary is rebuilt from its curve, so tables show its steps and score.
    curve = RunStore(db).curve(run_id)
    assert run["summary"]["agent_steps"] == curve["agent_steps"].iloc[-1]
    assert run["summary"]["wall_time"] == curve["wall_time"].iloc[-1]
    assert run["summary"]["env/score"] == curve["env/score"].dropna().iloc[-1]


def test_ctrl_c_leaves_a_stopped_run_with_rows_and_checkpoint(tmp_path):
    db = tmp_path / "wb.db"
    proc, run_id = start_trainer(db)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and b"KeyboardInterrupt" in err
    run = RunStore(db).run(run_id)
    assert run["status"] == "stopped" and run["reason"] == "KeyboardInterrupt"
    assert len(RunStore(db).curve(run_id)) >= 8
    assert os.path.exists(run["checkpoint"])
    assert torch.load(run["checkpoint"], weights_only=False)["agent_steps"] > 0


def test_launch_runs_in_background_and_stops(tmp_path):
    rows = []
    handle = workbench.launch(
        "memory",
        store=tmp_path / "wb.db",
        total_steps=10**9,
        on_log=lambda run_id, row: rows.append((run_id, row)),
        **FAST,
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
    assert {run_id for run_id, _ in rows} == {handle.run_id}  # rows say which run they are


def test_exception_marks_the_run_failed_with_its_error(tmp_path):
    def boom(run_id, row):
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
    # Lineage: the child names its parent, its clock goes on, and the curve stitches.
    store = RunStore(db)
    assert store.run(second.id)["resumed_from"] == first.id
    assert curve["wall_time"].iloc[0] > first.curve()["wall_time"].iloc[-1]
    assert second.summary["wall_time"] > first.summary["wall_time"]
    stitched = store.curve(second.id, stitched=True)
    assert list(stitched["agent_steps"]) == list(range(512, 8192 + 1, 512))
    assert list(stitched["run_id"].unique()) == [first.id, second.id]
    assert store.lineage(second.id) == [first.id, second.id]
    # A run is named by its id, a unique id prefix or its name.
    third = workbench.train(
        "memory", store=db, total_steps=8704, eval_episodes=0, resume=second.id[:-2], **FAST
    )
    assert store.run(third.id)["resumed_from"] == second.id


def test_a_bad_resume_writes_nothing(tmp_path):
    db = tmp_path / "wb.db"
    RunStore(db).close()
    with pytest.raises(FileNotFoundError, match="neither a checkpoint file nor a run"):
        workbench.train("memory", store=db, resume="nonexist", **FAST)
    assert RunStore(db).runs().empty
    assert not (tmp_path / "checkpoints").exists()


def test_runs_are_named_by_id_prefix_or_name(tmp_path):
    store = RunStore(tmp_path / "wb.db")
    a = store.create_run("alpha", "bandit", {})
    b = store.create_run("beta", "bandit", {})
    assert store.resolve(a) == a and store.resolve("beta") == b and store.resolve(a[:-1]) == a
    assert store.resolve(run_tag(b)) == b  # the tag legends show beside the name
    with pytest.raises(KeyError, match="did you mean 'alpha'"):
        store.resolve("alpah")
    with pytest.raises(KeyError, match="names 2 runs"):
        store.resolve(a[:9])


def test_one_default_store_wherever_a_command_starts_in_the_project(tmp_path, monkeypatch):
    from workbench.store import default_path

    monkeypatch.delenv("WORKBENCH_DB", raising=False)
    project = tmp_path / "project"
    (project / "notebooks" / "deep").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    want = project / "runs" / "workbench.db"
    assert default_path(project / "notebooks" / "deep") == want  # created at the root
    assert default_path(project) == want
    (project / "notebooks" / "runs").mkdir()
    (project / "notebooks" / "runs" / "workbench.db").write_text("")
    assert (
        default_path(project / "notebooks" / "deep")
        == project / "notebooks" / "runs" / "workbench.db"
    )
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "env.db"))
    assert default_path(project) == tmp_path / "env.db"


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


# -- schema versions, incremental reads, stop by id, sweeps --

V0_SCHEMA = """
CREATE TABLE runs (id TEXT PRIMARY KEY, name TEXT NOT NULL, env TEXT NOT NULL,
    config TEXT NOT NULL, status TEXT NOT NULL, error TEXT, started_at REAL NOT NULL,
    ended_at REAL, heartbeat REAL, git_commit TEXT, host TEXT, pid INTEGER, summary TEXT,
    checkpoint TEXT);
CREATE TABLE metrics (run_id TEXT NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL,
    agent_steps INTEGER NOT NULL, wall_time REAL NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq));
"""


def write_v0_store(path):
    """A store exactly as the first release wrote it: no version, old summary names."""
    import json
    import sqlite3

    conn = sqlite3.connect(path)
    conn.executescript(V0_SCHEMA)
    old_summary = {
        "sps": 1000.0,
        "score": 320.0,
        "train/score": 300.0,
        "eval/score": 320.0,
        "perf": 0.37,
        "train/perf": 0.35,
        "eval/perf": 0.37,
        "wall_time": 12.5,
        "agent_steps": 4096,
        "epochs": 8,
    }
    for i, summary in enumerate([old_summary, None]):
        conn.execute(
            "INSERT INTO runs VALUES (?, ?, 'breakout', ?, ?, NULL, ?, NULL, NULL, NULL, 'h', 1,"
            " ?, NULL)",
            (
                f"run{i}",
                f"name{i}",
                json.dumps({"learning_rate": 0.01, "env_params": {"frameskip": 4}}),
                "finished" if summary else "failed",
                float(i),
                json.dumps(summary) if summary else None,
            ),
        )
        for seq in range(5):
            data = {"agent_steps": seq * 512, "wall_time": seq * 0.5, "env/score": float(seq)}
            conn.execute(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                (f"run{i}", seq, seq * 512, seq * 0.5, json.dumps(data)),
            )
    conn.commit()
    conn.close()


def test_an_old_store_upgrades_in_place_and_keeps_every_run_and_row(tmp_path):
    import workbench.store as S

    db = tmp_path / "old.db"
    write_v0_store(db)
    store = RunStore(db)
    assert store.schema_version == S.SCHEMA_VERSION >= 2
    df = store.runs()
    assert list(df["id"]) == ["run0", "run1"]
    assert list(df["status"]) == ["finished", "failed"]
    for run_id in ("run0", "run1"):
        assert list(store.curve(run_id)["env/score"]) == [0.0, 1.0, 2.0, 3.0, 4.0]
    summary = store.run("run0")["summary"]
    assert summary["env/score"] == 300.0 and summary["eval/score"] == 320.0
    assert "score" not in summary and "train/score" not in summary
    assert df["score"].iloc[0] == 320.0 and df["frameskip"].iloc[0] == 4
    # The new parts work on the upgraded file.
    sweep = store.create_sweep("s", {"env": "breakout"})
    run = store.create_run("new", "breakout", {}, sweep_id=sweep, tags=["a"])
    assert list(store.runs(sweep=sweep)["id"]) == [run] and store.run(run)["tags"] == ["a"]
    store.close()
    assert RunStore(db).schema_version == S.SCHEMA_VERSION  # a second open finds it current


def test_a_store_newer_than_the_code_is_refused(tmp_path):
    import sqlite3

    import workbench.store as S

    db = tmp_path / "future.db"
    RunStore(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {S.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this workbench"):
        RunStore(db)


def test_opening_a_current_store_writes_nothing(tmp_path):
    db = tmp_path / "wb.db"
    store = RunStore(db)
    run = store.create_run("a", "bandit", {})
    store.log(run, 0, {"agent_steps": 1, "wall_time": 0.1})
    store.finish(run, "finished", {})
    store.close()
    files = [db, db.with_name(db.name + "-wal")]
    before = [(p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.exists()]
    again = RunStore(db)
    again.runs()
    again.curve(run)
    again.close()
    after = [(p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.exists()]
    assert before == after


def test_read_only_open_never_creates_a_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run store"):
        RunStore(tmp_path / "missing" / "x.db", create=False)
    assert not (tmp_path / "missing").exists()


def test_curves_reads_several_runs_incrementally(tmp_path):
    store = RunStore(tmp_path / "wb.db")
    a, b = store.create_run("a", "bandit", {}), store.create_run("b", "bandit", {})
    for seq in range(4):
        store.log(a, seq, {"agent_steps": seq, "wall_time": seq, "x": seq})
        store.log(b, seq, {"agent_steps": seq, "wall_time": seq, "x": 10 + seq})
    full = store.curves([a, b])
    assert len(full) == 8 and list(full.columns[:2]) == ["run_id", "seq"]
    new = store.curves([a, b], since_seq={a: 2, b: 0})
    assert list(zip(new["run_id"], new["x"], strict=True)) == [(a, 3), (b, 11), (b, 12), (b, 13)]
    assert store.curves([a], since_seq=3).empty


def test_git_commit_is_read_once_per_process(tmp_path):
    import workbench.store as S

    store = RunStore(tmp_path / "wb.db")
    for i in range(5):
        store.create_run(f"r{i}", "bandit", {})
    assert S.git_commit.cache_info().misses <= 1


def test_a_run_stopped_by_id_from_another_process_ends_as_stopped(tmp_path):
    db = tmp_path / "wb.db"
    proc, run_id = start_trainer(db)
    assert workbench.stop(run_id, store=db, reason="enough") is True  # this is another process
    assert proc.wait(timeout=60) == 0  # the trainer ends cleanly, not killed
    run = RunStore(db).run(run_id)
    assert run["status"] == "stopped" and run["reason"] == "enough" and run["error"] is None
    assert len(RunStore(db).curve(run_id)) >= 8 and os.path.exists(run["checkpoint"])
    assert run["summary"]["agent_steps"] > 0
    assert workbench.stop(run_id, store=db) is False  # already ended
    with pytest.raises(KeyError, match="no run 'nope'"):
        workbench.stop("nope", store=db)


def test_a_pruned_run_keeps_its_curve_and_reason(tmp_path):
    db = tmp_path / "wb.db"
    handle = workbench.launch("memory", store=db, total_steps=10**9, **FAST)
    deadline = time.time() + 60
    while (handle.latest() is None or handle.latest()["epoch"] < 3) and time.time() < deadline:
        time.sleep(0.05)
    workbench.stop(handle.run_id, store=db, pruned=True, reason="score 0.5 below the line")
    run = handle.wait(timeout=60)
    assert run.status == "pruned" and run.reason == "score 0.5 below the line"
    stored = RunStore(db).runs().iloc[0]
    assert stored["status"] == "pruned" and stored["reason"] == "score 0.5 below the line"
    assert len(RunStore(db).curve(handle.run_id)) >= 3 and os.path.exists(stored["checkpoint"])
    # The handle prunes too, within the epoch.
    other = workbench.launch("memory", store=db, total_steps=10**9, **FAST)
    other.prune("by hand")
    assert other.wait(timeout=60).status == "pruned"


def test_runs_carry_their_sweep_and_tags(tmp_path):
    db = tmp_path / "wb.db"
    store = RunStore(db)
    sweep = store.create_sweep("lr sweep", {"metric": "score"})
    run = workbench.train(
        "bandit", store=db, total_steps=512, eval_episodes=0, sweep=sweep, tags=["a", "b"], **FAST
    )
    df = store.runs(sweep=sweep)
    assert list(df["id"]) == [run.id] and df["tags"].iloc[0] == ["a", "b"]
    assert store.sweeps()["trials"].tolist() == [1]
    with pytest.raises(TypeError, match="tags must be a list of str"):
        workbench.train("bandit", store=db, tags="a", **FAST)


def test_a_run_id_drawn_twice_is_drawn_again(tmp_path, monkeypatch):
    """Ids are a second's time and 24 random bits: a sweep starting thousands of trials a
    second draws one twice now and then (bench sweep-view did); the second run gets a new
    one, while an id given by the caller (a worker's mirror) is never replaced."""
    import sqlite3

    import workbench.store.runs as runs

    store = RunStore(tmp_path / "wb.db")
    taken = store.create_run("a", "bandit", {})
    drawn = iter([taken, taken, "20261208-000000-abcdef"])
    monkeypatch.setattr(runs, "new_id", lambda: next(drawn))
    assert store.create_run("b", "bandit", {}) == "20261208-000000-abcdef"
    with pytest.raises(sqlite3.IntegrityError):
        store.create_run("c", "bandit", {}, run_id=taken)

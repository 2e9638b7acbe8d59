"""A script that launches a run or a sweep and exits ends cleanly: exit code 0, no C++
abort, the run (or sweep and its trial in flight) recorded as stopped with the reason, its
curve and a checkpoint."""

import os
import subprocess
import sys

from workbench.store import RunStore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = "num_envs=32, bptt_horizon=16, minibatch_size=256, rnn=False"


def _script(tmp_path, body: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import time, workbench\n" + body],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


def test_interpreter_exit_stops_a_launched_run_cleanly(tmp_path):
    db = tmp_path / "wb.db"
    out = _script(
        tmp_path,
        f"h = workbench.launch('bandit', store={str(db)!r}, total_steps=10**9, {TRAIN})\n"
        "while h.latest() is None: time.sleep(0.05)\n",
    )
    assert out.returncode == 0, out.stderr
    assert "terminate called" not in out.stderr
    run = RunStore(db).run(RunStore(db).runs()["id"].iloc[0])
    assert run["status"] == "stopped" and run["reason"] == "interpreter exit"
    assert run["cause"] == "exit"
    assert os.path.exists(run["checkpoint"]) and len(RunStore(db).curve(run["id"])) >= 1


def test_interpreter_exit_stops_a_background_sweep_cleanly(tmp_path):
    db = tmp_path / "wb.db"
    definition = {
        "env": "bandit",
        "metric": "perf",
        "cost": "agent_steps",
        "budget": {"trials": 5},
        "train": {"num_envs": 32, "bptt_horizon": 16, "minibatch_size": 256, "rnn": False},
        "space": {
            "learning_rate": {"kind": "log", "min": 1e-3, "max": 0.1},
            "total_steps": {"kind": "log", "min": 10**8, "max": 10**9},
        },
    }
    out = _script(
        tmp_path,
        f"h = workbench.sweep({definition!r}, store={str(db)!r})\n"
        "while not h.running or all(t.get('score') is None for t in h.running.values()):\n"
        "    time.sleep(0.05)\n",
    )
    assert out.returncode == 0, out.stderr
    assert "terminate called" not in out.stderr
    store = RunStore(db)
    record = store.sweeps().iloc[0]
    assert record["status"] == "stopped" and record["ended_because"] == "interpreter exit"
    trial = store.runs().iloc[0]
    assert trial["status"] == "stopped" and os.path.exists(trial["checkpoint"])

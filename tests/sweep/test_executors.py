"""Executors beyond one process: a local process pool and a real Ray cluster, with rows
streamed back, stops that reach remote trials, and workers that die without losing the
sweep."""

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import workbench
from tests.sweep.test_driver import TINY
from workbench.store import RunStore

QUICK = {
    "env": "bandit",
    "name": "pool",
    "metric": "perf",
    "cost": "agent_steps",
    "budget": {"trials": 5, "max_cost": 50_000},
    "train": {
        "num_envs": 32,
        "bptt_horizon": 16,
        "minibatch_size": 256,
        "eval_episodes": 16,
        "rnn": False,
    },
    "space": {
        "learning_rate": {"kind": "log", "min": 1e-3, "max": 0.1},
        "total_steps": {"kind": "log", "min": 20_000, "max": 80_000},
    },
}


def running_worker_pid(db, min_rows=3, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.3)
        if not db.exists():
            continue
        store = RunStore(db)
        runs = store.runs()
        live = runs[runs["status"] == "running"] if len(runs) else runs
        for run_id, pid in zip(live.get("id", []), live.get("pid", []), strict=False):
            if len(store.curve(run_id)) >= min_rows:
                return run_id, int(pid)
    raise AssertionError("no trial produced rows in time")


def test_a_process_pool_runs_trials_at_once_and_survives_a_killed_worker(tmp_path):
    db = tmp_path / "wb.db"
    seen = []
    handle = workbench.sweep(QUICK, store=db, executor="processes", workers=2, on_trial=seen.append)
    run_id, pid = running_worker_pid(db)
    assert pid != os.getpid()  # the trial trains in a worker process
    os.kill(pid, signal.SIGKILL)
    handle.wait(300)
    # 5 trials charged, and the killed one again (its worker's death is not its doing)
    assert handle.status == "finished" and len(seen) == 6
    killed = [r for r in seen if r["run_id"] == run_id]
    assert killed and killed[0]["status"] == "failed"
    again = [r for r in seen if r["params"] == killed[0]["params"] and r["run_id"] != run_id]
    assert again and "origin:rerun" in RunStore(db).run(again[0]["run_id"])["tags"]
    assert killed[0]["error"].startswith("worker process") and "-9" in killed[0]["error"]
    assert RunStore(db).run(run_id)["cause"] == "lost"  # not the config's doing
    store = RunStore(db)
    runs = store.runs(sweep=handle.id)
    assert len(runs) == 6 and "running" not in set(runs["status"])
    # The killed trial keeps the rows it streamed and a summary rebuilt from them.
    assert len(store.curve(run_id)) >= 3 and store.run(run_id)["summary"]["agent_steps"] > 0
    for r in seen:
        if r["status"] in ("finished", "pruned"):
            # Rows and checkpoints came back to the driver's store: same layout as inline.
            assert len(store.curve(r["run_id"])) >= 1
            assert os.path.exists(store.run(r["run_id"])["checkpoint"])
    # Two trials overlapped in time: the pool really ran them at once.
    spans = sorted(zip(runs["started_at"], runs["ended_at"], strict=True))
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans))


def test_a_worker_traceback_and_stops_reach_the_driver(tmp_path):
    db = tmp_path / "wb.db"
    seen = []
    handle = workbench.sweep(
        TINY, store=db, executor="processes", workers=2, background=False, on_trial=seen.append
    )
    assert handle.status == "finished" and len(seen) == 8
    failed = next(r for r in seen if r["index"] == 0)  # the centre: bomb=1, raises in a worker
    assert failed["status"] == "failed" and "injected failure" in failed["error"]
    traceback = RunStore(db).run(failed["run_id"])["error"]
    assert "Traceback" in traceback and "test_driver.py" in traceback  # the worker's frames
    # Stops crossed the process boundary within an epoch: no trial ran past the cap.
    assert all(r["cost"] <= 12_000 + 512 for r in seen if r["cost"] == r["cost"])
    assert any(r["status"] == "pruned" for r in seen)


DRIVER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from tests.sweep.test_executors import QUICK
    import workbench
    if __name__ == "__main__":
        d = dict(QUICK, budget={"trials": 40})
        workbench.sweep(d, store=sys.argv[1], executor="processes", workers=2, background=False)
    """
)


def test_a_killed_driver_takes_its_workers_and_the_sweep_resumes(tmp_path):
    db = tmp_path / "wb.db"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    (tmp_path / "driver.py").write_text(DRIVER)
    proc = subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), str(db), root])
    _, worker = running_worker_pid(db)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        os.kill(worker, signal.SIGKILL)
        raise AssertionError("a worker outlived its driver")
    store = RunStore(db)
    sweep_id = store.sweeps()["id"].iloc[0]
    runs = store.runs(sweep=sweep_id)
    started, killed = len(runs), int((runs["cause"] == "killed").sum())
    assert killed >= 1  # the trials in flight died with their driver
    resumed = workbench.sweep(None, resume=sweep_id, store=db, trials=started + 2, background=False)
    assert resumed.status == "finished"
    # the killed trials ran again, uncharged: 2 more charged trials, and the re-runs
    assert len(RunStore(db).runs(sweep=sweep_id)) == started + 2 + killed


# -- a real Ray cluster of two nodes on this machine --


def ray_cli(*args, check=True):
    exe = os.path.join(os.path.dirname(sys.executable), "ray")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=180, check=check)


@pytest.fixture
def ray_cluster(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    from tests.ui.test_browser import free_port

    # Nodes on one machine share no token file setup: run this private cluster without.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    port = free_port()
    small = ["--object-store-memory=200000000"]
    try:
        ray_cli(
            "start",
            "--head",
            f"--port={port}",
            "--num-cpus=0",  # trials go to the worker nodes
            "--disable-usage-stats",
            "--include-dashboard=false",
            *small,
        )
        for _ in range(2):
            ray_cli("start", f"--address=127.0.0.1:{port}", "--num-cpus=1", *small)
        yield f"127.0.0.1:{port}"
    finally:
        ray_cli("stop", "--force", check=False)


def test_a_sweep_on_a_ray_cluster_survives_a_lost_node(tmp_path, ray_cluster):
    import psutil

    db = tmp_path / "wb.db"
    seen = []
    d = dict(QUICK, budget={"trials": 4}, executor_options={"address": ray_cluster})
    handle = workbench.sweep(d, store=db, executor="ray", workers=2, on_trial=seen.append)
    run_id, pid = running_worker_pid(db)
    # The trial's actor runs under its node's raylet: kill that node outright.
    raylet = psutil.Process(pid).parent()
    assert "raylet" in " ".join(raylet.cmdline())
    for p in [*raylet.children(recursive=True), raylet]:
        p.kill()
    ray_cli("start", f"--address={ray_cluster}", "--num-cpus=1", "--object-store-memory=200000000")
    handle.wait(300)
    lost = [r for r in seen if r["status"] == "failed" and "lost" in (r["error"] or "")]
    # 4 trials charged; each lost one (not its config's doing) ran again, uncharged, once:
    # a re-run the node's loss took too (the same params again) is charged, not re-run
    firsts = [r for i, r in enumerate(lost) if all(o["params"] != r["params"] for o in lost[:i])]
    assert handle.status == "finished" and len(seen) == 4 + len(firsts), handle.error
    first = next(r for r in seen if r["run_id"] == run_id)
    assert first["status"] == "failed" and "ray actor or node lost" in first["error"]
    for r in lost:
        assert any(o["params"] == r["params"] and o is not r for o in seen)
    store = RunStore(db)
    for r in seen:
        if r["status"] == "finished":
            assert len(store.curve(r["run_id"])) >= 1  # rows streamed back over Ray
            assert os.path.exists(store.run(r["run_id"])["checkpoint"])


def test_the_ray_executor_says_what_to_install_when_ray_is_missing(monkeypatch):
    import builtins

    from workbench.sweep.executors.ray import import_ray

    real = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ImportError, match=r"pip install 'workbench\[ray\]'"):
        import_ray()

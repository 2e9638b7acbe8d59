"""Sweeps of real training runs: trials recorded with the sweep id, curve points, pruning,
failures that never stop the sweep, a hard cost cap, Ctrl-C, kill -9 and resume."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import workbench
from tests.processes import sigint_default
from workbench.envs.bandit import Bandit
from workbench.envs.registry import Param
from workbench.ppo.config import make_config, read_config_file
from workbench.store import RunStore
from workbench.sweep.definition import (
    DefinitionError,
    build_sweeper,
    load,
    load_recorded,
)
from workbench.sweep.driver import sweep


class BombBandit(Bandit):
    """A bandit that raises partway through a run when ``bomb`` is 1 (an injected failure)."""

    name = "bomb-bandit"
    PARAMS = {**Bandit.PARAMS, "bomb": Param(0, int, "1: raise after 100 steps", low=0, high=1)}

    def __init__(self, num_envs=1, seed=0, log_interval=128, arms=4, bomb=0):
        super().__init__(num_envs, seed=seed, log_interval=log_interval, arms=arms)
        self.bomb, self.steps = bomb, 0

    def step(self, actions):
        self.steps += 1
        if self.bomb and self.steps > 100:
            raise RuntimeError("injected failure")
        return super().step(actions)


workbench.envs.register("bomb-bandit", BombBandit)

TINY = {
    "env": "bomb-bandit",
    "name": "tiny",
    "metric": "perf",
    "cost": "agent_steps",
    "budget": {"trials": 8, "max_cost": 12_000},
    "train": {
        "num_envs": 32,
        "bptt_horizon": 16,
        "minibatch_size": 256,
        "eval_episodes": 16,
        "rnn": False,
    },
    "space": {
        "learning_rate": {"kind": "log", "min": 1e-3, "max": 0.1},
        "total_steps": {"kind": "log", "min": 8192, "max": 65536},
        "bomb": {"kind": "categorical", "values": [1, 0]},  # the centre, tried first, fails
    },
}


def test_a_tiny_real_sweep_records_trials_prunes_and_survives_a_failure(tmp_path):
    db = tmp_path / "wb.db"
    seen = []
    handle = workbench.sweep(TINY, store=db, background=False, on_trial=seen.append)
    assert handle.status == "finished" and len(seen) == 8
    assert handle.ended_because == "budget of 8 trials spent"
    runs = RunStore(db).runs(sweep=handle.id)
    assert len(runs) == 8 and set(runs["tags"].map(tuple)) == {("sweep:tiny", "origin:suggested")}
    statuses = [r["status"] for r in seen]
    assert statuses[0] == "failed" and "finished" in statuses and "pruned" in statuses
    assert seen[0]["params"]["bomb"] == 1 and "injected failure" in seen[0]["error"]
    assert RunStore(db).run(seen[0]["run_id"])["status"] == "failed"  # recorded, sweep went on
    pruned = next(r for r in seen if r["status"] == "pruned")
    assert pruned["reason"].startswith(("cost cap", "below the quantile line"))
    assert len(RunStore(db).curve(pruned["run_id"])) >= 1  # a pruned trial keeps its curve
    # The cap is hard: no trial ran past it by more than one epoch (512 steps). (The design
    # tries lengths up to the space's center, 23,170 steps here, so some trials reach it.)
    assert all(r["cost"] <= 12_000 + 512 for r in seen if r["cost"] == r["cost"])
    # Curve points entered as shorter runs: same parameters, fewer steps, cheaper.
    obs = RunStore(db).observations(handle.id)
    done = next(r for r in seen if r["status"] == "finished")
    points = obs[obs["run_id"] == done["run_id"]]
    steps = [p["total_steps"] for p in points["params"]]
    assert (
        len(points) >= 3 and steps == sorted(steps) and steps[-1] == done["params"]["total_steps"]
    )
    assert list(points["cost"]) == sorted(points["cost"])
    assert all(p["learning_rate"] == done["params"]["learning_rate"] for p in points["params"])
    # Failures taught the engine: the success model saw them.
    assert obs["failed"].any() and handle.sweeper.observations["failed"].any()
    table = handle.results()
    assert list(table.columns[:5]) == ["run_id", "name", "status", "score", "cost"]
    # The best trial exports as a config file that rebuilds its config exactly.
    path = handle.export(tmp_path / "best.toml")
    stored = RunStore(db).run(handle.best()["run_id"])["config"]
    rebuilt = make_config("bomb-bandit", **read_config_file(path)).to_dict()
    assert rebuilt == {**stored, "name": ""}
    guess = handle.sweeper.predict({k: handle.best()[k] for k in TINY["space"]})
    assert guess is not None and 0 <= guess["p_success"] <= 1 and guess["cost"] > 0
    best = handle.best()
    assert (
        best["status"] == "finished"
        and best["score"] == table.query("status == 'finished'")["score"].max()
    )


TIMED = {
    **TINY,
    "name": "timed",
    "space": {
        "learning_rate": {"kind": "log", "min": 1e-3, "max": 0.1},
        "total_steps": {"kind": "log", "min": 16384, "max": 65536},
    },
}


def test_an_hours_budget_stops_the_trial_in_flight_at_the_deadline(tmp_path):
    db = tmp_path / "wb.db"
    definition = {**TIMED, "budget": {"hours": 2 / 3600}}  # agent-steps cost: no time cap
    definition["space"] = {**TIMED["space"], "total_steps": {"kind": "log", "min": 2e6, "max": 4e6}}
    seen, start = [], time.time()
    handle = workbench.sweep(definition, store=db, background=False, on_trial=seen.append)
    assert handle.status == "finished" and time.time() - start < 30
    assert [r["status"] for r in seen] == ["stopped"]
    assert seen[0]["reason"] == "sweep budget of 2 s spent"
    assert handle.ended_because == "budget of 2 s spent"
    assert RunStore(db).run(seen[0]["run_id"])["status"] == "stopped"
    assert len(RunStore(db).curve(seen[0]["run_id"])) >= 1  # its curve is kept
    assert RunStore(db).sweep(handle.id)["status"] == "finished"


def test_with_wall_clock_cost_no_trial_starts_that_cannot_end_in_the_time_left(tmp_path):
    db = tmp_path / "wb.db"
    first = workbench.sweep({**TIMED, "cost": "wall_time"}, trials=4, store=db, background=False)
    assert first.status == "finished"
    left = 0.05
    cheapest = first.results().query("status == 'finished'")["cost"].min()
    assert cheapest > 4 * left  # each run takes far longer than the budget below
    # Resumed with a twentieth of a second left (the time budget goes on from what was
    # spent): the engine knows no run fits, so none starts (with no time cap one would, to
    # be stopped at the deadline and recorded).
    spent = RunStore(db).sweep(first.id)["spent_s"]
    again = workbench.sweep(
        None, resume=first.id, trials=10, hours=(spent + left) / 3600, store=db, background=False
    )
    assert again.status == "finished"
    assert again.ended_because.startswith("no run is predicted to end in the 0.0")
    assert len(RunStore(db).runs(sweep=first.id)) == 4
    assert again.sweeper.n_suggested == 4


def test_suggestions_are_configs_the_trainer_accepts():
    d = load("sweeps/breakout.toml")
    sweeper = build_sweeper(d)
    rng = np.random.default_rng(0)
    for i in range(60):
        params = d.coerce(sweeper.suggest())
        cfg = make_config(d.env, **d.trial_config(params))  # raises if the trainer refuses
        assert cfg.minibatch_size <= cfg.batch_size()
        cost = params["total_steps"] / 1e5 * (1 + rng.random())
        sweeper.observe(params, float(rng.random() * 400), cost, failed=i % 9 == 8)


@pytest.mark.parametrize(
    "change,message",
    [
        (
            {"space": {"learning_rat": {"kind": "log", "min": 0.01, "max": 0.1}}},
            "did you mean 'learning_rate'",
        ),
        ({"space": {"learning_rate": {"kind": "log", "min": 0.1, "max": 0.01}}}, "min"),
        ({"space": {"learning_rate": {"kind": "log", "min": 0.0, "max": 0.1}}}, "learning_rate"),
        ({"metric": "scor"}, "did you mean 'score'"),
        ({"cost": "epochs"}, "cost must be one of"),
        ({"constraints": ["learning_rate > 1"]}, "learning_rate > 1"),
        ({"budget": {"trials": 0}}, "budget.trials must be a number > 0"),
        ({"executor": "dask"}, "unknown executor 'dask'"),
        ({"env": "breakot"}, "did you mean 'breakout'"),
        ({"colour": "red"}, "unknown key 'colour'"),
    ],
)
def test_a_bad_definition_is_refused_at_load(change, message):
    data = {"env": "breakout", **change}
    with pytest.raises((DefinitionError, ValueError), match=message):
        load(data)


def test_every_shipped_definition_loads():
    for path in sorted(os.listdir("sweeps")):
        d = load(f"sweeps/{path}")
        assert d.space and (d.trials or d.hours) and d.max_cost


SWEEPER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from tests.sweep.test_driver import TINY
    from workbench.sweep.driver import sweep
    slow = dict(TINY, budget={"trials": 50})
    slow["space"] = dict(TINY["space"], bomb={"kind": "categorical", "values": [0]})
    sweep(slow, store=sys.argv[1], background=False)
    """
)


def start_sweeper(db, root):
    proc = subprocess.Popen(
        [sys.executable, "-c", SWEEPER, str(db), str(root)], stderr=subprocess.PIPE
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        time.sleep(0.5)
        if db.exists():
            store = RunStore(db)
            sweeps = store.sweeps()
            if len(sweeps) and sweeps["trials"].iloc[0] >= 3:
                return proc, sweeps["id"].iloc[0]
    proc.kill()
    raise AssertionError(f"the sweep did not start 3 trials: {proc.stderr.read()}")


def test_kill_9_then_resume_reruns_the_killed_trial_and_loses_nothing(tmp_path):
    import tests.sweep.test_driver as here

    db = tmp_path / "wb.db"
    root = os.path.dirname(os.path.dirname(os.path.dirname(here.__file__)))
    proc, sweep_id = start_sweeper(db, root)
    time.sleep(6)  # long enough for the time spent to be written (every 5 s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store = RunStore(db)  # reading shows the killed sweep as failed, writing nothing
    assert store.sweep(sweep_id)["status"] == "failed"
    spent = store.sweep(sweep_id)["spent_s"]
    assert spent > 0
    runs = store.runs(sweep=sweep_id)
    started = len(runs)
    killed = runs[runs["cause"] == "killed"].iloc[0]  # the trial in flight when it died
    d = load_recorded(store.sweep(sweep_id)["definition"])
    # Resumed: the killed trial runs again, uncharged, then one more suggestion; the time
    # budget goes on from what was spent.
    resumed = sweep(None, resume=sweep_id, store=db, trials=started + 1, background=False)
    assert resumed.status == "finished" and resumed.resumed
    runs = RunStore(db).runs(sweep=sweep_id)
    assert len(runs) == started + 2
    assert RunStore(db).run(killed["id"])["cause"] == "killed"
    rerun, last = runs.iloc[-2], runs.iloc[-1]
    assert "origin:rerun" in rerun["tags"]
    assert rerun["learning_rate"] == pytest.approx(killed["learning_rate"])
    # The last suggestion is the one the dead sweep would have made after its trial in
    # flight: an engine rebuilt by hand from the history without the killed trial's partial
    # curve (its re-run's full curve stands in for it) and before the last trial.
    obs = RunStore(db).observations(sweep_id)
    seen = obs[(obs["run_id"] != killed["id"]) & (obs["run_id"] != last["id"])]
    expected = build_sweeper(d, n_suggested=started).replay(seen)
    want = d.coerce(expected.suggest())
    assert last["learning_rate"] == pytest.approx(want["learning_rate"])
    assert last["total_steps"] == want["total_steps"]
    assert RunStore(db).sweep(sweep_id)["spent_s"] > spent
    # the resumed handle shows the whole sweep, not only this session's trials
    assert len(resumed.trials) == started + 2 and all("index" in t for t in resumed.trials)


CLI_SWEEP = """
name = "ctrl-c"
env = "bandit"
metric = "perf"
cost = "agent_steps"
[budget]
trials = 100
[train]
num_envs = 32
bptt_horizon = 16
minibatch_size = 256
rnn = false
eval_episodes = 8
[space]
learning_rate = { kind = "log", min = 0.001, max = 0.1 }
total_steps = { kind = "log", min = 200000, max = 400000 }
"""


def test_ctrl_c_stops_a_cli_sweep_cleanly(tmp_path):
    (tmp_path / "s.toml").write_text(CLI_SWEEP)
    db = tmp_path / "wb.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "sweep", str(tmp_path / "s.toml"), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.5)
        if db.exists():
            runs = RunStore(db).runs()
            if len(runs) and len(RunStore(db).curve(runs["id"].iloc[0])) >= 2:
                break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "resume with --resume" in err and "Traceback" not in err
    store = RunStore(db)
    assert store.sweeps()["status"].tolist() == ["stopped"]
    statuses = store.runs()["status"].tolist()
    assert statuses[-1] == "stopped" and "running" not in statuses  # the trial in flight, kept

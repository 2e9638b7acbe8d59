"""Steering a sweep: edit its space, queue trials, reseed the best, stop one trial, pause,
extend, warm-start; requests from another process; resume after kill -9 loses nothing."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import workbench
from workbench.store import RunStore
from workbench.sweep.definition import DefinitionError, build_sweeper, load
from workbench.sweep.driver import recorded
from workbench.sweep.steering import edited
from workbench.sweep.suggest import rejection_sample

TRAIN = {
    "num_envs": 32,
    "bptt_horizon": 16,
    "minibatch_size": 256,
    "eval_episodes": 8,
    "rnn": False,
    "hidden_size": 32,
}
SPACE = {
    "learning_rate": {"kind": "log", "min": 1e-3, "max": 0.1},
    "total_steps": {"kind": "log", "min": 2048, "max": 8192},
    "gamma": {"kind": "categorical", "values": [0.9, 0.95, 0.99]},
}
SMALL = {
    "env": "bandit",
    "name": "steer",
    "metric": "perf",
    "cost": "agent_steps",
    "budget": {"trials": 3},
    "train": TRAIN,
    "space": SPACE,
    "constraints": ["learning_rate <= 0.08"],
    "early_stopping": False,
}
LONG = {**SMALL, "space": {**SPACE, "total_steps": {"kind": "log", "min": 10**7, "max": 10**8}}}


def _wait(predicate, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_an_edit_narrows_every_later_suggestion_and_keeps_what_was_seen():
    d = load(SMALL)
    narrow = edited(d, space={"learning_rate": {"kind": "log", "min": 0.01, "max": 0.02}})
    sweeper = build_sweeper(narrow)
    # an earlier observation outside the new range stays data
    sweeper.observe({"learning_rate": 0.001, "total_steps": 4096, "gamma": 0.9}, 0.5, 4096)
    assert len(sweeper.observations) == 1
    u = rejection_sample(sweeper.space, sweeper.constraints, np.random.default_rng(0), 10_000)
    lr = sweeper.space.columns(u)["learning_rate"]
    assert len(lr) >= 10_000 and lr.min() >= 0.01 - 1e-12 and lr.max() <= 0.02 + 1e-12
    # a categorical narrowed: the model keeps the values, suggestions never take them
    fewer = edited(d, space={"gamma": {"kind": "categorical", "values": [0.99]}})
    sweeper = build_sweeper(fewer)
    sweeper.observe({"learning_rate": 0.01, "total_steps": 4096, "gamma": 0.9}, 0.5, 4096)
    u = rejection_sample(sweeper.space, sweeper.constraints, np.random.default_rng(1), 10_000)
    assert set(sweeper.space.columns(u)["gamma"]) == {0.99}


def test_a_pin_removes_the_parameter_and_a_bad_edit_changes_nothing(tmp_path):
    d = load(SMALL)
    pinned = edited(d, space={"gamma": 0.95})
    assert "gamma" not in pinned.space and pinned.train["gamma"] == 0.95
    h = workbench.sweep(SMALL, store=tmp_path / "wb.db", trials=1, background=False)
    before = h.definition
    bad = [
        (dict(space={"lerning_rate": {"kind": "log", "min": 0.1, "max": 1}}), "lerning_rate"),
        (dict(space={"learning_rate": {"kind": "log", "min": 0.1, "max": 0.01}}), "min"),
        (dict(constraints=["learning_rate > 1"]), "no point satisfies"),
        (dict(fixed={"learning_rate": 0.1}), "pin it"),
    ]
    for edit, words in bad:
        with pytest.raises(DefinitionError, match=words):
            h.edit(**edit)
    assert h.history().empty and h.definition == before


def test_enqueue_runs_next_with_its_params_and_reseed_groups_seeds(tmp_path):
    db = tmp_path / "wb.db"
    h = workbench.sweep(SMALL, store=db, background=False)
    wanted = {"learning_rate": 0.05, "total_steps": 4096, "gamma": 0.9}
    with pytest.raises(DefinitionError, match=r"breaks the constraint 'learning_rate <= 0\.08'"):
        h.enqueue({**wanted, "learning_rate": 0.09})
    assert h.history().empty  # refused: nothing recorded
    h.enqueue(wanted)
    h.extend(trials=1).wait(300)
    last = h.results().iloc[-1]
    assert {k: last[k] for k in wanted} == pytest.approx(wanted)
    assert h.status == "finished" and len(h.results()) == 4
    # reseed the best config on 2 fresh seeds: grouped in configs() and best(); a
    # parameter pinned since keeps the config's own value
    best = h.best()
    other = next(g for g in SPACE["gamma"]["values"] if g != best["gamma"])
    h.edit(space={"gamma": other})
    h.reseed(k=1, seeds=2)
    h.extend(trials=2).wait(300)
    runs = RunStore(db).runs(sweep=h.id)
    assert len(runs) == 6
    again = runs.iloc[-2:]
    assert set(again["gamma"]) == {best["gamma"]} and sorted(again["seed"]) == [1, 2]
    assert set(again["learning_rate"]) == {best["learning_rate"]}
    top = h.configs().sort_values("seeds").iloc[-1]
    assert top["seeds"] == 3 and h.best()["seeds"] == 3
    kinds = h.history()["kind"].tolist()
    assert kinds == ["enqueue", "extend", "edit", "reseed", "extend"]


def test_stop_trial_pause_and_resume(tmp_path):
    db = tmp_path / "wb.db"
    h = workbench.sweep(LONG, store=db, trials=5)
    try:
        _wait(lambda: any(p.get("run_id") for p in h.running.values()))
        run_id = next(p["run_id"] for p in h.running.values() if p.get("run_id"))
        h.pause()
        assert h.stop_trial(run_id, "looks hopeless")
        _wait(lambda: RunStore(db).run(run_id)["status"] != "running")
        record = RunStore(db).run(run_id)
        assert record["status"] == "stopped" and record["reason"] == "looks hopeless"
        time.sleep(1.5)  # paused: nothing new starts, the sweep goes on
        assert len(RunStore(db).runs(sweep=h.id)) == 1 and not h.done
        h.resume()
        _wait(lambda: len(RunStore(db).runs(sweep=h.id)) == 2)
    finally:
        h.stop()
        h.wait(120)
    assert h.status == "stopped"


def test_a_request_from_another_process_takes_effect(tmp_path):
    db = tmp_path / "wb.db"
    h = workbench.sweep(LONG, store=db, trials=50)
    try:
        _wait(lambda: bool(h.running))
        script = (
            "from workbench.sweep.driver import recorded\n"
            f"h = recorded({h.id!r}, {str(db)!r})\n"
            "h.edit(space={'learning_rate': {'kind': 'log', 'min': 0.02, 'max': 0.03}})\n"
        )
        subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
        _wait(lambda: h.definition.space["learning_rate"]["min"] == 0.02)
        assert RunStore(db).events(h.id)["applied_at"].notna().all()
    finally:
        h.stop()
        h.wait(120)
    # the history replays: the recorded sweep runs with the edited space
    assert recorded(h.id, db).definition.space["learning_rate"]["max"] == 0.03


def test_warm_start_fits_the_models_before_the_first_suggestion(tmp_path):
    db = tmp_path / "wb.db"
    first = workbench.sweep(SMALL, store=db, trials=6, background=False)
    second = workbench.sweep(SMALL, store=db, trials=1, warm_start=[first.id], background=False)
    assert second.definition.warm_start == [first.id]
    assert "design" not in second.sweeper.last_info  # the first suggestion used the models
    assert len(second.sweeper.observations) < len(first.sweeper.observations)  # not its own
    with pytest.raises(DefinitionError, match="same env"):
        other = {**SMALL, "env": "memory", "space": {"learning_rate": SPACE["learning_rate"]}}
        workbench.sweep(other, store=db, trials=1, warm_start=[first.id], background=False)


def test_repeats_rerun_each_new_front_config_on_more_seeds(tmp_path):
    h = workbench.sweep({**SMALL, "repeats": 2}, store=tmp_path / "wb.db", background=False)
    runs = h.results()
    assert len(runs) == 3
    first = runs.iloc[0]  # the first config to finish is on the front: it ran again
    twins = runs[runs["learning_rate"] == first["learning_rate"]]
    assert len(twins) == 2 and sorted(twins["seed"]) == [0, 1]
    tags = RunStore(tmp_path / "wb.db").run(twins.iloc[1]["run_id"])["tags"]
    assert "origin:repeat" in tags


def test_a_zombie_process_is_not_counted_alive():
    from workbench.store.reaping import pid_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 30
    while time.time() < deadline:  # exited, not yet collected: a zombie
        with open(f"/proc/{child.pid}/stat") as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                break
        time.sleep(0.05)
    assert not pid_alive(child.pid)
    child.wait()
    assert not pid_alive(child.pid) and pid_alive(os.getpid())

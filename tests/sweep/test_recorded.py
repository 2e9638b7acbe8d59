"""One way to open a recorded sweep (``driver.recorded``, used by resume, the view and the
CLI): definitions stored with a version and upgraded, why a sweep ended kept in the store,
failures told apart by a typed cause."""

import pytest

import workbench
from workbench.notebook.sweepview import load_handle
from workbench.store import RunStore
from workbench.sweep.definition import DEFINITION_VERSION, DefinitionError, load, load_recorded
from workbench.sweep.driver import recorded

SMALL = {
    "env": "bandit",
    "name": "small",
    "metric": "perf",
    "cost": "agent_steps",
    "budget": {"trials": 2},
    "train": {
        "num_envs": 32,
        "bptt_horizon": 16,
        "minibatch_size": 256,
        "eval_episodes": 0,
        "rnn": False,
        "hidden_size": 32,
    },
    "space": {
        "learning_rate": {"kind": "log", "min": 1e-3, "max": 0.1},
        "total_steps": {"kind": "log", "min": 2048, "max": 8192},
    },
}

# What a release before definitions carried a version wrote (no ``length``, ``repeats``,
# ``warm_start``).
VERSION_0 = {
    "env": "bandit",
    "name": "old",
    "metric": "perf",
    "cost": "agent_steps",
    "seed": 3,
    "trials": 2,
    "hours": None,
    "max_cost": None,
    "max_memory_gb": None,
    "workers": 1,
    "train": SMALL["train"],
    "env_params": {},
    "space": SMALL["space"],
    "constraints": [],
    "executor": "inline",
    "executor_options": {},
    "early_stopping": True,
    "curve_points": 8,
    "source": None,
}


def test_a_definition_is_stored_with_its_version_and_read_back_equal():
    d = load(SMALL)
    record = d.to_record()
    assert record["version"] == DEFINITION_VERSION
    assert load_recorded(record) == d


def test_an_older_record_is_upgraded_and_its_sweep_resumes(tmp_path):
    d = load_recorded(VERSION_0)
    assert d.length == "total_steps" and d.seed == 3 and d.sweeps_length
    # a sweep an older release recorded resumes in this one
    store = RunStore(tmp_path / "wb.db")
    sweep_id = store.create_sweep("old", VERSION_0)
    store.finish_sweep(sweep_id, "stopped")
    handle = workbench.sweep(None, resume=sweep_id, store=store, trials=1, background=False)
    assert handle.status == "finished" and len(store.runs(sweep=sweep_id)) == 1
    assert load_handle(sweep_id, store).definition.length == handle.definition.length


def test_a_record_this_release_cannot_read_is_refused_with_the_reason():
    with pytest.raises(DefinitionError, match="newer workbench"):
        load_recorded({**VERSION_0, "version": DEFINITION_VERSION + 1})
    with pytest.raises(DefinitionError, match=r"unknown fields \['colour'\]"):
        load_recorded({**VERSION_0, "colour": "blue"})


def test_why_a_sweep_ended_is_kept_in_the_store(tmp_path):
    db = tmp_path / "wb.db"
    handle = workbench.sweep(SMALL, store=db, background=False)
    assert handle.ended_because == "budget of 2 trials spent"
    store = RunStore(db)
    assert store.sweep(handle.id)["ended_because"] == "budget of 2 trials spent"
    assert store.sweeps()["ended_because"].tolist() == ["budget of 2 trials spent"]
    again = recorded(handle.id, store)  # another process opening it reads the same
    assert again.ended_because == handle.ended_because and again.status == "finished"
    # its engine is the recorded one: same observations, same next suggestion
    assert len(again.sweeper.observations) == len(handle.sweeper.observations)
    assert again.sweeper.suggest() == handle.sweeper.suggest()


def test_a_failure_carries_whose_doing_it_was(tmp_path):
    store = RunStore(tmp_path / "wb.db")
    a = store.create_run("a", "bandit", {})
    b = store.create_run("b", "bandit", {})
    store.finish(a, "failed", {}, "RuntimeError: boom")
    store.finish(b, "failed", {}, "worker process 7 died", cause="lost")
    assert store.run(a)["cause"] == "config" and store.run(b)["cause"] == "lost"
    with pytest.raises(ValueError, match="cause must be one of"):
        store.finish(a, "failed", {}, "x", cause="gremlins")

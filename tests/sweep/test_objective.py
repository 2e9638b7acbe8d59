"""Sweeps of a Python function (``workbench.sweep(objective=f, ...)``): its trials are runs
of the sweep in a real store, its curves come from ``report``, its failures are trials,
its bad input is refused in one line, and the view, steering and resume work on it."""

import json
import math
import re
import time
from pathlib import Path

import pytest

import workbench
from workbench.notebook import SweepView
from workbench.store import RunStore
from workbench.sweep.definition import DefinitionError
from workbench.sweep.driver import recorded

XY = {
    "x": {"kind": "linear", "min": -1.0, "max": 1.0},
    "y": {"kind": "linear", "min": -1.0, "max": 1.0},
}


def quadratic(x, y):
    return -((x - 0.3) ** 2) - (y + 0.2) ** 2


def priced(x, y):
    """A score and a cost of its own: the cost grows with x."""
    return quadratic(x, y), 1.0 + 10.0 * (x + 1.0)


def learner(lr, epochs, report):
    """A training loop in miniature: the score climbs towards a ceiling set by lr."""
    ceiling = 1.0 - (math.log10(lr) + 2.0) ** 2
    score = 0.0
    for epoch in range(1, epochs + 1):
        score = ceiling * (1.0 - 0.7**epoch)
        report(score, step=epoch)
    return score


def fragile(x, y):
    if x > 0.5:
        raise ValueError(f"diverged at x={x:.2f}")
    return quadratic(x, y)


def sweep(tmp_path, objective, space=XY, **kwargs):
    kwargs.setdefault("background", False)
    return workbench.sweep(objective=objective, space=space, store=tmp_path / "wb.db", **kwargs)


def test_a_quadratic_sweep_finds_its_optimum_and_records_each_call_as_a_run(tmp_path):
    handle = sweep(tmp_path, quadratic, trials=30)
    assert handle.status == "finished"
    assert handle.ended_because == "budget of 30 trials spent"
    best = handle.best()
    assert best["score"] > -0.01, best
    assert abs(best["x"] - 0.3) < 0.1 and abs(best["y"] + 0.2) < 0.1, best
    runs = handle.store.runs(sweep=handle.id)
    assert len(runs) == 30 and set(runs["status"]) == {"finished"}
    assert set(runs["env"]) == {"objective:tests.sweep.test_objective:quadratic"}
    one = handle.store.run(runs["id"][0])
    assert set(one["config"]) == {"x", "y", "seed"}  # its arguments, and the sweep's seed
    assert one["summary"]["env/score"] == pytest.approx(
        quadratic(one["config"]["x"], one["config"]["y"])
    )
    # cost: the call's own seconds (a cheap function's are tiny, and all > 0)
    assert 0 < one["summary"]["wall_time"] < 1.0
    # the store holds data only: the function is named, never pickled
    definition = handle.store.sweep(handle.id)["definition"]
    assert definition["objective"] == "tests.sweep.test_objective:quadratic"
    json.dumps(definition)


def test_a_score_and_cost_pair_sets_the_cost(tmp_path):
    handle = sweep(tmp_path, priced, trials=8)
    results = handle.results()
    assert list(results["cost"]) == pytest.approx([1.0 + 10.0 * (x + 1.0) for x in results["x"]])
    observed = handle.store.observations(handle.id)
    assert list(observed["cost"]) == pytest.approx(list(results["cost"]))


def test_reported_curves_are_stored_and_teach_the_engine_their_points(tmp_path):
    space = {
        "lr": {"kind": "log", "min": 1e-4, "max": 1.0},
        "epochs": {"kind": "int", "min": 4, "max": 20},
    }
    handle = sweep(
        tmp_path,
        learner,
        space,
        trials=6,
        cost="agent_steps",
        length="epochs",
        early_stopping=False,
    )
    runs = handle.store.runs(sweep=handle.id)
    curves = handle.store.curves(list(runs["id"]))
    for run in runs.to_dict("records"):
        rows = curves[curves["run_id"] == run["id"]]
        epochs = run["epochs"]
        assert list(rows["agent_steps"]) == list(range(1, epochs + 1))
        assert rows["env/score"].iloc[-1] == pytest.approx(run["score"])
        assert run["agent_steps"] == epochs  # the cost: steps reported
    observed = handle.store.observations(handle.id)
    points = [o for o in observed.to_dict("records") if o["params"]["epochs"] < 4]
    assert len(observed) > len(runs) and points  # curve points, as shorter runs


def _climber(x, report):
    for step in range(1, 100):
        report(x * step, cost=float(step), step=step)
    raise AssertionError("the cost cap should have ended this call")


def test_a_prune_inside_report_ends_the_call_and_keeps_its_curve(tmp_path):
    handle = sweep(
        tmp_path,
        _climber,
        {"x": {"kind": "linear", "min": 0.1, "max": 1.0}},
        trials=3,
        cost="agent_steps",
        max_cost=5,
    )
    runs = handle.store.runs(sweep=handle.id)
    assert set(runs["status"]) == {"pruned"}
    assert all(r.startswith("cost cap: agent_steps 5") for r in runs["reason"])
    assert len(handle.store.curve(runs["id"][0])) == 5


def test_an_exception_fails_its_trial_and_the_sweep_goes_on(tmp_path):
    handle = sweep(tmp_path, fragile, trials=16, seed=3)
    assert handle.status == "finished"
    results = handle.results()
    failed = results[results["status"] == "failed"]
    assert len(failed) and (failed["x"] > 0.5).all()
    assert all(re.fullmatch(r"ValueError: diverged at x=[01]\.\d\d", e) for e in failed["error"])
    assert (results[results["status"] == "finished"]["x"] <= 0.5).all()
    observed = handle.store.observations(handle.id)
    assert observed["failed"].sum() == len(failed)  # the engine learnt where it fails
    assert handle.store.run(failed["run_id"].iloc[0])["cause"] == "config"


def _returns(value):
    def f(x):
        return value

    f.__qualname__ = "f"
    return f


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", "objective f returned 'abc' (str); return a number (the score), (score, cost)"),
        (float("nan"), "objective f returned a score of nan; return a finite number"),
        (None, "objective f returned None and reported nothing: return the score"),
        ((1.0, -2.0), "objective f returned (score, cost) with cost -2.0; a cost (wall_time)"),
        ((1.0, 2.0, 3.0), "objective f returned (1.0, 2.0, 3.0) (tuple); return a number"),
    ],
)
def test_a_bad_result_fails_its_trial_with_one_clear_line(tmp_path, value, message):
    space = {"x": {"kind": "linear", "min": 0.0, "max": 1.0}}
    handle = sweep(tmp_path, _returns(value), space, trials=2)
    results = handle.results()
    assert set(results["status"]) == {"failed"}
    error = handle.store.run(results["run_id"][0])["error"]
    assert error.startswith(message) and "\n" not in error


def _takes(x, y=0.0):
    return x


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(objective=3, space=XY), "objective must be a function f(**params) returning a"),
        (dict(objective=quadratic, space=[1, 2]), "space must be a non-empty dict like"),
        (dict(objective=quadratic, space={"x": {"kind": "lin"}}), "x: unknown kind 'lin'"),
        (dict(objective=_takes, space=XY, fixed={"z": 1}), "takes no argument 'z'"),
        (
            dict(objective=quadratic, space={"x": XY["x"]}),
            "requires 'y': sweep it (space={...}) or fix it",
        ),
        (dict(objective=quadratic, space=XY, fixed={"x": 1}), "['x'] are both swept"),
        (dict(objective=quadratic, space=XY, direction="minimize"), "return (or report) -loss"),
        (dict(objective=quadratic, space=XY, metric="loss"), "metric 'loss': an objective's"),
        (dict(objective=quadratic, space=XY, fixed={"f": object()}), "is not plain data"),
        (dict(objective=quadratic, space=XY, constraints=["x > 2"]), "x > 2"),
        (dict(objective=lambda x, y: x, space=XY, executor="processes"), "cannot be pickled"),
        (dict(space=XY), "these define a sweep of objective=f"),
    ],
)
def test_bad_input_is_refused_in_one_line_before_anything_runs(tmp_path, kwargs, message):
    db = tmp_path / "wb.db"
    with pytest.raises(DefinitionError) as caught:
        workbench.sweep(store=db, trials=2, background=False, **kwargs)
    text = str(caught.value)
    assert message in text and "\n" not in text, text
    assert RunStore(db).sweeps().empty


def test_the_view_draws_an_objective_sweep_live_and_by_id(tmp_path):
    handle = sweep(tmp_path, fragile, trials=10, seed=1)
    for view in (
        SweepView(handle, autostart=False),
        SweepView(handle.id, store=handle.store.path, autostart=False),
    ):
        data = {t.meta: t for t in view.fig.data}
        finished = handle.results().query("status == 'finished'")
        assert sorted(data["trials"].y) == pytest.approx(sorted(finished["score"]))
        assert len(data["failed"].x) == 10 - len(finished)
        assert all(isinstance(v, float) for v in view.state.points("wall_time")["trials"]["x"])
        # named once, without its module path (the view's title says the env only when
        # the sweep's name does not)
        assert view.fig.layout.title.text == "Sweep fragile: score against cost"


def test_a_recorded_objective_sweep_is_read_by_anyone_and_resumed_with_its_function(tmp_path):
    first = sweep(tmp_path, quadratic, trials=6)
    again = recorded(first.id, first.store)
    assert len(again.results()) == 6 and again.best()["run_id"] == first.best()["run_id"]
    with pytest.raises(DefinitionError, match=r"pass it again to run the sweep, "):
        workbench.sweep(resume=first.id, store=first.store, trials=8, background=False)
    with pytest.raises(DefinitionError, match="pass it again"):
        again.extend(trials=2)
    resumed = workbench.sweep(
        objective=quadratic, resume=first.id, store=first.store, trials=9, background=False
    )
    assert len(resumed.results()) == 9 and resumed.status == "finished"
    exported = json.loads(again.export(tmp_path / "best.json").read_text())
    best = resumed.best()
    assert exported["run_id"] == best["run_id"] and exported["score"] == best["score"]
    assert (
        quadratic(**{k: v for k, v in exported["arguments"].items() if k != "seed"})
        == (best["score"])
    )
    with pytest.raises(DefinitionError, match="a resumed sweep runs its recorded definition"):
        workbench.sweep(objective=quadratic, resume=first.id, store=first.store, space=XY)


def slow_x(x, seed, report):
    for step in range(1, 21):
        time.sleep(0.03)
        report(-abs(x - 0.25) + 1e-3 * seed, step=step)


def _wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_steering_an_objective_sweep(tmp_path):
    space = {"x": {"kind": "linear", "min": 0.0, "max": 1.0}}
    handle = sweep(tmp_path, slow_x, space, trials=4, background=True)
    handle.pause()
    handle.enqueue({"x": 0.25})
    _wait_for(lambda: handle.paused)
    started = handle.next_index
    time.sleep(0.5)
    assert handle.next_index == started  # paused: nothing new starts
    handle.resume()
    _wait_for(lambda: any(r["run_id"] for r in handle.running.values()))
    run_id = next(r["run_id"] for r in handle.running.values() if r["run_id"])
    assert handle.stop_trial(run_id, "enough")
    handle.wait()
    results = handle.results()
    assert results.set_index("run_id").loc[run_id, "status"] == "stopped"
    runs = handle.store.runs(sweep=handle.id)
    queued = [r for r in runs.to_dict("records") if "origin:queued" in r["tags"]]
    assert len(queued) == 1 and queued[0]["x"] == pytest.approx(0.25)
    handle.reseed(k=1, seeds=2)
    handle.extend(trials=2)
    handle.wait()
    results = handle.results()
    assert len(results) == 6 and set(results["status"]) <= {"finished", "stopped"}
    assert sorted(results["seed"])[-2:] == [1, 2]  # fresh seeds reach the function


def test_the_processes_executor_runs_a_module_level_objective(tmp_path):
    handle = sweep(tmp_path, priced, trials=4, executor="processes", workers=2)
    results = handle.results()
    assert list(results["status"]) == ["finished"] * 4
    assert list(results["cost"]) == pytest.approx([1.0 + 10.0 * (x + 1.0) for x in results["x"]])
    assert set(handle.store.runs(sweep=handle.id)["pid"]) != {__import__("os").getpid()}


def test_the_readme_snippet_runs(tmp_path, monkeypatch):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)\n```", readme, re.S)
    snippet = next(b for b in blocks if "objective=" in b)
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "wb.db"))
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    handle = namespace["handle"]
    assert handle.status == "finished" and handle.best() is not None


def test_an_edit_pins_an_argument_and_the_calls_after_it_get_it(tmp_path):
    handle = sweep(tmp_path, quadratic, trials=3)
    after = handle.edit(space={"x": 0.3}, constraints=["y < 0.5"])
    assert list(after.space) == ["y"] and after.fixed_params == {"x": 0.3}
    with pytest.raises(DefinitionError, match=r"quadratic\(\) takes no argument 'z'"):
        handle.edit(space={"z": {"kind": "linear", "min": 0.0, "max": 1.0}})
    handle.extend(trials=3)
    handle.wait()
    results = handle.results()
    later = handle.store.runs(sweep=handle.id).tail(3)
    assert len(results) == 6 and list(later["x"]) == [0.3] * 3
    assert (later["y"] < 0.5).all()

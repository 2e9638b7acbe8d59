"""The sweep view: figure contents from a small real sweep and from a hand-written store,
clicks, the cost-axis toggle, export, and updates that arrive while the kernel stays free."""

import time

import numpy as np
import pytest

import workbench
from workbench import metrics as M
from workbench.notebook import SweepView
from workbench.notebook.curves import run_label
from workbench.ppo.config import make_config, read_config_file
from workbench.store import RunStore
from workbench.sweep.definition import load

BANDIT = {
    "env": "bandit",
    "name": "view",
    "metric": "score",
    "cost": "agent_steps",
    "budget": {"trials": 5},
    "train": {
        "num_envs": 16,
        "bptt_horizon": 16,
        "minibatch_size": 256,
        "eval_episodes": 8,
        "rnn": False,
    },
    "space": {
        "learning_rate": {"kind": "log", "min": 1e-3, "max": 0.1},
        "total_steps": {"kind": "log", "min": 1024, "max": 4096},
    },
}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A real sweep watched by a live view from its start, and the main thread's response
    times measured while it ran."""
    db = tmp_path_factory.mktemp("sweep") / "wb.db"
    handle = workbench.sweep(BANDIT, store=db)
    view = SweepView(handle)
    waits = []
    while not handle.done:
        t0 = time.perf_counter()
        sum(range(100_000))  # a cell's worth of work in the "kernel" thread
        waits.append(time.perf_counter() - t0)
        time.sleep(0.05)
    handle.wait()
    for t in view._threads:
        t.join(timeout=60)
    view.refresh(force=True)
    return handle, view, waits


def trace(view, key):
    return next(t for t in view.fig.data if t.meta == key)


def test_live_view_draws_every_observation_the_fronts_and_the_band(live):
    handle, view, waits = live
    assert handle.status == "finished"
    obs = handle.store.observations(handle.id)
    ok = obs[~obs["failed"]]
    trials, curve = trace(view, "trials"), trace(view, "curve")
    finished = (handle.results()["status"] == "finished").sum()
    assert len(trials.x) == finished == 5
    assert len(trials.x) + len(curve.x) == len(ok)  # every successful observation
    assert sorted(trials.y) == sorted(handle.results()["score"])
    front = trace(view, "front")
    assert list(front.x) == sorted(front.x) and list(front.y) == sorted(front.y)
    assert max(front.y) == max(ok["score"])
    band, model = trace(view, "band"), trace(view, "model")
    assert len(model.x) >= 2 and len(band.x) == 2 * len(model.x)
    hi, lo = np.array(band.y[: len(model.x)]), np.array(band.y[len(model.x) :][::-1])
    assert np.all(hi >= lo - 1e-9) and np.all((lo - 1e-9 <= model.y) & (model.y <= hi + 1e-9))
    assert "learning_rate = " in trials.hovertext[0] and "total_steps = " in trials.hovertext[0]
    assert len(trace(view, "newest").x) == 1 and len(trace(view, "running").x) == 0
    assert view.fig.layout.xaxis.type == "log" and "agent steps" in view.fig.layout.xaxis.title.text
    assert "finished" in view.status.value and "5 finished" in view.status.value
    # Updates reached the figure within a second of each observation, the kernel stayed free.
    assert len(view.latencies) == len(obs)
    # how fast is `bench sweep-view`'s to say (timing here would judge the machine's load)
    assert max(waits) < 1.0
    assert set(view.importance["parameter"]) == {"learning_rate", "total_steps"}
    dims = view.parcoords_fig.data[0].dimensions
    assert [d.label for d in dims] == ["learning_rate (log)", "total_steps (log)", "score"]
    assert np.allclose(10 ** np.array(dims[0].values), handle.results()["learning_rate"])


def test_a_sweep_loaded_by_id_draws_the_same_and_rebuilds_the_model(live):
    handle, view, _ = live
    again = SweepView(handle.id, store=handle.store.path, autostart=False)
    for key in ("curve", "trials", "front"):
        assert list(trace(again, key).x) == list(trace(view, key).x)
    assert len(trace(again, "model").x) >= 2  # its own engine, fed the recorded observations
    assert again.handle.status == "finished" and again.handle.best() == handle.best()


def test_cost_axis_toggle_reads_the_other_cost_from_the_runs(live):
    handle, _, _ = live
    view = SweepView(handle, autostart=False)
    view.cost_axis.value = M.WALL_TIME
    runs = handle.store.runs(sweep=handle.id).set_index("id")
    trials = trace(view, "trials")
    for x, run_id in zip(trials.x, trials.customdata, strict=True):
        assert x == pytest.approx(runs.loc[run_id, M.WALL_TIME])
    assert len(trace(view, "curve").x) == len(trace(SweepView(handle, autostart=False), "curve").x)
    assert not trace(view, "model").x  # the model predicts the definition's cost only
    assert "wall-clock" in view.fig.layout.xaxis.title.text
    view.cost_axis.value = M.AGENT_STEPS
    assert len(trace(view, "model").x) >= 2


def test_clicking_a_point_selects_its_trial_curve_and_viewer(live):
    from plotly.callbacks import Points

    handle, _, _ = live
    view = SweepView(handle, autostart=False)
    trials = trace(view, "trials")
    run_id = trials.customdata[2]
    name = handle.store.run(run_id)["name"]
    points = Points(point_inds=[2], xs=[trials.x[2]], ys=[trials.y[2]], trace_name="t")
    trials._dispatch_on_click(points, None)  # what a click in the browser sends
    assert view.selected == run_id and name in view.selection.value
    assert [t.name for t in view.curves.fig.data] == [run_label(name, run_id)]
    assert len(view.curves.fig.data[0].y) == len(handle.store.curve(run_id))
    assert list(trace(view, "selected").customdata) == [run_id]
    assert not view.watch_button.disabled
    view.watch_button.click()
    try:
        assert view.viewer is not None and view.viewer_box.children == (view.viewer.widget,)
        deadline = time.time() + 10
        while view.viewer.frames < 3 and time.time() < deadline:
            time.sleep(0.05)
        assert view.viewer.frames >= 3
    finally:
        view.close()


def test_export_button_writes_the_best_config_under_the_cap(live, tmp_path):
    handle, _, _ = live
    view = SweepView(handle, autostart=False)
    results = handle.results()
    cap = float(results["cost"].sort_values().iloc[1])  # the two cheapest trials qualify
    view.cap.value = f"{cap:g}"
    best = handle.best(cap)
    assert best["name"] in view.best_label.value
    view.export_button.click()
    path = view.exported
    assert path is not None and path.exists() and str(path) in view.export_message.value
    assert f"python -m workbench train bandit --config {path}" in view.export_message.value
    stored = handle.store.run(best["run_id"])["config"]
    assert make_config("bandit", **read_config_file(path)).to_dict() == {**stored, "name": ""}
    view.cap.value = "cheap"
    assert "not a number" in view.best_label.value
    view.cap.value = "1"
    view.export_button.click()
    assert "Not exported" in view.export_message.value and "no finished trial" in (
        view.export_message.value
    )


# -- a hand-written sweep: every kind of trial, no training --


def fake_sweep(tmp_path):
    """A store holding a sweep with a finished, a pruned, a failed and a running trial."""
    store = RunStore(tmp_path / "fake.db")
    d = load(BANDIT)
    sweep_id = store.create_sweep(d.name, d.to_dict())
    config = make_config("bandit", **d.trial_config({"learning_rate": 0.01, "total_steps": 2048}))

    def run(name, lr, steps, status, rows, **end):
        cfg = config.replace(learning_rate=lr, total_steps=steps, name=name).to_dict()
        run_id = store.create_run(name, "bandit", cfg, sweep_id=sweep_id)
        for seq, (s, score) in enumerate(rows):
            row = {M.AGENT_STEPS: s, M.WALL_TIME: s / 1000, M.env(M.SCORE): score}
            store.log(run_id, seq, row)
            if seq < len(rows) - 1 and status != "failed":
                params = {"learning_rate": lr, "total_steps": s}
                store.add_observation(sweep_id, run_id, params, score, s)
        if status != "running":
            summary = {M.AGENT_STEPS: rows[-1][0], M.WALL_TIME: rows[-1][0] / 1000 + 0.5}
            if status == "finished":
                summary[M.env(M.SCORE)] = rows[-1][1]
            store.finish(run_id, status, summary, **end)
            if status == "finished":
                params = {"learning_rate": lr, "total_steps": steps}
                store.add_observation(sweep_id, run_id, params, rows[-1][1], rows[-1][0])
            if status == "failed":
                params = {"learning_rate": lr, "total_steps": steps}
                store.add_observation(sweep_id, run_id, params, None, None, True, "boom")
        return run_id

    ids = {
        "finished": run("f", 0.01, 2048, "finished", [(512, 0.2), (1024, 0.5), (2048, 0.9)]),
        "pruned": run(
            "p", 0.09, 4096, "pruned", [(512, 0.1), (1024, 0.1)], reason="below the line"
        ),
        "failed": run("x", 0.002, 1024, "failed", [(512, 0.3)], error="Traceback\nValueError: nan"),
        "running": run("r", 0.03, 4096, "running", [(512, 0.4), (1024, 0.6)]),
    }
    store.finish_sweep(sweep_id, "stopped")
    return store, sweep_id, ids


def test_failed_pruned_and_running_trials_get_their_own_marks(tmp_path):
    store, sweep_id, ids = fake_sweep(tmp_path)
    view = SweepView(sweep_id, store=store, autostart=False)
    assert str(store.path) in view.status.value  # which store it reads
    assert str(store.path) in view.curves.source.value
    assert list(trace(view, "trials").customdata) == [ids["finished"]]
    pruned = trace(view, "pruned")
    assert list(pruned.customdata) == [ids["pruned"]] and "below the line" in pruned.hovertext[0]
    assert (list(pruned.x), list(pruned.y)) == ([1024], [0.1])  # where its curve stopped
    failed = trace(view, "failed")
    assert list(failed.customdata) == [ids["failed"]] and "ValueError: nan" in failed.hovertext[0]
    assert failed.y[0] == min([*trace(view, "curve").y, *trace(view, "trials").y])  # on the floor
    assert trace(view, "failed").marker.symbol == "x"
    assert trace(view, "pruned").marker.symbol != trace(view, "trials").marker.symbol
    running = trace(view, "running")
    assert (list(running.x), list(running.y)) == ([1024], [0.6])  # its newest row
    assert list(trace(view, "trail").x) == [512, 1024, None]
    assert trace(view, "newest").customdata[0] in (ids["finished"], ids["pruned"], ids["failed"])
    # The ghost moves with its curve: a new row moves it on the next refresh.
    store.log(ids["running"], 2, {M.AGENT_STEPS: 2048, M.WALL_TIME: 2.0, M.env(M.SCORE): 0.8})
    view.refresh(force=True)
    assert (list(running.x), list(running.y)) == ([2048], [0.8])
    # Against wall-clock: the same points, read off each run's rows and summary.
    view.cost_axis.value = M.WALL_TIME
    assert list(trace(view, "trials").x) == [2.048 + 0.5]
    assert sorted(trace(view, "curve").x) == [0.512, 0.512, 0.512, 1.024]


def test_redraws_send_only_the_traces_that_changed(tmp_path):
    store, sweep_id, ids = fake_sweep(tmp_path)
    view = SweepView(sweep_id, store=store, autostart=False)
    draws = len(view.draw_times)
    view.refresh(force=True)  # nothing new: nothing drawn
    assert len(view.draw_times) == draws
    store.log(ids["running"], 2, {M.AGENT_STEPS: 2048, M.WALL_TIME: 2.0, M.env(M.SCORE): 0.8})
    before = dict(view._sent)
    view.refresh(force=True)
    assert len(view.draw_times) == draws + 1
    assert {k for k in view._sent if view._sent[k] != before.get(k)} == {"running", "trail"}


def test_the_view_polls_a_sweep_in_another_thread_without_blocking(tmp_path):
    store, sweep_id, ids = fake_sweep(tmp_path)
    view = SweepView(sweep_id, store=store, poll_interval=0.05)
    try:
        t0 = time.perf_counter()
        store.log(ids["running"], 2, {M.AGENT_STEPS: 2048, M.WALL_TIME: 2.0, M.env(M.SCORE): 0.8})
        deadline = time.time() + 5
        while list(trace(view, "running").x) != [2048] and time.time() < deadline:
            time.sleep(0.01)
        assert list(trace(view, "running").x) == [2048] and time.perf_counter() - t0 < 1.0
        assert any(t.is_alive() for t in view._threads) or view.state.done
    finally:
        view.close()
    for t in view._threads:
        t.join(5)
        assert not t.is_alive()


def test_watch_refuses_a_running_trial_and_says_why(tmp_path):
    store, sweep_id, ids = fake_sweep(tmp_path)
    view = SweepView(sweep_id, store=store, autostart=False)
    view.select(ids["running"])
    assert view.watch() is None and "still running" in view.watch_message.value
    assert ids["running"] in view._followed  # its new rows go on to the curves view
    store.log(ids["running"], 2, {M.AGENT_STEPS: 2048, M.WALL_TIME: 2.0, M.env(M.SCORE): 0.8})
    view.refresh(force=True)
    time.sleep(0.4)  # the curves view's throttled trailing redraw
    assert len(view.curves.fig.data[0].y) == 3


def test_many_points_redraw_fast(tmp_path):
    """A sweep of a few thousand observations still redraws in well under 100 ms."""
    store, sweep_id, ids = fake_sweep(tmp_path)
    rng = np.random.default_rng(0)
    for _ in range(2000):
        s = int(rng.integers(512, 4096))
        params = {"learning_rate": float(10 ** rng.uniform(-3, -1)), "total_steps": s}
        store.add_observation(sweep_id, ids["finished"], params, float(rng.random()), s)
    view = SweepView(sweep_id, store=store, autostart=False)
    view._sent.clear()
    view._draw_points()
    n, seconds = view.draw_times[-1]
    assert n > 2000 and seconds < 0.5  # generous: the machine is shared
    # So many points go to the WebGL trace (the browser redraws an SVG one slowly), still
    # clickable and with the same hover text.
    gl, svg = trace(view, "curve_gl"), trace(view, "curve")
    assert gl.type == "scattergl" and len(gl.x) > 2000 and len(svg.x) == 0
    assert len(view.traced("curve")["x"]) == len(gl.x) + len(trace(view, "curve_recent").x)
    assert gl.hovertemplate == svg.hovertemplate and "curve point" in gl.hovertext[0]
    assert gl.customdata[0] == ids["finished"]


def test_parallel_coordinates_send_whole_dimensions_and_whole_number_ticks():
    import pandas as pd

    from workbench.notebook.sweepcharts import parcoords_figure, update_parcoords

    fig = parcoords_figure("score")
    sent = []
    fig.observe(lambda change: sent.append(change["new"]), names="_py2js_update")
    space = {
        "learning_rate": {"kind": "log", "min": 1e-3, "max": 0.1},
        "update_epochs": {"kind": "int", "min": 1, "max": 4},
    }
    results = pd.DataFrame(
        {"learning_rate": [0.001, 0.01, 0.1], "update_epochs": [1, 3, 4], "score": [1, 2, 3.0]}
    )
    update_parcoords(fig, results, space, "score")
    keys = {k for m in sent if m for k in m["style_data"]}
    # plotly.js refuses a restyle setting an array and one of its items at once.
    assert "dimensions" in keys and not any(k.startswith("dimensions.") for k in keys)
    epochs = fig.data[0].dimensions[1]
    assert list(epochs.tickvals) == [1, 2, 3, 4] and list(epochs.range) == [1, 4]
    assert list(fig.data[0].line.color) == [1, 2, 3]


def test_a_steered_sweep_keeps_drawing(tmp_path):
    # A pinned parameter leaves the space: a view opened before the edit keeps its columns,
    # one opened after draws the new space; neither raises while refreshing.
    handle = workbench.sweep(
        {**BANDIT, "budget": {"trials": 2}}, store=tmp_path / "wb.db", background=False
    )
    before = SweepView(handle, autostart=False)
    handle.edit(space={"learning_rate": 0.01})
    handle.extend(trials=1).wait(300)
    assert handle.definition.space.keys() == {"total_steps"}
    before.refresh(force=True)
    after = SweepView(handle.id, store=handle.store.path, autostart=False)
    after.refresh(force=True)
    assert len(trace(after, "curve").x) >= len(trace(before, "curve").x) > 0
    assert "Error" not in before.status.value and "Error" not in after.status.value

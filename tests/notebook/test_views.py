"""Notebook views, driven from Python: curves, launcher, runs browser, viewer."""

import threading
import time

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import metrics as M
from workbench.notebook import Launcher, LiveCurves, RunCard, RunsBrowser, Viewer
from workbench.notebook.browser import hyperparameter_correlations
from workbench.notebook.curves import FitWidth, smooth
from workbench.store import RunStore

FAST = dict(num_envs=32, bptt_horizon=16, minibatch_size=256, learning_rate=0.01)


def rows(n, start=0):
    return [
        {
            "agent_steps": 100 * (i + 1),
            "wall_time": 0.1 * (i + 1),
            "epoch": i,
            "sps": 1000.0,
            "env/score": float(i),
            "losses/entropy": 1.0 / (i + 1),
            **{f"timing/{k}": 0.01 for k in ("env", "forward", "copy", "learn", "misc")},
        }
        for i in range(start, start + n)
    ]


def trace(curves, name):
    return next(t for t in curves.fig.data if t.name == name)


def test_curves_throttle_redraws_but_show_every_point():
    curves = LiveCurves(max_rate=4.0)
    feed = curves.on_log("run-a")
    start = time.monotonic()

    def producer():
        for row in rows(200):
            feed("run-a-id", row)
            time.sleep(0.002)

    t = threading.Thread(target=producer)
    t.start()
    t.join()
    elapsed = time.monotonic() - start
    time.sleep(0.4)  # the trailing flush
    assert curves.draws <= 4.0 * elapsed + 3  # throttled, not one redraw per row
    assert len(trace(curves, "run-a").y) == 200  # yet every point is plotted
    assert "run-a" in curves.panel.value and "200 steps" not in curves.panel.value


def test_a_curve_is_read_whole_while_its_run_appends_rows():
    class Appending(list):
        """A run's rows whose thread appends one more each time they are read."""

        def __iter__(self):
            now = iter(self[:])  # a plain list: what was there when the read began
            self.append(rows(1, start=len(self))[0])
            return now

    curves = LiveCurves()
    curves.rows["run-a"] = Appending(rows(5))
    x, y = curves._raw("run-a")  # one snapshot, not y from 5 rows and x from 6
    assert len(x) == len(y) == 5


def test_curves_metric_axis_and_smoothing_controls():
    curves = LiveCurves(smoothing=0.0)
    curves.add_run("a", pd.DataFrame(rows(10)))
    curves.add_run("b", rows(5))
    assert {t.name for t in curves.fig.data} == {"a", "b"}
    assert list(trace(curves, "a").x) == [100 * (i + 1) for i in range(10)]
    curves.metric.value = "losses/entropy"
    assert trace(curves, "a").y[0] == pytest.approx(1.0)
    curves.x_axis.value = "relative time (s)"
    assert trace(curves, "a").x[-1] == pytest.approx(1.0)
    curves.x_axis.value = "wall-clock"
    assert hasattr(trace(curves, "a").x[0], "year")
    curves.metric.value = "env/score"
    curves.smoothing.value = 0.9
    assert trace(curves, "a").y[-1] < 9.0  # smoothed lags the raw 9.0
    curves.remove_run("b")
    assert [t.name for t in curves.fig.data] == ["a"]


def test_the_chosen_metric_stays_chosen_when_rows_bring_new_keys():
    length = M.env(M.EPISODE_LENGTH)
    curves = LiveCurves(metric=length, smoothing=0.0)
    feed = curves.on_log("run")
    extra = [
        {**r, length: 10.0 + i, "custom/reward_bonus": 0.5, M.env("lives"): 3}
        for i, r in enumerate(rows(3))
    ]
    for row in extra:
        feed("run-id", row)
    curves.flush()
    assert "custom/reward_bonus" in curves.metric.options  # the new keys are offered...
    assert curves.metric.value == length  # ...and the choice is kept
    assert curves.fig.layout.yaxis.title.text == length
    assert list(trace(curves, "run").y) == [10.0, 11.0, 12.0]
    # A metric outside the defaults can be asked for from the start.
    assert LiveCurves(metric="custom/reward_bonus").metric.value == "custom/reward_bonus"


def test_curves_are_smoothed_lines_filling_the_width():
    curves = LiveCurves()
    curves.add_run("long", rows(300))
    curves.add_run("one point", rows(1))
    assert curves.smoothing.value > 0  # hundreds of noisy points read as a trend
    assert trace(curves, "long").mode == "lines"  # no marker on each of 300 points
    assert trace(curves, "one point").mode == "markers"  # a lone point still shows
    assert curves.fig.layout.width is None and curves.fig.layout.autosize
    assert curves.fig._config.get("responsive")
    assert any(isinstance(w, FitWidth) for w in curves.widget.children)
    assert curves.widget.layout.width == "100%"


def test_smooth_is_a_debiased_ema_that_skips_gaps():
    values = np.array([1.0, np.nan, 3.0])
    out = smooth(values, 0.5)
    assert out[0] == pytest.approx(1.0) and out[1] == pytest.approx(1.0)
    assert out[2] == pytest.approx((0.25 * 1 + 0.5 * 3) / 0.75)
    assert np.array_equal(smooth(values, 0.0), values, equal_nan=True)


def test_launcher_shows_bad_values_and_starts_nothing(tmp_path):
    store = RunStore(tmp_path / "wb.db")
    launcher = Launcher(store=store, env="bandit")
    launcher.inputs["learning_rate"].value = 1e-3
    launcher.inputs["gamma"].value = 0.0
    launcher.start_button.click()
    assert "Not started" in launcher.message.value and "gamma must be in" in launcher.message.value
    assert "Traceback" not in launcher.message.value
    assert store.runs().empty and launcher.handles == []


def test_launcher_runs_stop_and_feed_curves(tmp_path):
    store = RunStore(tmp_path / "wb.db")
    curves = LiveCurves()
    launcher = Launcher(curves=curves, store=store, env="memory")
    settings = {
        "total_steps": 10**9,
        "num_envs": 32,
        "bptt_horizon": 16,
        "minibatch_size": 256,
        "rnn": True,
    }
    for key, value in settings.items():
        launcher.inputs[key].value = value
    launcher.name.value = "first"
    launcher.start_button.click()
    launcher.name.value = "second"
    launcher.start_button.click()
    assert len(launcher.handles) == 2
    stops = [box.children[0] for box in launcher.runs_box.children]
    assert not launcher.stop_button.disabled and not any(b.disabled for b in stops)

    def lines():
        return [box.children[1].value for box in launcher.runs_box.children]

    try:
        deadline = time.time() + 60
        while time.time() < deadline and not all("steps/s" in line for line in lines()):
            time.sleep(0.05)
        assert all(h.latest() for h in launcher.handles)
        assert all("[running]" in line and "steps/s" in line for line in lines())  # live
    finally:  # never leave two endless runs training under the tests that follow
        launcher.stop_button.click()
        launcher.wait(30)
    assert [h.status for h in launcher.handles] == ["stopped", "stopped"]
    assert all("[stopped]" in line for line in lines())
    for handle, line in zip(launcher.handles, lines(), strict=True):
        assert handle.run_id in line  # the id, beside the name
    assert all(b.disabled for b in stops) and launcher.stop_button.disabled  # nothing to stop
    assert launcher.card(launcher.handles[0]).widget is launcher.runs_box.children[0]
    time.sleep(0.5)  # the throttled trailing redraw
    # legends: the name and the id's tag, which eval and resume accept
    assert {t.name for t in curves.fig.data} == {
        f"{name} ({h.run_id.rsplit('-', 1)[1]})"
        for name, h in zip(["first", "second"], launcher.handles, strict=True)
    }


def test_a_run_card_follows_its_run_and_disables_stop_when_it_ends(tmp_path):
    handle = workbench.launch(
        "bandit", store=tmp_path / "wb.db", total_steps=10**9, eval_episodes=0, **FAST
    )
    card = RunCard(handle)
    try:
        assert "snapshot" in handle._repr_html_()  # the plain repr says it will not move
        assert "[running]" in card.line.value and not card.stop_button.disabled
        deadline = time.time() + 60
        while time.time() < deadline and "steps/s" not in card.line.value:
            time.sleep(0.05)
        steps = handle.latest()[M.AGENT_STEPS]
        assert steps > 0 and "steps/s" in card.line.value  # it moved without a redisplay
    finally:
        card.stop_button.click()
        handle.wait(30)
    deadline = time.time() + 5
    while time.time() < deadline and not card.stop_button.disabled:
        time.sleep(0.05)
    assert card.stop_button.disabled and "[stopped]" in card.line.value
    assert handle.run_id in card.line.value
    assert "snapshot" not in handle._repr_html_()  # an ended run's card is simply true


def test_every_view_says_which_store_it_reads(tmp_path):
    db = tmp_path / "wb.db"
    curves = LiveCurves()
    assert curves.source.value == ""  # fed by callbacks only: no store to name
    launcher = Launcher(store=db, env="bandit", curves=curves)
    assert str(db) in launcher.widget.children[0].value
    assert str(db) in curves.source.value
    browser = RunsBrowser(store=db)
    assert str(db) in browser.widget.children[0].value


def test_launcher_env_change_loads_that_envs_config():
    launcher = Launcher(env="bandit")
    launcher.env.value = "breakout"
    cfg = workbench.TrainConfig()
    assert launcher.inputs["num_envs"].value == 512  # breakout.toml
    assert launcher.inputs["learning_rate"].value == pytest.approx(cfg.learning_rate)


def test_correlations_rank_the_hyperparameters():
    runs = pd.DataFrame(
        {
            "learning_rate": [0.001, 0.01, 0.1, 0.03],
            "gamma": [0.99, 0.99, 0.99, 0.99],  # constant: left out
            "ent_coef": [0.0, 0.1, 0.0, 0.1],
            "score": [1.0, 5.0, 9.0, 7.0],
        }
    )
    corr = hyperparameter_correlations(runs)
    assert list(corr.index) == ["learning_rate", "ent_coef"]
    assert corr["learning_rate"] == pytest.approx(1.0)


def test_browser_filters_and_overlays(tmp_path):
    db = tmp_path / "wb.db"
    for lr in (0.003, 0.01, 0.03):
        workbench.train(
            "bandit", store=db, total_steps=3000, eval_episodes=8, **{**FAST, "learning_rate": lr}
        )
    curves = LiveCurves()
    browser = RunsBrowser(store=db, curves=curves)
    assert len(browser.runs) == 3 and len(browser.selection.options) == 3
    assert len(browser.chart.data) == 1 and not browser.chart.layout.annotations
    browser.query.value = "learning_rate > 0.005"  # applies on Enter (value change)
    assert len(browser.runs) == 2
    # two runs: no correlations, and the chart says why instead of showing bare axes
    assert not browser.chart.data and "3 or more runs" in browser.chart.layout.annotations[0].text
    browser.query.value = "learning_rate >"
    assert "Query failed" in browser.message.value and len(browser.runs) == 2
    browser.selection.value = tuple(v for _, v in browser.selection.options)
    browser.overlay.click()
    assert len(curves.fig.data) == 2


def test_viewer_agent_plays_and_keyboard_takes_over(tmp_path):
    run = workbench.train(
        "breakout",
        store=tmp_path / "wb.db",
        total_steps=20_000,
        eval_episodes=0,
        **{**FAST, "num_envs": 64, "minibatch_size": 512},
    )
    viewer = Viewer(run.checkpoint, fps=1000)
    assert viewer.stride == 2 and viewer.canvas.width == 288
    viewer.step()
    assert viewer.controller == "agent" and viewer.frames == 1
    viewer.mode.value = "play"
    viewer.canvas.keys_down.add("ArrowLeft")
    x0 = viewer.env._core.get_state(0)["paddle_x"]
    viewer.step()
    assert viewer.controller == "you" and viewer.env.actions[0] == 1
    assert viewer.env._core.get_state(0)["paddle_x"] < x0
    viewer.canvas.keys_down.clear()
    viewer.canvas.last_key_time = time.monotonic() - 1.0  # released a second ago
    viewer.step()
    assert viewer.controller == "agent"
    viewer.start()
    time.sleep(0.3)
    viewer.stop()
    assert viewer.frames > 5
    assert str(run.checkpoint) in viewer.widget.children[0].value  # what it plays

    # Save: a GIF of the agent, read back.
    import imageio.v3 as iio

    path = viewer.save(tmp_path / "agent.gif", seconds=0.05)  # 0.05 s at 1000 fps: 50 frames
    frames = iio.imread(path)
    assert 2 <= len(frames) <= 51
    assert frames.shape[1:3] == (viewer.canvas.height, viewer.canvas.width)
    viewer.save_path.value = str(tmp_path / "clicked.gif")
    viewer.save_button.click()  # records on a thread: the kernel stays free
    viewer._save_thread.join(60)
    assert (tmp_path / "clicked.gif").exists() and "clicked.gif" in viewer.save_message.value
    viewer.save_path.value = str(tmp_path / "agent.avi")
    viewer.save_button.click()
    viewer._save_thread.join(60)
    assert "Not saved" in viewer.save_message.value and ".gif or .mp4" in viewer.save_message.value
    assert not viewer.save_button.disabled
    # By run id: the store is named, and videos go beside it by default.
    by_id = Viewer(run.id, store=tmp_path / "wb.db", fps=1000)
    assert str(tmp_path / "wb.db") in by_id.widget.children[0].value
    path = by_id.save(seconds=0.01)
    assert path.parent == tmp_path / "videos" and path.suffix == ".gif" and path.exists()


def test_a_recorded_curve_sits_on_the_clock_where_its_run_trained(tmp_path):
    """``add_run(name, run.curve())`` of a run that ended a while ago: its wall-clock curve
    starts when the run started, not now (it was drawn minutes in the future)."""
    from datetime import datetime

    store = RunStore(tmp_path / "wb.db")
    run_id = store.create_run("old", "bandit", {})
    for seq in range(3):
        store.log(
            run_id, seq, {M.AGENT_STEPS: 100 * seq, M.WALL_TIME: 10.0 * seq, "env/score": 0.1}
        )
    store.finish(run_id, "finished", {})
    started = store.run(run_id)["started_at"]
    time.sleep(1.5)
    curves = LiveCurves(metric="env/score", x="wall-clock")
    curves.add_run("old", store.curve(run_id))
    first = trace(curves, "old").x[0]
    first = first if isinstance(first, datetime) else datetime.fromisoformat(str(first))
    assert abs(first.timestamp() - started) < 0.5

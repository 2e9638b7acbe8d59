"""Seeds as bands: runs that differ only by seed drawn as a mean with a min-max band."""

import numpy as np
import pytest

from workbench import metrics as M
from workbench.notebook import LiveCurves, RunsBrowser, seed_groups
from workbench.notebook.curves import run_label
from workbench.ppo.config import make_config
from workbench.store import RunStore


def rows(values, steps=None):
    steps = steps or [100 * (i + 1) for i in range(len(values))]
    return [
        {M.AGENT_STEPS: s, M.WALL_TIME: s / 100, M.env(M.SCORE): float(v)}
        for s, v in zip(steps, values, strict=True)
    ]


def by_meta(curves, meta):
    return next(t for t in curves.fig.data if t.meta == meta)


def test_seed_groups_join_runs_that_differ_only_by_seed():
    configs = {
        "a": {"seed": 0, "learning_rate": 0.01, "name": "ppo-s0"},
        "b": {"seed": 1, "learning_rate": 0.01, "name": "ppo-s1"},
        "c": {"seed": 0, "learning_rate": 0.03, "name": "fast-s0"},
        "d": {"seed": 2, "learning_rate": 0.03, "name": "fast-s2"},
        "e": {"seed": 0, "learning_rate": 0.1, "name": "alone"},
    }
    names = {k: v["name"] for k, v in configs.items()}
    assert seed_groups(configs, names) == {"a": "ppo", "b": "ppo", "c": "fast", "d": "fast"}
    same = {"x": {"seed": 0}, "y": {"seed": 1}}
    assert seed_groups(same, {"x": "run", "y": "run"}) == {"x": "run", "y": "run"}


def test_a_group_is_drawn_as_its_mean_with_a_min_max_band():
    curves = LiveCurves(smoothing=0.0)
    curves.add_run("s0", rows([0, 2, 4]), group="g")
    curves.add_run("s1", rows([2, 4, 6]), group="g")
    curves.add_run("s2", rows([1, 6, 11]), group="g")
    curves.add_run("other", rows([5, 5]))
    assert {t.name for t in curves.fig.data} == {"g (mean of 3)", "g (min-max)", "other"}
    mean, band = by_meta(curves, "mean:g"), by_meta(curves, "band:g")
    assert list(mean.x) == [100, 200, 300]
    assert np.allclose(mean.y, [1, 4, 7])
    assert list(band.x) == [100, 200, 300, 300, 200, 100]
    assert np.allclose(band.y, [2, 6, 11, 4, 2, 0])  # max forward, min back
    assert band.fill == "toself" and band.showlegend is False
    # The toggle draws the members one by one again, and back.
    curves.group_toggle.value = False
    assert {t.name for t in curves.fig.data} == {"s0", "s1", "s2", "other"}
    curves.group_toggle.value = True
    assert {t.name for t in curves.fig.data} == {"g (mean of 3)", "g (min-max)", "other"}


def test_members_logged_at_different_steps_count_only_inside_their_range():
    curves = LiveCurves(smoothing=0.0)
    curves.add_run("long", rows([0, 10, 20, 30], [100, 200, 300, 400]), group="g")
    curves.add_run("short", rows([10, 30], [150, 250]), group="g")
    mean = by_meta(curves, "mean:g")
    assert list(mean.x) == [100, 150, 200, 250, 300, 400]
    # "short" interpolates at 200 (20) and is absent at 100, 300 and 400.
    assert np.allclose(mean.y, [0, (5 + 10) / 2, (10 + 20) / 2, (15 + 30) / 2, 20, 30])


def test_a_live_member_moves_its_group_and_a_lone_run_is_drawn_alone():
    curves = LiveCurves(max_rate=1000, smoothing=0.0)
    curves.add_run("s0", rows([1, 1, 1]), group="g")
    assert [t.name for t in curves.fig.data] == ["s0"]  # one member: no band
    feed = curves.on_log("s1", group="g")
    for row in rows([3, 3, 3]):
        feed("id", row)
    curves.flush()
    assert np.allclose(by_meta(curves, "mean:g").y, [2, 2, 2])
    curves.remove_run("s1")
    assert [t.name for t in curves.fig.data] == ["s0"]


def fake_runs(db):
    store = RunStore(db)
    base = make_config("bandit", learning_rate=0.01)
    out = {}
    for name, seed, lr, values in [
        ("ppo-s0", 0, 0.01, [1, 2, 3]),
        ("ppo-s1", 1, 0.01, [3, 4, 5]),
        ("fast", 0, 0.05, [0, 0, 9]),
    ]:
        cfg = base.replace(seed=seed, learning_rate=lr, name=name).to_dict()
        run_id = store.create_run(name, "bandit", cfg)
        for seq, row in enumerate(rows(values)):
            store.log(run_id, seq, row)
        store.finish(run_id, "finished", {M.env(M.SCORE): values[-1]})
        out[name] = run_id
    return out


def test_the_runs_browser_overlays_seeds_as_one_band(tmp_path):
    ids = fake_runs(tmp_path / "wb.db")
    curves = LiveCurves(smoothing=0.0)
    browser = RunsBrowser(store=tmp_path / "wb.db", curves=curves)
    browser.selection.value = tuple(v for _, v in browser.selection.options)
    browser.overlay.click()
    fast = run_label("fast", ids["fast"])
    assert {t.name for t in curves.fig.data} == {"ppo (mean of 2)", "ppo (min-max)", fast}
    assert np.allclose(by_meta(curves, "mean:ppo").y, [2, 3, 4])
    browser.group_seeds.value = False  # the browser's toggle is the curves' toggle
    assert curves.group_toggle.value is False
    assert {t.name for t in curves.fig.data} == {run_label(n, ids[n]) for n in ids}


@pytest.mark.parametrize("x", ["relative time (s)", "wall-clock"])
def test_groups_follow_the_time_axes(x):
    curves = LiveCurves(x=x, smoothing=0.0)
    curves.add_run("s0", rows([0, 2]), started_at=1000.0, group="g")
    curves.add_run("s1", rows([2, 4]), started_at=1005.0, group="g")
    mean = by_meta(curves, "mean:g")
    assert np.allclose(mean.y, [1, 3])
    if x == "wall-clock":  # aligned on time since each start, placed at the earliest start
        assert mean.x[0].timestamp() == pytest.approx(1001.0)
    else:
        assert list(mean.x) == [1.0, 2.0]

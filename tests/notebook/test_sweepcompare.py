"""Several sweeps in one view: two real tiny sweeps recorded in one store, watched live from
their start; the traces' data, colours, fronts and hypervolume lines, the table, and the
errors for sweeps that cannot be compared or do not exist."""

import argparse

import numpy as np
import pytest

import workbench
from tests.sweep.test_steering import SMALL
from workbench.notebook import CompareView, SweepView
from workbench.notebook.sweepcompare import short_id
from workbench.store import RunStore
from workbench.sweep.progress import finished, front_hypervolume, reference_point, trial_keys
from workbench.sweep.steering import group_configs

A = {**SMALL, "name": "left", "budget": {"trials": 3}, "constraints": []}
B = {**A, "name": "right", "seed": 1}


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Two sweeps run at once in one store, a view on both opened as they start."""
    db = tmp_path_factory.mktemp("compare") / "wb.db"
    a = workbench.sweep(A, store=db)
    b = workbench.sweep(B, store=db)
    view = SweepView([a.id, b.id], store=db, poll_interval=0.1)
    assert isinstance(view, CompareView)
    a.wait()
    b.wait()
    view.join(timeout=60)
    assert not view.polling  # it stopped polling once both ended
    return db, a, b, view


def test_the_view_redrew_while_the_sweeps_ran_a_few_times_a_second_at_most(compared):
    _db, _a, _b, view = compared
    assert len(view.draws) >= 4  # the first, forced, then live ones
    gaps = np.diff(view.draws[1:])  # the first draw was forced; later ones are throttled
    assert gaps.min() >= 1 / view.max_rate - 0.01


def traces(view, kind):
    return {
        t.meta.split(":", 1)[1]: t
        for f in (view.fig, view.hv_fig)
        for t in f.data
        if t.meta.startswith(kind + ":")
    }


def test_fronts_and_trials_of_each_sweep_in_its_own_colour(compared):
    _db, a, b, view = compared
    fronts, trials, lines = (
        traces(view, "front"),
        traces(view, "trials"),
        traces(view, "hypervolume"),
    )
    colours = {h.id: fronts[h.id].line.color for h in (a, b)}
    assert len(set(colours.values())) == 2
    for h in (a, b):
        assert trials[h.id].marker.color == lines[h.id].line.color == colours[h.id]
        assert fronts[h.id].name == f"{h.definition.name} ({short_id(h.id)})"
        assert short_id(h.id) == h.id[-6:]
    everything = []
    for h in (a, b):
        done = finished(h.results())
        assert len(done) >= 2, h.results()
        everything += list(done["cost"])
        # every finished trial is a point
        assert sorted(zip(trials[h.id].x, trials[h.id].y, strict=True)) == sorted(
            zip(done["cost"], done["score"], strict=True)
        )
    right = max(everything)
    for h in (a, b):
        configs = group_configs(finished(h.results()), h.definition.space)
        x, y = list(fronts[h.id].x), list(fronts[h.id].y)
        assert x == sorted(x) and y == sorted(y) and x[-1] == right  # on to the dearest trial
        # each front step is the best config (seeds averaged) costing at most that much
        for cost, score in zip(x, y, strict=True):
            assert score == pytest.approx(configs[configs["cost"] <= cost]["score"].max())
        assert y[-1] == pytest.approx(configs["score"].max())
    assert view.fig.layout.xaxis.type == "log"


def test_hypervolume_lines_grow_to_the_fronts_hypervolume_over_one_reference(compared):
    db, a, b, view = compared
    lines = traces(view, "hypervolume")
    done = {h.id: finished(h.results()) for h in (a, b)}
    costs = [c for d in done.values() for c in d["cost"]]
    scores = [s for d in done.values() for s in d["score"]]
    ref = reference_point(costs, scores, "perf")
    assert ref[1] == 0.0  # perf's floor
    for h in (a, b):
        x, y = list(lines[h.id].x), list(lines[h.id].y)
        assert x[0] == 0.0 and y[0] == 0.0
        assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) >= -1e-12)  # one seed per config
        d = done[h.id]
        final = front_hypervolume(trial_keys(d, h.definition.space), d["cost"], d["score"], ref)
        assert final > 0 and y[-1] == pytest.approx(final)
        record = RunStore(db).sweep(h.id)
        assert x[-1] == pytest.approx(record["ended_at"] - record["created_at"])
        assert len(y) == 1 + len(d) + 1  # the start, one step per trial, flat to the end
    title = view.hv_fig.layout.title.text
    assert f"agent steps {ref[0]:.4g}, perf 0)" in title and "one reference point" in title
    table = view.table.value
    for h in (a, b):
        assert f"{h.definition.name} ({short_id(h.id)})" in table
    assert table.count("3 finished of 3") == 2 and "hypervolume" in table


def test_everything_handed_to_plotly_is_a_plain_list(compared):
    _db, _a, _b, view = compared
    data = view.comparison.data()
    for s in data["sweeps"]:
        for kind in ("front", "trials", "hypervolume"):
            for key in ("x", "y", "text"):
                values = s[kind][key]
                assert type(values) is list and values
                assert all(type(v) is (str if key == "text" else float) for v in values), (
                    kind,
                    key,
                    [type(v) for v in values],
                )
        sizes = s["hypervolume"]["size"]
        assert type(sizes) is list and all(type(v) is int for v in sizes)
        assert sizes[0] == sizes[-1] == 0 and all(v > 0 for v in sizes[1:-1])  # trials only
    for fig in (view.fig, view.hv_fig):
        for t in fig.data:
            assert not isinstance(t.x, np.ndarray) and not isinstance(t.y, np.ndarray)
            assert all(type(v) is float for v in (*t.x, *t.y))


def test_sweeps_that_cannot_be_compared_or_do_not_exist_say_so(compared):
    db, a, b, view = compared
    store = RunStore(db)
    other = dict(store.sweep(a.id)["definition"], cost="wall_time", name="timed")
    timed = store.create_sweep("timed", other)
    with pytest.raises(ValueError) as e:
        CompareView([a.id, timed], store=db, autostart=False)
    assert str(e.value).startswith(
        f"{a.id} optimises perf against agent_steps, {timed} perf against wall_time"
    )
    with pytest.raises(ValueError, match=r"no sweep 'sweep-nope' in .*; the sweeps there: "):
        CompareView([a.id, "sweep-nope"], store=db, autostart=False)
    with pytest.raises(ValueError, match="given twice"):
        CompareView([a.id, a.id], store=db, autostart=False)
    with pytest.raises(TypeError, match="a list of sweep ids or handles, got 'sweep-x'"):
        CompareView("sweep-x", store=db)
    with pytest.raises(TypeError, match="a sweep id or a SweepHandle, got 3"):
        CompareView([a.id, 3], store=db)
    # handles work as well as ids, and a view opened after both ended draws the same
    late = CompareView([a, b], autostart=False)
    assert late.comparison.done
    for kind in ("front", "trials"):
        mine, theirs = traces(late, kind), traces(view, kind)
        for h in (a, b):
            assert list(mine[h.id].x) == list(theirs[h.id].x)
            assert list(mine[h.id].y) == list(theirs[h.id].y)


def test_sweep_compare_on_the_command_line_reports_the_same_hypervolumes(compared, capsys):
    from workbench.cli.steer import compare

    db, a, b, view = compared
    compare(argparse.Namespace(sweep_id=a.id, other_id=b.id, db=str(db)))
    out = capsys.readouterr().out
    lines = traces(view, "hypervolume")
    for h in (a, b):
        assert f"{h.id}: hypervolume {lines[h.id].y[-1]:.4g}\n" in out
    ref_cost = view.comparison.reference()[0]
    assert f"reference point (agent_steps {ref_cost:.4g}, perf 0)" in out

"""The sweep-view benchmark builds a store through the public API, watches it with the view
and records every figure it prints."""

import json

import pytest

from workbench.bench import sweep_view
from workbench.store import RunStore


def test_a_small_run_draws_every_trial_and_times_every_new_observation(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_BENCH_DIR", str(tmp_path))
    store = tmp_path / "view.db"
    result = sweep_view.run(trials=40, points=3, new=3, rate=20.0, store=store)
    written = json.loads((tmp_path / "sweep_view.json").read_text())
    assert written["trials"] == result["trials"] == 40
    assert written["drawn_at_first"] == 40  # every trial's end on the first draw
    assert written["new_observations"] == 3 * 3  # each new trial's points, each timed
    assert written["first_draw_s"] > 0 and 0 < written["latency_p50_s"] <= written["latency_p95_s"]
    assert set(written["met"]) == {"first_draw_s", "latency_p95_s", "view_memory_mb"}
    runs = RunStore(store).runs()
    assert len(runs) == 43 and (runs["status"] == "finished").all()


def test_bad_sizes_are_refused_with_the_value():
    with pytest.raises(ValueError, match="trials must be a whole number >= 1, got 0"):
        sweep_view.run(trials=0)
    with pytest.raises(ValueError, match="rate must be > 0"):
        sweep_view.run(rate=0.0)

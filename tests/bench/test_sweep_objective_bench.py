"""The objective-sweep benchmark runs a small sweep and records every figure it prints."""

import json

from workbench.bench import sweep_objective


def test_a_small_run_records_the_sweep_and_view_times(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_BENCH_DIR", str(tmp_path))
    payload = sweep_objective.run(trials=6, refreshes=2)
    written = json.loads((tmp_path / "sweep_objective.json").read_text())
    assert written["trials"] == 6 and len(written["trial_s"]["repeats"]) == 6
    assert payload["best"] <= sweep_objective.OPTIMUM + 1e-6  # nothing beats the optimum
    for key in ("sweep_s", "view_first_build_s", "view_build_s", "view_build_models_s"):
        assert written[key] > 0
    assert len(written["view_refresh_s"]["repeats"]) == 2


def test_the_function_is_branin():
    assert sweep_objective.branin(-3.14159265, 12.275) == sweep_objective.branin(3.14159265, 2.275)
    assert abs(sweep_objective.branin(3.14159265, 2.275) - sweep_objective.OPTIMUM) < 1e-5

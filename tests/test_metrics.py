"""The metric vocabulary: one rule for final values, and no module retypes a metric key."""

import ast
from pathlib import Path

import pytest

from workbench import metrics as M

PACKAGE = Path(M.__file__).resolve().parent


def test_final_prefers_the_evaluation_then_training():
    assert M.final({"env/score": 3.0, "eval/score": 7.0}) == 7.0
    assert M.final({"env/score": 3.0}) == 3.0
    assert M.final({"env/score": 3.0, "eval/score": float("nan")}) == 3.0
    assert M.final({}, default=-1) == -1
    assert M.final({"eval/perf": 0.5}, M.PERF) == 0.5


def test_summarize_row_keeps_the_latest_figures_under_row_names():
    summary = {}
    M.summarize_row(summary, {"agent_steps": 10, "wall_time": 1.0, "epoch": 1, "env/score": 2.0})
    M.summarize_row(summary, {"agent_steps": 20, "wall_time": 2.0, "epoch": 2, "sps": 5.0})
    assert summary == {
        "agent_steps": 20,
        "wall_time": 2.0,
        "epochs": 2,
        "sps": 5.0,
        "env/score": 2.0,
    }


def test_objectives_are_checked_by_name():
    assert M.check_objective("perf") == "perf"
    assert M.objective({"env/perf": 0.2, "eval/perf": 0.9}, "perf") == 0.9
    assert M.objective({"env/perf": 0.2}, "env/perf") == 0.2
    with pytest.raises(ValueError, match=r"metric 'scor' is not logged.*did you mean 'score'"):
        M.check_objective("scor")
    with pytest.raises(ValueError, match="cost must be one of agent_steps, wall_time"):
        M.check_cost("epochs")


def _string_literals(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_no_module_retypes_a_metric_key():
    prefixes = (M.ENV, M.EVAL, M.LOSSES, M.TIMING)
    exact = {M.AGENT_STEPS, M.WALL_TIME, M.env(M.SCORE), M.env(M.PERF)}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "metrics.py":
            continue
        for line, text in _string_literals(path):
            if text in exact or (text.startswith(prefixes) and " " not in text):
                offenders.append(f"{path.relative_to(PACKAGE)}:{line}: {text!r}")
    assert not offenders, "metric keys retyped instead of imported from workbench.metrics:\n" + (
        "\n".join(offenders)
    )

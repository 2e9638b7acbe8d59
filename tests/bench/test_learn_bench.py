"""bench learn: fp32 against bf16, interleaved, and the rule for bf16 as a default."""

import json
import math

from workbench import metrics as M
from workbench.bench import learn as bench_learn


def result(seed, precision, **times):
    """A seed's result reaching each target ("0.5", "0.9") at the given time, or never."""
    reach = {t: None for t in ("0.5", "0.9")}
    for t, s in times.items():
        reach[t.replace("_", ".")] = {M.WALL_TIME: s, M.AGENT_STEPS: 1}
    return {"seed": seed, "precision": precision, "reach_smoothed": reach}


TARGETS = (0.5, 0.9)


def test_bf16_is_no_worse_when_its_medians_are_no_later_and_it_misses_nothing():
    runs = [
        result(0, "fp32", **{"0_5": 10, "0_9": 30}),
        result(0, "bf16", **{"0_5": 8, "0_9": 30}),
        result(1, "fp32", **{"0_5": 12, "0_9": 40}),
        result(1, "bf16", **{"0_5": 9, "0_9": 35}),
        result(2, "fp32", **{"0_5": 11}),  # fp32 misses 0.9 here: bf16 may too
        result(2, "bf16", **{"0_5": 10}),
    ]
    v = bench_learn.bf16_no_worse(runs, TARGETS)
    assert v["no_worse"] and v["bf16_missed"] == []
    assert v["medians"]["bf16"] == {"0.5": 9, "0.9": 35} and v["medians"]["fp32"]["0.9"] == 40


def test_bf16_is_worse_if_slower_at_one_threshold_or_if_a_seed_misses_one():
    slower = [
        result(0, "fp32", **{"0_5": 10, "0_9": 30}),
        result(0, "bf16", **{"0_5": 8, "0_9": 31}),
    ]
    assert not bench_learn.bf16_no_worse(slower, TARGETS)["no_worse"]
    missed = [  # faster medians, but seed 1 never reaches 0.9 in bf16
        result(0, "fp32", **{"0_5": 10, "0_9": 30}),
        result(0, "bf16", **{"0_5": 5, "0_9": 10}),
        result(1, "fp32", **{"0_5": 10, "0_9": 30}),
        result(1, "bf16", **{"0_5": 5}),
        result(2, "fp32", **{"0_5": 10, "0_9": 30}),
        result(2, "bf16", **{"0_5": 5, "0_9": 10}),
    ]
    v = bench_learn.bf16_no_worse(missed, TARGETS)
    assert v["bf16_missed"] == [(1, "0.9")] and not v["no_worse"]
    assert math.isinf(bench_learn.median_times([missed[3]], TARGETS)["0.9"])


def test_bench_learn_interleaves_the_precisions_seed_by_seed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_BENCH_DIR", str(tmp_path))
    small = dict(num_envs=16, bptt_horizon=16, minibatch_size=256, total_steps=2048)
    bench_learn.run("bandit", seeds=(0, 1), eval_episodes=4, precisions=("fp32", "bf16"), **small)
    data = json.loads(next(tmp_path.glob("learn_bandit*.json")).read_text())
    runs = [(r["seed"], r["precision"], r["config"]["bf16"]) for r in data["results"]]
    assert runs == [(0, "fp32", False), (0, "bf16", True), (1, "fp32", False), (1, "bf16", True)]
    assert data["precisions"] == ["fp32", "bf16"]
    assert "no_worse" in data["summary"]["bf16_vs_fp32"]
    out = capsys.readouterr().out
    assert "seed 0: precision bf16: set by --bf16 true" in out and "no worse than fp32" in out

"""The sweep benchmark: its problems have the properties they claim, the hypervolume is
right on hand-computed cases, budgets are never overspent, and a quick run works."""

import json
import math
import os
import sys
import textwrap

import numpy as np
import pytest

from workbench.bench import sweep, sweep_peers
from workbench.bench.sweep_problems import (
    Curve,
    Problem,
    RLProblem,
    ZDT1Problem,
    decode,
    encode,
    hypervolume,
    levels,
    pareto_mask,
    rows,
)

RL = RLProblem()
ZDT1 = ZDT1Problem()
DEFAULT = RL.default_params


def rl(**changes):
    return {**DEFAULT, **changes}


def in_space(space, params) -> bool:
    for name, spec in space.items():
        v = params[name]
        vals = levels(spec)
        if vals is not None:
            if v not in vals:
                return False
        elif not spec["min"] <= v <= spec["max"]:
            return False
    return True


# ---- the RL-shaped problem ---------------------------------------------------------------


def test_default_run_is_inside_the_space_feasible_and_finishes():
    for problem in (RL, ZDT1):
        d = problem.default_params
        assert in_space(problem.space, d)
        assert problem.feasible(d)
        curve = problem.evaluate(d, np.random.default_rng(0))
        assert not curve.failed and curve.points[-1][0] == 1.0
        assert math.isfinite(problem.true_score(d))
        assert problem.true_cost(d) > 0


def test_constraint_region_is_infeasible_and_rejected_at_start_up():
    bad = rl(minibatch_size=2048, num_envs=64, bptt_horizon=16)  # 2048 > 64 * 16
    assert not RL.feasible(bad)
    assert RL.feasible(rl(minibatch_size=1024, num_envs=64, bptt_horizon=16))
    curve = RL.evaluate(bad, np.random.default_rng(0))
    assert curve.error == "constraint"
    assert curve.cost == RL.crash_cost
    assert math.isnan(RL.true_score(bad))
    # vectorized over arrays, as the random sampler uses it
    cols = decode(RL.space, np.random.default_rng(1).random((5000, len(RL.space))))
    ok = RL.feasible(cols)
    assert 0.3 < ok.mean() < 0.9
    assert np.all(cols["minibatch_size"][ok] <= (cols["num_envs"] * cols["bptt_horizon"])[ok])


def test_out_of_memory_fails_at_once_at_tiny_cost():
    oom = rl(hidden_size=512, num_envs=256, bptt_horizon=128)  # 2**24 > 2**23
    assert RL.feasible(oom)
    curve = RL.evaluate(oom, np.random.default_rng(0))
    assert curve.error == "oom"
    assert len(curve.points) == 1 and curve.points[0][0] == 0.0
    assert math.isnan(curve.points[0][2])
    assert curve.cost < 0.05 * RL.true_cost(DEFAULT)
    assert math.isnan(RL.true_score(oom)) and RL.true_cost(oom) == curve.cost


def test_learning_rate_too_high_turns_nan_partway_and_costs_what_it_ran():
    # above 3x the best rate for this network and minibatch (6.5e-3)
    hot = rl(learning_rate=9e-3, hidden_size=256, total_steps=3e7)
    curve = RL.evaluate(hot, np.random.default_rng(0))
    assert curve.error == "nan"
    *ok, (frac, cost, score) = curve.points
    assert 0.2 < frac < 1.0 and math.isnan(score)
    assert len(ok) >= 2 and all(math.isfinite(s) for _, _, s in ok)
    assert ok[-1][1] < cost < RL.true_cost({**hot, "learning_rate": 1e-3})
    assert math.isnan(RL.true_score(hot))
    assert RL.true_cost(hot) == pytest.approx(cost)
    # the same run, shorter than where it diverges, finishes
    short = {**hot, "total_steps": frac * hot["total_steps"] * 0.9}
    assert math.isfinite(RL.true_score(short))
    # further above the limit diverges sooner
    hotter = RL.evaluate({**hot, "learning_rate": 1e-2}, np.random.default_rng(0))
    assert hotter.error == "nan" and hotter.points[-1][0] < frac


def test_score_and_cost_rise_with_training_length():
    rng = np.random.default_rng(3)
    configs = [DEFAULT, *rows(RL.space, RL.sample(rng, 40))]
    lengths = np.geomspace(RL.space["total_steps"]["min"], RL.space["total_steps"]["max"], 12)
    checked = 0
    for p in configs:
        scores = [RL.true_score({**p, "total_steps": n}) for n in lengths]
        costs = [RL.true_cost({**p, "total_steps": n}) for n in lengths]
        if any(math.isnan(s) for s in scores):
            continue  # OOM or divergence
        assert np.all(np.diff(scores) > 0) and np.all(np.diff(costs) > 0)
        checked += 1
    assert checked >= 20


def test_noise_shrinks_as_runs_get_longer():
    def final_scores(steps):
        p = rl(total_steps=steps)
        out = [RL.evaluate(p, np.random.default_rng(i)).points[-1][2] for i in range(400)]
        return np.array(out), RL.true_score(p)

    short, short_true = final_scores(RL.space["total_steps"]["min"])
    long, long_true = final_scores(RL.space["total_steps"]["max"])
    assert short.std() > 4 * long.std()
    assert abs(short.mean() - short_true) < 0.02 and abs(long.mean() - long_true) < 0.01


def test_curve_points_are_the_shorter_runs_they_stand_for():
    p = rl(total_steps=2e7)
    curve = RL.evaluate(p, np.random.default_rng(0))
    fracs = [f for f, _, _ in curve.points]
    assert 5 <= len(fracs) <= 10 and fracs[0] >= 0.2 and fracs[-1] == 1.0
    for frac, cost, _ in curve.points:
        at = RL.at_fraction(p, frac)
        assert at["total_steps"] == round(frac * 2e7)
        assert RL.true_cost(at) == pytest.approx(cost, rel=1e-6)


def test_true_curve_is_what_a_trial_is_credited_with():
    rng = np.random.default_rng(3)
    cols = RL.sample(rng, 40)
    for params in rows(RL.space, cols):
        ledger = sweep.Ledger(RL, budget=1e9, rng=np.random.default_rng(0))
        ledger.trial(params)
        credited = np.array([pt[1:] for pt in ledger.trials[-1]["points"]]).reshape(-1, 2)
        curve = np.array(RL.true_curve(params)).reshape(-1, 2)
        assert curve.shape == credited.shape
        np.testing.assert_allclose(curve, credited, rtol=1e-12)
    assert ZDT1.true_curve(ZDT1.default_params) == [
        (ZDT1.true_cost(ZDT1.default_params), ZDT1.true_score(ZDT1.default_params))
    ]


@pytest.mark.parametrize("problem", [RL, ZDT1], ids=["rl", "zdt1"])
def test_perfect_knowledge_fits_the_budget_and_beats_any_run_it_could_buy(problem):
    default_cost = problem.true_cost(problem.default_params)
    found = {b: problem.oracle(b * default_cost, n_candidates=60) for b in (2, 10)}
    for b, o in found.items():
        costs = [problem.true_cost(p) for p in o["runs"]]
        assert sum(costs) == pytest.approx(o["cost"]) and o["cost"] <= b * default_cost
        pts = [pt for p in o["runs"] for pt in problem.true_curve(p)]
        assert problem.hv_ratio(pts) == pytest.approx(o["hv_ratio"])
        assert 0.5 < o["hv_ratio"] <= 1.0 + 1e-9
        # any single run it could afford, the default's included, is credited with less
        rng = np.random.default_rng(b)
        singles = [problem.default_params]
        if problem is RL:
            singles += rows(RL.space, RL.sample(rng, 200))
        else:
            singles += [dict(zip(ZDT1.space, u, strict=True)) for u in rng.random((200, 6))]
        for p in singles:
            if problem.true_cost(p) <= b * default_cost:
                assert problem.hv_ratio(problem.true_curve(p)) <= o["hv_ratio"]
    assert found[10]["hv_ratio"] > found[2]["hv_ratio"]


def test_optimum_is_not_at_a_corner_and_the_front_trades_cost_for_score():
    front = RL.true_front()
    assert len(front) > 100
    cost, score = front[:, 0], front[:, 1]
    assert cost.max() / cost.min() > 50  # the front spans cheap to dear runs
    # the best score costs several default runs, and half of it is reached far cheaper
    default_cost = RL.true_cost(DEFAULT)
    assert cost[-1] > 2 * default_cost
    assert cost[np.argmax(score >= 0.5 * score.max())] < 0.5 * default_cost
    # and the default run is a sensible start, well below the front at its cost
    at_default = score[np.searchsorted(cost, default_cost) - 1]
    assert 0.2 < RL.true_score(DEFAULT) < 0.6 * at_default
    # around the best point, moving the learning rate either way scores lower
    p = RL.true_front_params()[-1]
    assert RL.true_score(p) == pytest.approx(score[-1])
    for factor in (0.5, 2.0):
        assert RL.true_score({**p, "learning_rate": p["learning_rate"] * factor}) < RL.true_score(p)
    assert 64 < p["hidden_size"] < 512
    # the best run is not at a corner: only its length sits at a bound of the space
    u = encode(RL.space, p)
    at_bound = [name for name, x in zip(RL.space, u, strict=True) if min(x, 1 - x) < 0.1]
    assert at_bound == ["total_steps"]


# ---- the true fronts and the hypervolume ---------------------------------------------------


def test_hypervolume_on_a_hand_computed_example():
    # ref (4, 0): (1, 3) and (2, 5) dominate 3*3 + 2*2 = 13; (3, 1) is dominated by (2, 5);
    # points outside the box and NaN add nothing.
    lc = [1.0, 2.0, 3.0, 5.0, 0.5, 1.5]
    s = [3.0, 5.0, 1.0, 10.0, -1.0, float("nan")]
    assert hypervolume(lc, s, (4.0, 0.0)) == pytest.approx(13.0)
    assert hypervolume([], [], (4.0, 0.0)) == 0.0
    assert list(pareto_mask([1, 2, 3, 2], [3, 5, 1, 5])) == [True, True, False, False]


class TinyProblem(Problem):
    name = "tiny-test"

    def worst_cost(self):
        return math.exp(4.0)

    def _front_points(self):
        return np.exp([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 1.0]), np.zeros((3, 0))


def test_true_front_of_a_tiny_problem_matches_the_hand_computed_hypervolume():
    tiny = TinyProblem()
    assert tiny.reference() == pytest.approx((4.0, 0.0))
    assert tiny.true_front() == pytest.approx(np.array([[math.e, 3.0], [math.e**2, 5.0]]))
    assert tiny.true_hypervolume() == pytest.approx(13.0)


def test_zdt1_true_front_matches_the_analytic_integral():
    # front: score = -(1 - sqrt(f1)), log cost = log(1 + 9 f1); ref (log 10, -10)
    x = np.linspace(0, math.log(10), 200_001)
    height = 10 - (1 - np.sqrt((np.exp(x) - 1) / 9))
    exact = float(np.sum((height[1:] + height[:-1]) / 2 * np.diff(x)))  # trapezoids
    assert ZDT1.true_hypervolume() == pytest.approx(exact, rel=1e-3)
    f1 = np.linspace(0, 1, 11)
    on_front = {"x1": 0.0, **{f"x{i}": 0.0 for i in range(2, 7)}}
    for x in f1:
        p = {**on_front, "x1": float(x)}
        assert ZDT1.true_score(p) == pytest.approx(-(1 - math.sqrt(x)))
        assert ZDT1.true_cost(p) == pytest.approx(1 + 9 * x)
    ends = ZDT1.true_front_params()[0], ZDT1.true_front_params()[-1]
    assert [ZDT1.true_cost(p) for p in ends] == pytest.approx([1.0, 10.0])


def test_true_fronts_are_non_dominated_and_unbeaten_by_random_points():
    for problem in (RL, ZDT1):
        front = problem.true_front()
        assert pareto_mask(front[:, 0], front[:, 1]).all()
        assert np.all(np.diff(front[:, 0]) > 0) and np.all(np.diff(front[:, 1]) > 0)
        rng = np.random.default_rng(7)
        ps = rows(problem.space, decode(problem.space, rng.random((3000, len(problem.space)))))
        pts = [(problem.true_cost(p), problem.true_score(p)) for p in ps if problem.feasible(p)]
        both = np.vstack([front, np.array(pts)])
        ref = problem.reference()
        hv_front = problem.true_hypervolume()
        hv_both = hypervolume(np.log(both[:, 0]), both[:, 1], ref)
        assert hv_both <= hv_front * (1 + 1e-3)
        assert problem.hv_ratio(front.tolist()) == pytest.approx(1.0)


def test_rl_true_front_is_unbeaten_by_local_search_around_it():
    # the front is computed on grids: moves of every parameter from its points (the
    # learning rate included) must not find a meaningfully better run
    rng = np.random.default_rng(11)
    units = np.array([encode(RL.space, p) for p in RL.true_front_params()])
    parents = units[rng.integers(len(units), size=20_000)]
    move = rng.random(parents.shape) < 0.3
    child = np.clip(parents + move * rng.normal(0, 0.03, parents.shape), 0, 1 - 1e-9)
    cols = decode(RL.space, child)
    cost, score = RL._scored(cols)
    score = np.where(RL.feasible(cols), score, np.nan)
    front = RL.true_front()
    both_cost = np.concatenate([front[:, 0], cost])
    both_score = np.concatenate([front[:, 1], score])
    hv_both = hypervolume(np.log(both_cost), both_score, RL.reference())
    assert hv_both <= RL.true_hypervolume() * (1 + 2e-3)


def test_unit_encoding_round_trips():
    rng = np.random.default_rng(0)
    for p in rows(RL.space, RL.sample(rng, 50)):
        back = rows(RL.space, decode(RL.space, encode(RL.space, p)[None, :]))[0]
        for k, v in p.items():
            assert back[k] == pytest.approx(v)


# ---- budgets ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["random", "ours"])
@pytest.mark.parametrize("problem", ["rl", "zdt1"])
def test_spent_cost_never_exceeds_the_budget(method, problem):
    r = sweep.run_one(
        {
            "problem": problem,
            "method": method,
            "seed": 1,
            "budget": 4,
            "cap": 10**6,
            "protein": None,
        }
    )
    assert r["error"] is None
    trials = r["trials"]
    assert r["spent"] <= r["budget"] + 1e-9
    assert r["spent"] == pytest.approx(sum(t["cost"] for t in trials))
    assert all(t["status"] != "cut" for t in trials[:-1])
    for b in (0.5, 1, 2.5, 4):
        a = sweep.at_budget(trials, b * r["default_cost"], method in sweep.CURVE_METHODS)
        assert a["spent"] <= b * r["default_cost"] + 1e-9
        if method == "ours":
            assert a["violations"] == 0


class StopAtOnce(sweep.StandInSweeper):
    def should_stop(self, score, cost, target_cost=None):
        return True, "test"


def test_an_early_stopped_trial_costs_only_up_to_where_it_stopped():
    ledger = sweep.Ledger(RL, 10 * RL.true_cost(DEFAULT), np.random.default_rng(0))
    notes = sweep.run_ours(RL, ledger, 0, cap=20, sweeper_cls=StopAtOnce)
    stopped = [t for t in ledger.trials if t["status"] == "stopped"]
    assert stopped and notes["early_stops"] == len(stopped)
    for t in stopped:
        assert len(t["points"]) == 1 and t["cost"] == t["points"][0][0]


def test_the_trial_that_crosses_the_budget_is_cut_there():
    budget = 1.5 * RL.true_cost(DEFAULT)
    ledger = sweep.Ledger(RL, budget, np.random.default_rng(0))
    ledger.trial(DEFAULT)
    out = ledger.trial(DEFAULT)
    assert out.status == "cut" and math.isnan(out.score)
    assert ledger.spent == pytest.approx(budget) and ledger.exhausted
    cut = ledger.trials[-1]
    assert all(cut["start"] + c <= budget for c, _, _ in cut["points"])
    # a curve method keeps the points seen before the cut; others only finished trials
    a = sweep.at_budget(ledger.trials, budget, curve_credit=True)
    b = sweep.at_budget(ledger.trials, budget, curve_credit=False)
    assert len(a["credited"]) > len(b["credited"]) == 1


# ---- peers and the whole run ----------------------------------------------------------------


def test_optuna_space_mapping():
    optuna = pytest.importorskip("optuna")
    fixed = optuna.trial.FixedTrial(
        {
            "total_steps": 1e7,
            "learning_rate": 1e-3,
            "logit(gamma)": math.log(0.99 / 0.01),
            "ent_coef": 0.01,
            "log2(hidden_size)": 7,
            "log2(num_envs)": 8,
            "log2(bptt_horizon)": 4,
            "log2(minibatch_size)": 11,
            "update_epochs": 3,
        }
    )
    p = sweep_peers._optuna_params(fixed, RL.space)
    assert p["gamma"] == pytest.approx(0.99)
    assert (p["hidden_size"], p["num_envs"], p["bptt_horizon"], p["minibatch_size"]) == (
        128,
        256,
        16,
        2048,
    )
    assert in_space(RL.space, p)


def test_a_missing_peer_is_skipped_not_a_crash(monkeypatch, tmp_path):
    real = sweep_peers.importlib.util.find_spec
    monkeypatch.setattr(
        sweep_peers.importlib.util,
        "find_spec",
        lambda name: None if name == "optuna" else real(name),
    )
    assert sweep_peers.availability("tpe", None).startswith("skipped")
    assert sweep_peers.availability("random", None) is None
    assert "--protein" in sweep_peers.availability("protein", None)
    assert "cannot load" in sweep_peers.availability("protein", str(tmp_path / "nope.py"))


FAKE_PROTEIN = '''
import numpy as np

class Protein:
    """Random search with the calling convention of PufferLib's Protein."""

    def __init__(self, sweep_config, max_suggestion_cost=None, use_gpu=True):
        self.spaces = {k: v for k, v in sweep_config.items() if isinstance(v, dict)}
        sweep_config["metric_distribution"]  # some versions require more keys
        assert sweep_config["goal"] == "maximize"
        self.max_cost = max_suggestion_cost
        self.seen = []

    def suggest(self, fill):
        out = {}
        for name, s in self.spaces.items():
            if s["distribution"] == "uniform_pow2":
                lo, hi = np.log2(s["min"]), np.log2(s["max"])
                out[name] = 2 ** int(np.random.randint(lo, hi + 1))
            elif s["distribution"] == "int_uniform":
                out[name] = int(np.random.randint(s["min"], s["max"] + 1))
            elif s["distribution"] == "uniform":
                out[name] = float(np.random.uniform(s["min"], s["max"]))
            else:
                out[name] = float(np.exp(np.random.uniform(np.log(s["min"]), np.log(s["max"]))))
        return {"nested": {}, **out}, {}

    def observe(self, hypers, score, cost, is_failure=False):
        assert set(hypers) >= set(self.spaces)
        self.seen.append((score, cost, is_failure))
'''


def test_protein_is_loaded_by_path_and_driven_through_its_api(tmp_path):
    path = tmp_path / "sweep.py"
    path.write_text(textwrap.dedent(FAKE_PROTEIN))
    assert sweep_peers.availability("protein", str(path)) is None
    r = sweep.run_one(
        {
            "problem": "zdt1",
            "method": "protein",
            "seed": 0,
            "budget": 3,
            "cap": 50,
            "protein": str(path),
        }
    )
    assert r["error"] is None and r["trials"]
    assert r["spent"] <= r["budget"] + 1e-9


def _fake_protein(tmp_path, observe_body="", header=""):
    """FAKE_PROTEIN with ``observe_body`` run at the start of its ``observe``."""
    source = textwrap.dedent(FAKE_PROTEIN)
    if observe_body:
        source = source.replace(
            "        assert set(hypers) >= set(self.spaces)\n",
            f"        {observe_body}\n        assert set(hypers) >= set(self.spaces)\n",
        )
    path = tmp_path / "sweep.py"
    path.write_text(header + source)
    return path


def test_a_bad_protein_path_says_what_is_wrong_with_the_value_given(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.py"):
        sweep_peers.load_protein(str(tmp_path / "nope.py"))
    with pytest.raises(FileNotFoundError, match=r"no sweep\.py"):
        sweep_peers.load_protein(str(tmp_path))
    other = tmp_path / "other.py"
    other.write_text("x = 1\n")
    with pytest.raises(ValueError, match="defines no class Protein"):
        sweep_peers.load_protein(str(other))
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(ValueError, match=r"notes\.txt"):
        sweep_peers.load_protein(str(tmp_path / "notes.txt"))
    needs = tmp_path / "needs" / "sweep.py"
    needs.parent.mkdir()
    needs.write_text("from pufferlib.gp_torch import GaussianProcess\nclass Protein: pass\n")
    if sweep_peers.importlib.util.find_spec("pufferlib") is None:
        with pytest.raises(ImportError, match=r"pufferlib\.gp_torch"):
            sweep_peers.load_protein(str(needs))


def test_protein_gets_a_stand_in_for_the_one_pufferlib_helper_it_uses(tmp_path):
    path = _fake_protein(
        tmp_path,
        observe_body="hypers = dict(pufferlib.unroll_nested_dict({'x': {'y': 1}, **hypers}))",
        header="import pufferlib\n",
    )
    had = "pufferlib" in sys.modules
    module = sweep_peers.load_protein(str(tmp_path))  # a folder holding sweep.py works too
    assert sweep_peers.load_protein(str(path)) is module  # loaded once per process
    assert ("pufferlib" in sys.modules) == had  # the stand-in does not outlive the import
    assert dict(module.pufferlib.unroll_nested_dict({"a": {"b": 1}, "c": 2})) == {"a/b": 1, "c": 2}
    ledger = sweep.Ledger(ZDT1, 100.0, np.random.default_rng(0))
    sweep_peers.run_protein(ZDT1, ledger, 0, 5, protein=str(path))
    assert len(ledger.trials) == 5


@pytest.mark.parametrize("learns", [False, True])
def test_protein_is_told_of_failures_only_if_it_keeps_them_apart(tmp_path, learns):
    # 3.0 files an is_failure observation as a success; later versions keep them apart
    body = "self.failure_observations.append(is_failure)" if learns else ""
    path = _fake_protein(tmp_path, observe_body=body)
    module = sweep_peers.load_protein(str(path))
    module.Protein.failure_observations = []
    ledger = sweep.Ledger(RL, 6 * RL.true_cost(DEFAULT), np.random.default_rng(0))
    notes = sweep_peers.run_protein(RL, ledger, 0, 40, protein=str(path))
    failed = sum(t["status"] in ("oom", "nan", "constraint") for t in ledger.trials)
    searcher_seen = module.Protein.failure_observations
    assert failed > 0
    if learns:
        assert notes["failures_fed"] == failed and searcher_seen.count(True) == failed
    else:
        # told only while nothing else was seen (else its first suggestion would repeat)
        first_ok = next(i for i, t in enumerate(ledger.trials) if t["points"])
        assert notes["failures_fed"] == first_ok


@pytest.mark.skipif(
    not os.environ.get("WORKBENCH_PROTEIN"),
    reason="set WORKBENCH_PROTEIN to PufferLib 3.0's pufferlib/sweep.py to test the real one",
)
@pytest.mark.parametrize("problem", [RL, ZDT1], ids=["rl", "zdt1"])
def test_the_real_protein_runs_on_both_problems(problem):
    pytest.importorskip("pyro")
    path = os.environ["WORKBENCH_PROTEIN"]
    module = sweep_peers.load_protein(path)
    searcher = sweep_peers.make_protein(module, problem, 0, problem.worst_cost())
    first, _ = searcher.suggest(None)  # the search centre: the default run
    for name, value in problem.default_params.items():
        assert first[name] == pytest.approx(value)
    budget = 2 * problem.true_cost(problem.default_params)
    ledger = sweep.Ledger(problem, budget, np.random.default_rng(0))
    notes = sweep_peers.run_protein(problem, ledger, 0, 3, protein=path)
    assert notes["file"] == path and len(ledger.trials) >= 2
    assert ledger.spent <= budget + 1e-9
    for t in ledger.trials:
        assert t["status"] in ("finished", "cut", "oom", "nan", "constraint")


def test_quick_run_with_random_search_and_ours(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("WORKBENCH_BENCH_DIR", str(tmp_path))
    payload = sweep.run(methods=("random", "ours"), quick=True)
    out = capsys.readouterr().out
    assert "HV ratio" in out and "total wall time" in out
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert saved["benchmark"] == "sweep"
    rows_ = payload["summary"]
    budgets = payload["config"]["budgets_x_default_run"]
    assert {(r["problem"], r["budget"], r["method"]) for r in rows_} == {
        (p, b, m) for p in ("rl", "zdt1") for b in budgets for m in ("random", "ours")
    }
    for r in rows_:
        assert r["errors"] == 0
        assert 0.0 <= r["hv_min"] <= r["hv_median"] <= r["hv_max"] <= 1.05
        assert 0.0 <= r["fail_share_median"] <= 1.0
        assert r["used_median"] <= 1.0 + 1e-9
        if r["method"] == "ours":
            assert r["violations"] == 0
    assert set(payload["ours_suggest_latency"]) == {"20", "50"}
    assert "perfect knowledge" in out
    for name in ("rl", "zdt1"):
        perfect = payload["problems"][name]["perfect_knowledge_hv_ratio"]
        assert set(perfect) == {str(b) for b in budgets}
        for r in rows_:  # no method beats free learning at its budget
            if r["problem"] == name:
                assert r["hv_max"] <= perfect[str(r["budget"])] + 0.01


def test_curve_dataclass():
    c = Curve([(0.5, 2.0, 0.1), (0.7, 3.0, float("nan"))], "nan")
    assert c.cost == 3.0 and c.failed


def test_a_run_is_recorded_under_the_name_given(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_BENCH_DIR", str(tmp_path))
    sweep.run(problems=("zdt1",), methods=("random",), seeds=1, quick=True, name="sweep_budgets")
    assert [p.name for p in tmp_path.iterdir()] == ["sweep_budgets.json"]


@pytest.mark.parametrize("name", ["", "../sweep", "a b", "x.json"])
def test_a_name_that_is_no_plain_file_name_is_refused_before_anything_runs(name, tmp_path):
    with pytest.raises(ValueError, match="name must be letters") as err:
        sweep.run(problems=("zdt1",), methods=("random",), seeds=1, quick=True, name=name)
    assert repr(name) in str(err.value)

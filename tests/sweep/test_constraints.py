"""Constraints: a whitelisted expression language, vectorized checks, and definitions that can
never be satisfied refused at load, naming the clash."""

import math

import numpy as np
import pytest

from workbench.sweep.constraints import ConstraintError, Constraints, check_satisfiable
from workbench.sweep.space import Space

SPACE = Space(
    {
        "minibatch_size": {"kind": "pow2", "min": 256, "max": 16384},
        "bptt_horizon": {"kind": "pow2", "min": 16, "max": 256},
        "num_envs": {"kind": "int", "min": 8, "max": 128},
        "hidden_size": {"kind": "pow2", "min": 32, "max": 1024},
        "act": {"kind": "categorical", "values": ["relu", "tanh"]},
    }
)


def mem_gb(num_envs, bptt_horizon, hidden_size):
    """Deliberately scalar-only (math.sqrt): the checker must fall back to per-point calls."""
    return math.sqrt(num_envs * bptt_horizon) * hidden_size / 1024


EXPRS = [
    "minibatch_size <= num_envs * bptt_horizon",
    "minibatch_size % bptt_horizon == 0",
    "mem_gb(num_envs, bptt_horizon, hidden_size) <= max_mem",
]


def make(exprs=EXPRS):
    return Constraints(exprs, SPACE.names, fixed={"max_mem": 8}, functions={"mem_gb": mem_gb})


def test_single_point_checks_and_violations():
    c = make()
    good = {
        "minibatch_size": 1024,
        "bptt_horizon": 64,
        "num_envs": 32,
        "hidden_size": 128,
        "act": "relu",
    }
    assert c.ok(good) and c.violations(good) == []
    bad = good | {"minibatch_size": 4096}  # 4096 > 32 * 64
    assert not c.ok(bad) and c.violations(bad) == [EXPRS[0]]
    huge = good | {"hidden_size": 1024, "num_envs": 128, "bptt_horizon": 256, "minibatch_size": 256}
    assert c.violations(huge) == [EXPRS[2]]


def test_vectorized_mask_matches_pointwise_checks():
    c = make()
    rng = np.random.default_rng(0)
    u = rng.random((3000, len(SPACE)))
    mask = c.mask(SPACE.columns(u))
    rows = SPACE.from_unit_many(u)
    assert mask.tolist() == [c.ok(r) for r in rows]
    assert 0.05 < mask.mean() < 0.95  # the test exercises both outcomes


def test_language_features():
    names = ["a", "b", "act"]

    def check(expr, a, b, act="x"):
        return Constraints([expr], names).ok({"a": a, "b": b, "act": act})

    assert check("1 <= a < b <= 10", 2, 3) and not check("1 <= a < b <= 10", 3, 3)
    assert check("a > 1 and (b < 0 or not b > 5)", 2, 4)
    assert check("max(a, b) == 5 and min(a, b) == 2 and abs(a - b) == 3", 2, 5)
    assert check("log2(a) == 3 and sqrt(b) == 3 and log(1) == 0", 8, 9)
    assert check("a // b == 2 and a % b == 1 and a ** 2 == 49 and -a < +b", 7, 3)
    assert check("act == 'relu' or a > 100", 0, 0, "relu") and not check("act != 'x'", 0, 0)
    assert not check("a / b > 0", 1, 0)  # inf/nan counts as violated, no crash


@pytest.mark.parametrize(
    "expr, words",
    [
        (
            "minibatch_sise <= 4",
            ["unknown name 'minibatch_sise'", "did you mean 'minibatch_size'", "known names"],
        ),
        ("mem(num_envs) < 3", ["unknown function 'mem'", "did you mean 'mem_gb'"]),
        ("__import__('os').system('x')", ["not allowed"]),
        ("num_envs.real > 3", ["'Attribute' is not allowed"]),
        ("[1, 2][0] < num_envs", ["'Subscript' is not allowed"]),
        ("(lambda: 1)() < 2", ["calling anything but a named function"]),
        ("max(num_envs, key=abs) < 3", ["keyword argument"]),
        ("num_envs + 1", ["must be a condition"]),
        ("num_envs <", ["not a valid expression"]),
        ("num_envs in (1, 2)", ["the comparison In"]),
        ("log < 3", ["using the function 'log' as a value"]),
    ],
)
def test_forbidden_or_unknown_things_are_refused_at_load(expr, words):
    with pytest.raises(ConstraintError) as err:
        make([expr])
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_swept_and_fixed_names_must_not_overlap():
    with pytest.raises(ConstraintError, match="both swept and fixed"):
        Constraints([], ["a"], fixed={"a": 1})


def test_satisfiable_definition_reports_feasible_fraction():
    frac = check_satisfiable(SPACE, make(), np.random.default_rng(0))
    assert 0.01 < frac < 1


def test_a_constraint_never_met_is_named():
    c = make([*EXPRS, "hidden_size > 4096"])
    with pytest.raises(ConstraintError) as err:
        check_satisfiable(SPACE, c, np.random.default_rng(0))
    assert "'hidden_size > 4096'" in str(err.value) and "no point satisfies" in str(err.value)
    assert EXPRS[0] not in str(err.value)


def test_a_pair_that_never_holds_together_is_named():
    c = make(["minibatch_size >= 8192", "minibatch_size <= num_envs * 16", "hidden_size >= 32"])
    with pytest.raises(ConstraintError) as err:
        check_satisfiable(SPACE, c, np.random.default_rng(0))
    msg = str(err.value)
    assert "'minibatch_size >= 8192' and 'minibatch_size <= num_envs * 16'" in msg
    assert "Each is satisfiable alone" in msg and "hidden_size" not in msg


def test_a_triple_clash_is_explained():
    names = ["a", "b"]
    space = Space({n: {"kind": "int", "min": 0, "max": 1} for n in names})
    c = Constraints(["a + b >= 1", "a + b <= 1", "a == b"], names)  # pairwise fine, never all
    with pytest.raises(ConstraintError, match="every pair holds together, but never all 3"):
        check_satisfiable(space, c, np.random.default_rng(0))

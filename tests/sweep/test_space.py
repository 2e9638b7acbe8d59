"""Spaces: every kind round-trips through the unit box, snaps to valid values, and refuses
bad definitions with a message naming the parameter, the value and what is valid."""

import math

import numpy as np
import pytest

from workbench.sweep.space import Space, SpaceError

DEFINITION = {
    "lr": {"kind": "log", "min": 1e-5, "max": 1e-1},
    "clip": {"kind": "linear", "min": -1.0, "max": 3.0},
    "gamma": {"kind": "logit", "min": 0.9, "max": 0.9999},
    "batch": {"kind": "pow2", "min": 256, "max": 8192},
    "epochs": {"kind": "int", "min": 1, "max": 8},
    "act": {"kind": "categorical", "values": ["relu", "tanh", "gelu"]},
}


@pytest.fixture
def space():
    return Space(DEFINITION)


def test_random_points_round_trip_with_plain_types(space):
    rng = np.random.default_rng(0)
    for params in space.sample(rng, 500):
        assert type(params["lr"]) is float and type(params["clip"]) is float
        assert type(params["batch"]) is int and type(params["epochs"]) is int
        assert type(params["act"]) is str
        u = space.to_unit(params)
        assert u.shape == (6,) and np.all((u >= 0) & (u <= 1))
        back = space.from_unit(u)
        for name, value in params.items():
            if isinstance(value, float):
                assert math.isclose(back[name], value, rel_tol=1e-9), name
            else:
                assert back[name] == value, name


def test_discrete_kinds_snap_and_stay_in_bounds(space):
    rng = np.random.default_rng(1)
    u = rng.random((2000, 6))
    rows = space.from_unit_many(u)
    batches = {r["batch"] for r in rows}
    assert batches == {256, 512, 1024, 2048, 4096, 8192}  # every power of two, nothing else
    assert {r["epochs"] for r in rows} == set(range(1, 9))
    assert {r["act"] for r in rows} == {"relu", "tanh", "gelu"}
    for r in rows:
        assert 1e-5 <= r["lr"] <= 1e-1 and -1 <= r["clip"] <= 3 and 0.9 <= r["gamma"] <= 0.9999
    # snapping moves unit points onto the centers of the values they stand for
    snapped = space.snap(u)
    assert space.from_unit_many(snapped) == rows
    np.testing.assert_allclose(space.snap(snapped), snapped)
    # box edges map to the bounds
    assert (
        space.from_unit(np.zeros(6))["batch"] == 256
        and space.from_unit(np.ones(6))["batch"] == 8192
    )
    assert math.isclose(space.from_unit(np.ones(6))["lr"], 1e-1)


def test_transforms_put_equal_ratios_at_equal_steps(space):
    def unit(name, value):
        return space.dims[space.names.index(name)].to_unit([value])[0]

    # log: 1e-5 -> 1e-3 -> 1e-1 are equal steps
    assert math.isclose(unit("lr", 1e-3), 0.5)
    # logit: distance to 1 shrinking tenfold is (nearly) a constant step near 1
    step1 = unit("gamma", 0.999) - unit("gamma", 0.99)
    step2 = unit("gamma", 0.9999) - unit("gamma", 0.999)
    assert math.isclose(step1, step2, rel_tol=0.01)
    # pow2: each doubling is one bin
    assert math.isclose(unit("batch", 512) - unit("batch", 256), 1 / 6)


def test_out_of_range_values_map_outside_the_box_when_not_clipped(space):
    params = space.center() | {"lr": 1e-7}
    assert space.to_unit(params, clip=False)[0] < 0
    assert space.to_unit(params)[0] == 0.0


def test_center_defaults_to_middle_and_can_be_set():
    s = Space(
        {
            "lr": {"kind": "log", "min": 1e-4, "max": 1e-2},
            "n": {"kind": "pow2", "min": 16, "max": 64, "center": 16},
            "act": {"kind": "categorical", "values": ["a", "b"]},
            "x": {"kind": "linear", "min": 0, "max": 1, "center": 0.25, "scale": 0.5},
        }
    )
    c = s.center()
    assert math.isclose(c["lr"], 1e-3) and c["n"] == 16 and c["act"] == "a" and c["x"] == 0.25
    assert list(s.scales) == [1.0, 1.0, 1.0, 0.5]
    assert s.names == ["lr", "n", "act", "x"] and len(s.dims) == 4


@pytest.mark.parametrize(
    "spec, words",
    [
        ({"kind": "linear", "min": 2, "max": 1}, ["x:", "min (2)", "below max (1)"]),
        ({"kind": "log", "min": 0, "max": 1}, ["x:", "min > 0", "min=0"]),
        ({"kind": "log", "min": -1, "max": 1}, ["x:", "min > 0", "linear"]),
        ({"kind": "logit", "min": 0.5, "max": 1.0}, ["x:", "(0, 1)", "max=1.0"]),
        ({"kind": "pow2", "min": 100, "max": 1024}, ["x:", "power of two", "100", "64"]),
        ({"kind": "int", "min": 1.5, "max": 4}, ["x:", "integer min", "1.5"]),
        ({"kind": "lienar", "min": 0, "max": 1}, ["x:", "'lienar'", "did you mean 'linear'"]),
        ({"kind": "categorical", "values": []}, ["x:", "non-empty list"]),
        ({"kind": "categorical", "values": ["a", "a"]}, ["x:", "repeat"]),
        ({"kind": "linear", "min": 0, "max": 1, "centre": 0.5}, ["x:", "'centre'", "'center'"]),
        ({"kind": "linear", "min": 0, "max": 1, "center": 2}, ["x:", "center 2", "outside"]),
        ({"kind": "pow2", "min": 2, "max": 16, "center": 5}, ["x:", "center 5", "nearest"]),
        ({"kind": "linear", "min": 0, "max": 1, "scale": 0}, ["x:", "scale", "(0, 1]"]),
        ({"kind": "linear", "max": 1}, ["x:", "needs 'min'"]),
        ({"kind": "categorical", "values": ["a"], "center": "b"}, ["x:", "'b'", "['a']"]),
        ({"min": 0, "max": 1}, ["x:", "missing 'kind'", "linear"]),
    ],
)
def test_bad_definitions_are_refused_with_a_clear_message(spec, words):
    with pytest.raises(SpaceError) as err:
        Space({"x": spec})
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_bad_parameter_dicts_are_refused(space):
    params = space.center()
    with pytest.raises(SpaceError, match="missing parameters \\['lr'\\]"):
        space.to_unit({k: v for k, v in params.items() if k != "lr"})
    with pytest.raises(SpaceError, match=r"'tanhh' is not one of .*did you mean 'tanh'"):
        space.to_unit(params | {"act": "tanhh"})
    with pytest.raises(SpaceError, match="lr: a log parameter must be > 0"):
        space.to_unit(params | {"lr": 0.0})
    with pytest.raises(SpaceError, match="non-empty dict"):
        Space({})

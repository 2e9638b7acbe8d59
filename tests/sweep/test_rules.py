"""The trainer's shape rules are declared once (workbench.ppo.config) and a sweep's automatic
constraints come from them: every suggestion is a config the trainer accepts, and every
config the trainer refuses breaks a generated constraint. Over every registered env (its
default space, and a space over every field the rules read) and every sweep definition."""

from pathlib import Path

import numpy as np
import pytest

from workbench.envs.facts import facts
from workbench.envs.registry import names
from workbench.ppo.config import SHAPE_RULES, ConfigError, make_config
from workbench.sweep.definition import build_sweeper, load
from workbench.sweep.suggest import rejection_sample

SWEEPS = sorted((Path(__file__).parents[2] / "sweeps").glob("*.toml"))
N = 2000
# Every field a shape rule reads, over ranges wide enough to break each rule often.
SHAPE_SPACE = {
    "num_envs": {"kind": "int", "min": 1, "max": 64, "center": 32},
    "bptt_horizon": {"kind": "categorical", "values": [4, 8, 16], "center": 8},
    "minibatch_size": {"kind": "int", "min": 4, "max": 1024, "center": 64},
    "max_minibatch_size": {"kind": "categorical", "values": [0, 8, 12, 32, 64], "center": 0},
    "env_threads": {"kind": "int", "min": 1, "max": 4, "center": 1},
    "double_buffer": {"kind": "categorical", "values": [False, True], "center": False},
}


def _cases() -> list:
    return list(_each_case())


def _each_case():
    for env in names():
        if facts(env).sweep.get("space"):
            yield pytest.param(lambda env=env: load({"env": env}), id=f"{env}-default")
        data = {"env": env, "space": SHAPE_SPACE, "train": {"total_steps": 10_000}}
        yield pytest.param(lambda data=data: load(data), id=f"{env}-shapes")
    for path in SWEEPS:
        yield pytest.param(lambda path=path: load(path), id=path.stem)


def _config(d, params):
    return make_config(d.env, **d.trial_config(params))


@pytest.mark.parametrize("definition", _cases())
def test_suggestions_are_configs_the_trainer_accepts(definition):
    d = definition()
    sweeper = build_sweeper(d)
    space, constraints = sweeper.space, sweeper.constraints
    rng = np.random.default_rng(0)
    feasible = rejection_sample(space, constraints, rng, N)
    assert len(feasible) >= 300  # a narrow feasible region (an unsliceable env) still yields many
    for params in space.from_unit_many(feasible):
        _config(d, params)  # raises ConfigError if a suggestion is refused

    # the converse: whatever the trainer refuses breaks a generated constraint
    raw = space.snap(rng.random((N, len(space))))
    allowed = constraints.mask(space.columns(raw))
    refused = 0
    for params, ok in zip(space.from_unit_many(raw), allowed, strict=True):
        try:
            _config(d, params)
        except ConfigError as e:
            refused += 1
            assert not ok, f"{params} was refused ({e}) yet meets every constraint"
    if "shapes" in str(d.space):  # the shape space breaks the rules often: the test bites
        assert refused > N // 10


def test_the_rules_are_what_validate_and_the_sweep_both_use():
    # A sweep over the fields of every rule gets every rule, text for text.
    from workbench.sweep.definition import auto_constraints

    d = load({"env": "bandit", "space": SHAPE_SPACE})
    generated = auto_constraints(d)
    assert [r.expr for r in SHAPE_RULES] == generated[: len(SHAPE_RULES)]
    # a rule whose names are all fixed is not added (it held when the definition loaded)
    d = load(
        {"env": "bandit", "space": {"learning_rate": {"kind": "log", "min": 1e-3, "max": 1e-1}}}
    )
    assert not set(auto_constraints(d)) & {r.expr for r in SHAPE_RULES}
    # validate names the values and a valid choice, rule by rule
    with pytest.raises(ConfigError, match=r"minibatch_size=100 must be a multiple.*96 or 112"):
        make_config("bandit", bptt_horizon=16, minibatch_size=100)
    with pytest.raises(ConfigError, match="needs 4 env copies, got num_envs=2"):
        make_config("bandit", num_envs=2, env_threads=2, double_buffer=True)

"""Parameter importance: a random-forest surrogate's Sobol indices on hand-made data."""

import numpy as np
import pandas as pd
import pytest

from workbench.notebook import parameter_importance

SPACE = {
    "learning_rate": {"kind": "log", "min": 1e-4, "max": 0.1},
    "gamma": {"kind": "linear", "min": 0.9, "max": 0.99},
    "ent_coef": {"kind": "log", "min": 1e-5, "max": 1e-2},
}


def data(n=80, seed=0):
    rng = np.random.default_rng(seed)
    lr = 10 ** rng.uniform(-4, -1, n)
    gamma = rng.uniform(0.9, 0.99, n)
    ent = 10 ** rng.uniform(-5, -2, n)  # no effect at all
    # Best in the middle of its (log) range: non-monotone, so Spearman sees ~nothing.
    score = -((np.log10(lr) + 2.5) ** 2) + 10 * (gamma - 0.9) + rng.normal(0, 0.05, n)
    return pd.DataFrame(dict(learning_rate=lr, gamma=gamma, ent_coef=ent, score=score))


def test_a_non_monotone_parameter_spearman_misses_is_the_most_important():
    out = parameter_importance(data(), SPACE).set_index("parameter")
    assert list(out.index) == ["learning_rate", "gamma", "ent_coef"]
    assert out.loc["learning_rate", "importance"] > 0.6
    assert abs(out.loc["learning_rate", "spearman"]) < 0.2  # what the browser's chart sees
    assert out.loc["gamma", "spearman"] > 0.3  # monotone: both methods see it
    assert out.loc["ent_coef", "importance"] < 0.02
    assert out.attrs["r2"] > 0.7 and out.attrs["n"] == 80
    assert (out["main_effect"] <= out["importance"] + 1e-12).all()


def test_an_interaction_shows_as_total_effect_not_main_effect():
    rng = np.random.default_rng(1)
    n = 120
    a, b, c = rng.random(n), rng.random(n), rng.random(n)
    score = np.sign(a - 0.5) * np.sign(b - 0.5)  # only the pair matters
    space = {k: {"kind": "linear", "min": 0.0, "max": 1.0} for k in "abc"}
    out = parameter_importance(pd.DataFrame(dict(a=a, b=b, c=c, score=score)), space)
    out = out.set_index("parameter")
    for k in "ab":
        assert out.loc[k, "importance"] > 0.4 and out.loc[k, "main_effect"] < 0.15
    assert out.loc["c", "importance"] < 0.05


def test_log_scale_is_used_and_rows_without_a_score_are_left_out():
    df = data(60)
    df.loc[:9, "score"] = np.nan
    out = parameter_importance(df, SPACE)
    assert out.attrs["n"] == 50
    # A log parameter's effect linear in log10 is found whether its values are tiny or not.
    rng = np.random.default_rng(3)
    x = 10 ** rng.uniform(-5, -1, 50)
    noise = rng.random(50)
    space = {
        "x": {"kind": "log", "min": 1e-5, "max": 0.1},
        "noise": {"kind": "linear", "min": 0, "max": 1},
    }
    table = parameter_importance(pd.DataFrame(dict(x=x, noise=noise, score=np.log10(x))), space)
    assert table.loc[0, "parameter"] == "x" and table.loc[0, "importance"] > 0.9


@pytest.mark.parametrize("n", [0, 4])
def test_too_few_rows_give_an_empty_table(n):
    out = parameter_importance(data(10).head(n), SPACE)
    assert out.empty and list(out.columns) == ["parameter", "importance", "main_effect", "spearman"]


def test_a_constant_parameter_explains_nothing():
    df = data(40)
    df["gamma"] = 0.95
    out = parameter_importance(df, SPACE).set_index("parameter")
    assert out.loc["gamma", "importance"] == 0 and np.isnan(out.loc["gamma", "spearman"])

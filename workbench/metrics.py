"""The metric vocabulary: every row and summary key, defined once.

A run produces one *row* per epoch (written to the store, passed to ``on_log``) and one
*summary* when it ends. Every module that reads or writes them (trainer, store, CLI,
dashboard, notebook views, sweeper, benchmarks) imports the names from here.

Rows::

    agent_steps, wall_time, epoch, sps        the cost axes and progress
    env/<episode key>                         means of the episodes that ended this epoch
    losses/<loss key>                         update statistics
    timing/<phase>                            seconds spent per phase this epoch

Summaries hold ``agent_steps``, ``wall_time``, ``epochs``, ``sps``, the last training
figures under ``env/<key>`` and the final evaluation under ``eval/<key>``. A run's *final*
value of an episode metric follows one rule (:func:`final`): the evaluation when there is
one, else the last training figure.
"""

from __future__ import annotations

import math

# -- cost axes and progress (row and summary keys) --
AGENT_STEPS = "agent_steps"
WALL_TIME = "wall_time"
EPOCH = "epoch"
EPOCHS = "epochs"
SPS = "sps"
COST_AXES = (AGENT_STEPS, WALL_TIME)

# -- episode metrics, as envs log them (base.LOG_KEYS order) --
EPISODE_RETURN = "episode_return"
EPISODE_LENGTH = "episode_length"
SCORE = "score"
PERF = "perf"
EPISODES = "n"
EPISODE_KEYS = (EPISODE_RETURN, EPISODE_LENGTH, SCORE, PERF, EPISODES)
#: The episode metrics a run is judged by (the final-value columns of ``RunStore.runs()``).
OUTCOMES = (SCORE, PERF, EPISODE_RETURN, EPISODE_LENGTH)

# -- update statistics and timing phases --
LOSS_KEYS = (
    "policy",
    "value",
    "entropy",
    "approx_kl",
    "clipfrac",
    "importance",
    "explained_variance",
    "learning_rate",
    "importance_beta",
)
TIMING_KEYS = ("env", "forward", "copy", "learn", "misc")

ENV = "env/"
EVAL = "eval/"
LOSSES = "losses/"
TIMING = "timing/"


def env(key: str) -> str:
    """Row key of an episode metric during training: ``env("score") == "env/score"``."""
    return ENV + key


def evaluation(key: str) -> str:
    """Summary key of an episode metric of the final evaluation: ``eval/score``."""
    return EVAL + key


def loss(key: str) -> str:
    return LOSSES + key


def timing(key: str) -> str:
    return TIMING + key


#: Row keys every notebook curve view offers first, in this order.
CURVE_METRICS = (
    *(env(k) for k in OUTCOMES),
    SPS,
    *(loss(k) for k in ("policy", "value", "entropy", "approx_kl", "clipfrac")),
    loss("explained_variance"),
)


def final(summary: dict, key: str = SCORE, default=None):
    """A run's final ``key``: the evaluation's figure when there is one, else training's."""
    for name in objective_keys(key):
        value = summary.get(name)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            return value
    return default


def final_outcomes(summary: dict) -> dict:
    """Every outcome metric's final value (``score``, ``perf``...), None where unknown."""
    return {key: final(summary, key) for key in OUTCOMES}


def summarize_row(summary: dict, row: dict) -> None:
    """Fold one metric row into a run summary (latest figures win)."""
    for key in (AGENT_STEPS, WALL_TIME, SPS):
        if key in row:
            summary[key] = row[key]
    if EPOCH in row:
        summary[EPOCHS] = row[EPOCH]
    for key in EPISODE_KEYS:
        if env(key) in row:
            summary[env(key)] = row[env(key)]


def objective_names() -> tuple[str, ...]:
    """Names a sweep may optimise: an outcome (final value) or any summary key."""
    return (*OUTCOMES, *(env(k) for k in OUTCOMES), *(evaluation(k) for k in OUTCOMES))


def check_objective(name: str) -> str:
    """``name`` if a run reports it, else a ValueError listing the valid names."""
    valid = objective_names()
    if name in valid:
        return name
    import difflib

    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"metric {name!r} is not logged by any run{hint}; valid: {', '.join(valid)}")


def objective_keys(name: str) -> tuple[str, ...]:
    """Where objective ``name`` is read from, first found wins: an outcome from the final
    evaluation, else training (``eval/score``, ``env/score``); any other name as it is."""
    return (evaluation(name), env(name)) if name in OUTCOMES else (name,)


def objective(summary_or_row: dict, name: str):
    """The value of objective ``name`` in a summary (outcomes use :func:`final`) or row."""
    if name in OUTCOMES:
        return final(summary_or_row, name)
    return summary_or_row.get(name)


# Outcomes with known bounds: a prediction outside them is impossible, so it is shown within.
BOUNDS = {PERF: (0.0, 1.0)}


def bounds(name: str) -> tuple[float, float] | None:
    """The (low, high) an objective cannot leave (``perf``, ``env/perf``, ``eval/perf``...),
    or None when it has none."""
    return BOUNDS.get(name.rsplit("/", 1)[-1])


def check_cost(name: str) -> str:
    if name not in COST_AXES:
        raise ValueError(f"cost must be one of {', '.join(COST_AXES)}, got {name!r}")
    return name

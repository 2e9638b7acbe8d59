"""Synthetic sweep problems shared by the tests and the timing script (not a test module)."""

import math

import numpy as np

RL_SPACE = {
    "learning_rate": {"kind": "log", "min": 1e-4, "max": 1e-1},
    "gamma": {"kind": "logit", "min": 0.9, "max": 0.9999},
    "minibatch_size": {"kind": "pow2", "min": 256, "max": 8192},
    "bptt_horizon": {"kind": "pow2", "min": 16, "max": 256},
    "num_envs": {"kind": "pow2", "min": 8, "max": 256},
    "hidden_size": {"kind": "pow2", "min": 32, "max": 512},
    "ent_coef": {"kind": "log", "min": 1e-4, "max": 1e-1},
    "total_steps": {"kind": "log", "min": 1e5, "max": 1e7},
}
RL_CONSTRAINTS = ["minibatch_size <= num_envs * bptt_horizon", "minibatch_size % bptt_horizon == 0"]


def rl_problem(p, rng=None, noise=0.02):
    """(final score, cost) of an RL-shaped run; fails (None) in an out-of-memory corner."""
    if p["num_envs"] * p["hidden_size"] > 32768:
        return None, 0.0
    q = (
        -((math.log10(p["learning_rate"]) + 2.5) ** 2)
        - 0.5 * (math.log10(1 - p["gamma"]) + 2) ** 2
        - 0.1 * (math.log2(p["hidden_size"]) - 7) ** 2
        - 0.05 * (math.log10(p["ent_coef"]) + 2.5) ** 2
    )
    top = math.exp(q)
    speed = 1 + p["hidden_size"] / 256
    return top, p["total_steps"] * 1e-4 * speed


def rl_curve(p, rng, points=5, noise=0.02):
    """Curve points of one run: [(params at that point, score, cost)], or None if it fails."""
    top, cost = rl_problem(p)
    if top is None:
        return None
    out = []
    for frac in np.linspace(1 / points, 1, points):
        steps = p["total_steps"] * frac
        score = top * (1 - math.exp(-steps / 1e6)) + noise * rng.standard_normal()
        out.append((dict(p, total_steps=steps), score, cost * frac))
    return out


TOY_SPACE = {
    "x": {"kind": "linear", "min": 0.0, "max": 1.0},
    "y": {"kind": "linear", "min": 0.0, "max": 1.0},
    "steps": {"kind": "log", "min": 1.0, "max": 100.0},
}


def toy_problem(p):
    """A two-objective toy: score grows with steps towards a peak in (x, y); cost ~ steps."""
    peak = math.exp(-((p["x"] - 0.7) ** 2 + (p["y"] - 0.3) ** 2) / 0.05)
    score = peak * (1 - math.exp(-p["steps"] / 20))
    cost = p["steps"] * (1 + p["x"])
    return score, cost

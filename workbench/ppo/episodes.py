"""Episode statistics and evaluation: env logs accumulated into means, spreads and 95%
intervals, and a policy played until every agent finished one fresh episode."""

from __future__ import annotations

import math

import numpy as np
import torch

from workbench.ppo.policy import Policy


def merge_log(acc: dict, log: dict, weight: float = 1.0) -> None:
    """Accumulate an env log (means with count n) into running sums in ``acc``."""
    n = log.get("n", 0) * weight
    if n <= 0:
        return
    for k, v in log.items():
        if k != "n":
            acc[k] = acc.get(k, 0.0) + v * n
    acc["n"] = acc.get("n", 0.0) + n


def spreads(means: dict) -> dict:
    """Means with ``<key>_sq`` (mean squares) turned into ``<key>_std`` (sample standard
    deviation) and ``<key>_ci95`` (half-width of the normal 95% interval of the mean)."""
    n = means.get("n", 0.0)
    out = {k: v for k, v in means.items() if not k.endswith("_sq")}
    for key in [k[:-3] for k in means if k.endswith("_sq")]:
        if key not in means or n < 2:
            continue
        var = max(0.0, means[f"{key}_sq"] - means[key] ** 2) * n / (n - 1)
        out[f"{key}_std"] = math.sqrt(var)
        out[f"{key}_ci95"] = 1.96 * math.sqrt(var / n)
    return out


def log_means(acc: dict) -> dict:
    n = acc.get("n", 0.0)
    if n <= 0:
        return {}
    out = {k: float(v / n) for k, v in acc.items() if k != "n"}
    out["n"] = float(n)
    return out


@torch.no_grad()
def evaluate(policy: Policy, env, max_steps: int = 27_000, seed: int = 0, device="cpu") -> dict:
    """Reset every agent of ``env`` and run until each finished one fresh episode.

    Only each agent's first episode counts: stopping at the first N episodes to finish
    would keep the shortest ones (the lowest scores in most games). Size the env to the
    number of episodes wanted. ``unfinished`` counts agents still playing at max_steps.
    """
    device = torch.device(device)
    gen = torch.Generator(device).manual_seed(seed)
    env.reset(seed=seed)
    env.log()
    n = env.num_agents
    state = policy.initial_state(n, device)
    finished = np.zeros(n, dtype=bool)
    done = np.zeros(n, dtype=bool)
    obs_view, act_view = torch.from_numpy(env.observations), torch.from_numpy(env.actions)
    acc: dict = {}
    steps = 0
    while not finished.all() and steps < max_steps:
        out, _, state = policy.step(obs_view.to(device), state)
        action, _ = policy.head.sample(out, policy.log_std, gen)
        act_view.copy_(action)
        _, _, term, trunc, _ = env.step(env.actions)
        steps += 1
        np.logical_or(term, trunc, out=done)
        if done.any():
            log = env.log(squares=True)
            first = done & ~finished
            if log and first.any():
                # The log averages every episode that ended this step; weight it by the
                # share of first episodes (exact unless a step mixes first and repeat ones).
                merge_log(acc, log, weight=first.sum() / done.sum())
            finished |= done
            if state is not None:
                keep = torch.from_numpy(~done).to(device, torch.float32)[:, None]
                state = (state[0] * keep, state[1] * keep)
    out = spreads(log_means(acc))
    out["episodes"] = int(finished.sum())
    out["unfinished"] = int(n - finished.sum())
    out["steps"] = steps
    return out

"""How many torch intra-op threads a training process should use, chosen by measurement.

Small policies lose to thread overhead while wide ones gain from more cores, and the
answer depends on the machine, the network and the minibatch; so an entry point that owns
its process (``python -m workbench train``, the benchmarks) times a minibatch's
forward/backward of the config's policy at each candidate count and keeps the fastest.
Nothing here changes process state for good: counts are tried inside
``runtime.torch_threads``.
"""

from __future__ import annotations

import os
import time

import torch

from workbench.envs import make as make_env
from workbench.ppo.config import TrainConfig
from workbench.ppo.policy import Policy
from workbench.runtime import torch_threads


def candidate_threads() -> list[int]:
    """1, 2, 4, ... up to the cores this process may run on, and that count itself."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    counts, n = [], 1
    while n < (cores or 1):
        counts.append(n)
        n *= 2
    return [*counts, cores or 1]


def time_minibatch(cfg: TrainConfig, threads: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` seconds of one forward/backward of ``cfg``'s policy over a
    (micro-)minibatch of blank observations, with ``threads`` torch threads."""
    env = make_env(cfg.env, num_envs=1, seed=cfg.seed, **cfg.env_params)
    try:
        policy = Policy.for_env(env, cfg.hidden_size, cfg.rnn, seed=cfg.seed)
        one = torch.from_numpy(env.observations[:1])
    finally:
        env.close()
    horizon = cfg.bptt_horizon
    segs = max(1, min(cfg.minibatch_size, cfg.micro_batch_size(1)) // horizon)
    obs = torch.zeros((segs, horizon, *one.shape[1:]), dtype=one.dtype)  # valid for any encoder
    state = policy.initial_state(segs)
    best = float("inf")
    with torch_threads(threads):
        for _ in range(repeats + 1):  # the first run warms up
            start = time.perf_counter()
            out, values = policy.forward_sequence(obs, state)
            (out.mean() + values.mean()).backward()
            best = min(best, time.perf_counter() - start)
    return best


def best_torch_threads(cfg: TrainConfig, candidates: list[int] | None = None) -> int:
    """The candidate thread count (default :func:`candidate_threads`) that runs ``cfg``'s
    minibatch fastest; 1 without timing anything when it is the only candidate."""
    candidates = candidates or candidate_threads()
    if len(candidates) == 1:
        return candidates[0]
    return min(candidates, key=lambda n: time_minibatch(cfg, n))

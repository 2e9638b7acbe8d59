"""``python -m workbench bench env NAME``: env.step() throughput through the Python API.

Random actions come from a cache generated up front, so the timing is the env alone:
the validation in ``step()``, the compiled loop over every copy, and the buffer writes.
By default the process is pinned to one core, matching how the C reference was measured.
``--slices N`` steps N slices of the copies in parallel, a thread each
(``make(..., slices=N)``; never more slices than copies) and is not pinned: it needs N
free cores to mean anything.
"""

from __future__ import annotations

import os
import time

import numpy as np
from gymnasium import spaces

from workbench.bench.common import print_table, summarize, write_result
from workbench.envs import make
from workbench.envs.facts import facts
from workbench.runtime import pinned_to_one_core

CACHE_STEPS = 256


def random_actions(env, steps: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    space = env.single_action_space
    shape = (steps, *env.actions.shape)
    if isinstance(space, spaces.Discrete):
        cache = rng.integers(0, space.n, shape, dtype=np.int32)
    elif isinstance(space, spaces.MultiDiscrete):
        cache = (rng.random(shape) * space.nvec).astype(np.int32)
    else:
        cache = rng.uniform(space.low, space.high, shape).astype(np.float32)
    return list(cache)


def time_steps(env, seconds: float) -> float:
    """Agent steps per second of env.step() over about ``seconds`` of wall-clock."""
    cache = random_actions(env, CACHE_STEPS)
    step = env.step
    for a in cache[:16]:  # warm caches and branch predictors
        step(a)
    steps = 0
    start = time.perf_counter()
    while True:
        for a in cache:
            step(a)
        steps += len(cache)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps * env.num_agents / elapsed


def run(
    name: str,
    sizes=(1, 1024),
    seconds: float = 2.0,
    repeats: int = 5,
    pin: bool = True,
    params: dict | None = None,
    slices: int = 1,
) -> dict:
    bench = facts(name).bench
    reference = bench.get("reference_sps")
    pin = pin and slices == 1
    rows, results = [], []
    for n in sizes:
        used = min(slices, n)
        env = make(name, num_envs=n, seed=0, slices=used, **(params or {}))
        env.reset()
        with pinned_to_one_core(pin):  # how the reference was measured; restored after
            stats = summarize([time_steps(env, seconds) for _ in range(repeats)])
        env.close()
        ratio = stats["median"] / reference if reference else None
        results.append(
            {
                "num_envs": n,
                "num_agents": env.num_agents,
                "slices": used,
                "sps": stats,
                "ratio_to_reference": ratio,
            }
        )
        rows.append(
            [
                n,
                env.num_agents,
                used,
                stats["median"],
                f"{stats['spread']:.1%}",
                stats["min"],
                stats["max"],
                f"{ratio:.2f}x" if ratio else "-",
            ]
        )
    print(
        f"env {name}: agent steps/s through env.step(), median of {repeats} x {seconds}s"
        f"{', pinned to one core' if pin else ''}"
    )
    headers = ["copies", "agents", "slices", "median", "spread", "min", "max", "vs C ref"]
    print_table(headers, rows)
    if reference:
        print(f"reference: {reference / 1e6:.1f}M steps/s ({bench.get('reference', '')})")
    write_result(
        f"env_{name}" + (f"_slices{slices}" if slices > 1 else ""),
        {
            "env": name,
            "params": params or {},
            "slices": slices,
            "cpu_count": os.cpu_count(),
            "seconds": seconds,
            "repeats": repeats,
            "pinned": pin,
            "reference_sps": reference,
            "results": results,
        },
    )
    return {"results": results}


def run_adapter(env_id: str, num_envs: int = 64, seconds: float = 2.0, repeats: int = 5) -> dict:
    """Gymnasium adapter overhead: raw SyncVectorEnv stepping vs the adapter, interleaved."""
    import gymnasium as gym

    raw = gym.vector.SyncVectorEnv(
        [lambda: gym.make(env_id)] * num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    raw.reset(seed=0)
    adapted = make(f"gym:{env_id}", num_envs=num_envs, seed=0)
    cache = random_actions(adapted, CACHE_STEPS)
    raw_cache = [a.astype(raw.single_action_space.dtype or np.int64) for a in cache]

    def time_raw() -> float:
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for a in raw_cache:
                raw.step(a)
            steps += len(raw_cache)
        return steps * num_envs / (time.perf_counter() - start)

    raw_sps, adapter_sps = [], []
    for _ in range(repeats):  # interleaved, so drifts in machine load hit both alike
        raw_sps.append(time_raw())
        adapter_sps.append(time_steps(adapted, seconds))
    r, a = summarize(raw_sps), summarize(adapter_sps)
    overhead = r["median"] / a["median"] - 1.0
    print(f"gym:{env_id}, {num_envs} copies, median of {repeats} x {seconds}s, interleaved")
    print_table(
        ["stepping", "median", "spread"],
        [
            ["raw gymnasium SyncVectorEnv", r["median"], f"{r['spread']:.1%}"],
            ["workbench adapter", a["median"], f"{a['spread']:.1%}"],
        ],
    )
    print(f"adapter overhead: {overhead:.1%} (time per step, adapter / raw - 1)")
    write_result(
        f"adapter_{env_id}",
        {"env": env_id, "num_envs": num_envs, "raw_sps": r, "adapter_sps": a, "overhead": overhead},
    )
    return {"overhead": overhead}

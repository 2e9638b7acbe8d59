"""``python -m workbench bench interop``: our envs in Stable-Baselines3, side by side.

Three parts, each on this machine in one run (``--parts`` picks some):

- ``cartpole``: seconds until the mean return of the last 20 episodes reaches 475 on
  ``CartPole-v1``, median over seeds: SB3's PPO with RL-Zoo's tuned hyperparameters
  (``ZOO_CARTPOLE``, SB3's own ``make_vec_env`` of Gymnasium envs) against our trainer
  with the env's default config through the Gymnasium adapter, stepping the vector entry
  point and, as a second row, the sync path.
- ``breakout``: equal wall-clock on our Breakout: SB3 PPO (RL-Zoo's Atari-style settings,
  ``ZOO_BREAKOUT``) on ``make_sb3`` against our trainer with Breakout's default config;
  the mean return of the last 20 episodes each has after the same seconds.
- ``overhead``: env steps/s of ``make_gymnasium`` against the native API (Breakout, 1024
  copies), and of the Gymnasium adapter's vector entry point against its sync path
  (CartPole, 32 copies); random actions from a cache, interleaved repeats.

Both trainers get one torch thread (tiny networks lose to thread overhead on a CPU).
SB3 is a benchmark peer here: it is imported inside the functions that run it.
"""

from __future__ import annotations

import collections
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from workbench import metrics as M
from workbench.bench.common import print_table, summarize, write_result
from workbench.bench.env import random_actions
from workbench.bench.learn import WINDOW, first_reach, recent_mean
from workbench.envs import make
from workbench.envs.facts import facts
from workbench.ppo.config import make_config
from workbench.ppo.run import launch
from workbench.runtime import retain_freed_memory, torch_threads

CARTPOLE = "CartPole-v1"
TARGET = 475.0
# RL-Baselines3-Zoo's tuned PPO for CartPole-v1 (hyperparams/ppo.yml); "lin_" = linear decay.
ZOO_CARTPOLE = {
    "n_envs": 8,
    "n_timesteps": 100_000,
    "n_steps": 32,
    "batch_size": 256,
    "gae_lambda": 0.8,
    "gamma": 0.98,
    "n_epochs": 20,
    "ent_coef": 0.0,
    "learning_rate": "lin_0.001",
    "clip_range": "lin_0.2",
}
# RL-Zoo's PPO settings for Atari (hyperparams/ppo.yml, atari), without the image
# preprocessing: our Breakout's observation is a 118-float vector, so an MLP policy.
ZOO_BREAKOUT = {
    "n_envs": 8,
    "n_steps": 128,
    "n_epochs": 4,
    "batch_size": 256,
    "learning_rate": "lin_2.5e-4",
    "clip_range": "lin_0.1",
    "vf_coef": 0.5,
    "ent_coef": 0.01,
}


def _schedule(value):
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])
        return lambda progress: progress * start  # progress runs from 1 to 0
    return value


def sb3_ppo(venv, hyper: dict, seed: int, seconds: float, steps: int, target: float | None):
    """Train SB3 PPO until ``steps``, ``seconds`` or (with ``target``) the mean return of the
    last WINDOW episodes reaching it; returns times, steps and that recent mean."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    kwargs = {k: _schedule(v) for k, v in hyper.items() if k not in ("n_envs", "n_timesteps")}
    recent = collections.deque(maxlen=WINDOW)
    out = {"reach": None}

    class Watch(BaseCallback):
        def _on_step(self) -> bool:
            recent.extend(i["episode"]["r"] for i in self.locals["infos"] if "episode" in i)
            elapsed = time.perf_counter() - start
            done = len(recent) == WINDOW and target is not None and np.mean(recent) >= target
            if done and out["reach"] is None:
                out["reach"] = {M.WALL_TIME: elapsed, M.AGENT_STEPS: int(self.num_timesteps)}
            out[M.WALL_TIME], out[M.AGENT_STEPS] = elapsed, int(self.num_timesteps)
            return not done and elapsed < seconds

    # The clock starts before the model is built, as ours includes building the trainer.
    start = time.perf_counter()
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **kwargs)
    model.learn(steps, callback=Watch())
    out["recent_return"] = float(np.mean(recent)) if recent else float("nan")
    venv.close()
    return out


def ours(name: str, seed: int, seconds: float | None, target: float | None, **overrides):
    """Our trainer with the env's default config: time to ``target`` (recent mean of the
    env's episode return), and the recent mean at the end."""
    cfg = make_config(name, seed=seed, eval_episodes=0, **overrides)
    with tempfile.TemporaryDirectory() as tmp, torch_threads(1), retain_freed_memory():
        handle = launch(cfg, store=Path(tmp) / "interop.db")
        handle.wait(seconds)
        if not handle.done:
            handle.stop()
        curve = handle.wait().curve()
    curve["smooth"] = recent_mean(curve, M.env(M.EPISODE_RETURN))
    return {
        "reach": first_reach(curve, "smooth", target) if target is not None else None,
        M.WALL_TIME: float(curve[M.WALL_TIME].iloc[-1]),
        M.AGENT_STEPS: int(curve[M.AGENT_STEPS].iloc[-1]),
        "recent_return": float(curve["smooth"].iloc[-1]),
    }


def _median_time(runs: list[dict]) -> float:
    return statistics.median(r["reach"][M.WALL_TIME] if r["reach"] else float("inf") for r in runs)


SB3_CARTPOLE = "sb3 PPO (RL-Zoo), SB3 make_vec_env"
OURS_CARTPOLE = {
    "workbench, vector entry point": {"vectorization": "vector"},
    "workbench, sync path": {"vectorization": "sync"},
}


def run_cartpole(seeds=(0, 1, 2)) -> dict:
    from stable_baselines3.common.env_util import make_vec_env

    zoo = ZOO_CARTPOLE
    out = {label: {"runs": []} for label in (SB3_CARTPOLE, *OURS_CARTPOLE)}
    for seed in seeds:  # seeds outermost, so drifts in machine load hit every trainer alike
        venv = make_vec_env(CARTPOLE, n_envs=zoo["n_envs"], seed=seed)
        with torch_threads(1):
            sb3 = sb3_ppo(venv, zoo, seed, 600.0, zoo["n_timesteps"], TARGET)
        out[SB3_CARTPOLE]["runs"].append(sb3)
        for label, env_params in OURS_CARTPOLE.items():
            mine = ours(f"gym:{CARTPOLE}", seed, None, TARGET, env_params=env_params)
            out[label]["runs"].append(mine)
    base = _median_time(out[SB3_CARTPOLE]["runs"])
    rows = []
    for label, r in out.items():
        r["median_time"] = _median_time(r["runs"])
        r["speedup_vs_sb3"] = base / r["median_time"]
        times = [x["reach"][M.WALL_TIME] if x["reach"] else None for x in r["runs"]]
        steps = [x["reach"][M.AGENT_STEPS] if x["reach"] else None for x in r["runs"]]
        rows.append(
            [
                label,
                " ".join(f"{t:.1f}" if t else "-" for t in times),
                " ".join(f"{s / 1e3:.0f}k" if s else "-" for s in steps),
                f"{r['median_time']:.2f}s",
                f"{r['speedup_vs_sb3']:.1f}x",
            ]
        )
    print(
        f"{CARTPOLE}: seconds until the mean return of the last {WINDOW} episodes >= "
        f"{TARGET:g} (model setup included), seeds {','.join(map(str, seeds))}"
    )
    print_table(["trainer", "seconds per seed", "steps per seed", "median", "vs SB3"], rows)
    return out


def run_breakout(seconds: float = 60.0, seed: int = 0) -> dict:
    from workbench.envs.sb3 import make_sb3

    env_params = dict(facts("breakout").env)
    zoo = ZOO_BREAKOUT
    with torch_threads(1):
        sb3 = sb3_ppo(
            make_sb3("breakout", zoo["n_envs"], seed=seed, **env_params),
            zoo,
            seed,
            seconds,
            10**9,
            None,
        )
    mine = ours("breakout", seed, seconds, None)
    rows = [
        ["sb3 PPO (RL-Zoo Atari settings), make_sb3", sb3[M.AGENT_STEPS], sb3["recent_return"]],
        ["workbench, breakout defaults", mine[M.AGENT_STEPS], mine["recent_return"]],
    ]
    print(
        f"breakout: {seconds:g}s of training each, seed {seed}: mean return of the last "
        f"{WINDOW} episodes"
    )
    print_table(["trainer", "agent steps", "return"], rows)
    return {"seconds": seconds, "seed": seed, "sb3": sb3, "workbench": mine}


def _sps(step, cache, n_agents: int, seconds: float) -> float:
    for a in cache[:16]:
        step(a)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in cache:
            step(a)
        steps += len(cache)
    return steps * n_agents / (time.perf_counter() - start)


def run_overhead(seconds: float = 1.0, repeats: int = 5) -> dict:
    from workbench.envs.vector import make_gymnasium

    out = {}
    pairs = {
        "breakout x1024: make_gymnasium / native": (
            make("breakout", num_envs=1024, seed=0),
            make_gymnasium("breakout", 1024, seed=0),
        ),
        "gym:CartPole-v1 x32: vector entry point / sync": (
            make("gym:CartPole-v1", num_envs=32, seed=0, vectorization="sync"),
            make("gym:CartPole-v1", num_envs=32, seed=0, vectorization="vector"),
        ),
    }
    rows = []
    for label, (base, other) in pairs.items():
        cache = random_actions(base, 256)
        a, b = [], []
        for _ in range(repeats):  # interleaved, so drifts in machine load hit both alike
            a.append(_sps(base.step, cache, base.num_agents, seconds))
            b.append(_sps(other.step, cache, base.num_agents, seconds))
        sa, sb = summarize(a), summarize(b)
        ratio = sb["median"] / sa["median"]
        out[label] = {"base_sps": sa, "other_sps": sb, "ratio": ratio}
        rows.append([label, sa["median"], sb["median"], f"{ratio:.2f}x"])
        base.close()
        other.close()
    print(f"env steps/s, median of {repeats} x {seconds:g}s, interleaved, random actions")
    print_table(["comparison", "base steps/s", "steps/s", "ratio"], rows)
    return out


PARTS = ("overhead", "cartpole", "breakout")


def run(parts=PARTS, seeds=(0, 1, 2), seconds: float = 60.0):
    # torch imports its compiler the first time an optimizer is built (seconds): pay that
    # here, not inside whichever trainer's clock happens to run first.
    import torch._dynamo  # noqa: F401

    payload = {"parts": list(parts), "seeds": list(seeds), "zoo_cartpole": ZOO_CARTPOLE}
    if "overhead" in parts:
        payload["overhead"] = run_overhead()
    if "cartpole" in parts:
        payload["cartpole"] = run_cartpole(seeds)
    if "breakout" in parts:
        payload["zoo_breakout"] = ZOO_BREAKOUT
        payload["breakout"] = run_breakout(seconds, seeds[0])
    write_result("interop", payload)
    return payload

"""``python -m workbench bench gpu``: the whole GPU check in one command, in ``--budget``
seconds (8 minutes by default), one JSON and a table per phase.

Phases, in order, each with its share of the budget (:data:`SHARES`); a phase that runs
out of time skips what is left of it with a note, and the next starts on time:

1. ``kernels``: ``tests/cuda`` natively (pytest, Triton compiled, no interpreter), and the
   advantage kernel's time over 64 x 16,384 (20 calls between synchronizations; its share
   of an epoch is reported once phase 2 measured the epoch);
2. ``throughput``: Breakout training steps/s end to end, for the MLP and the MLP+LSTM at
   4,096, 8,192 and 16,384 agents with env threads (:data:`VARIANTS`: threads alone, all
   three of double buffering, bf16 and CUDA graphs, then each alone), and beside each, in
   the same process, the rollout-only ceiling (``Trainer.rollout``, env included), the
   learner-only ceiling (``Trainer.update`` on the collected batch) and env-only steps/s;
3. ``learn``: wall-clock seconds until Breakout's per-epoch mean score first reaches 400
   with :data:`GPU_CONFIG`, over 3 seeds; the kernels' first compilation (timed before the
   clock starts) and the CUDA graphs' capture (timed inside) are reported apart;
4. ``trials``: one trial, then four at once on the one GPU, through the processes executor
   (the four share the one's env threads), aggregate steps/s over the time all of them
   were training.

Without a CUDA device it prints one line saying so and exits with code 2 (see
:func:`no_device_line`). ``--pack DIR`` (``workbench.bench.gpu_pack``) writes the wheels
a GPU machine without a registry needs for this command.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import torch

from workbench import metrics as M
from workbench.bench.common import write_result
from workbench.bench.gpu_tables import print_report

BUDGET = 480.0  # seconds: the 8 minutes
SHARES = {"kernels": 0.10, "throughput": 0.36, "learn": 0.32, "trials": 0.17}  # 5% spare
SIZES = (4096, 8192, 16384)
# Every throughput run: a GPU-sized minibatch, 8 env threads (16 slices with double
# buffering: the GPU machine's 16 cores).
BASE = {"minibatch_size": 32768, "env_threads": 8}
# In the order measured: the baseline and all three first, so a phase that runs out of
# time loses single features, not the extremes.
VARIANTS = {
    "threads": {},
    "all": {"double_buffer": True, "bf16": True, "cuda_graphs": True},
    "double_buffer": {"double_buffer": True},
    "bf16": {"bf16": True},
    "cuda_graphs": {"cuda_graphs": True},
}
# The GPU training config of the learn phase, over Breakout's env.toml. Chosen before any
# GPU figure existed: revisit with the throughput table.
GPU_CONFIG = {
    "num_envs": 4096,
    "minibatch_size": 32768,
    "env_threads": 8,
    "double_buffer": True,
    "cuda_graphs": True,
}
TARGET_SCORE = 400.0
MIN_EPISODES = 20  # an epoch's mean score counts once this many episodes ended in it
SEEDS = (0, 1, 2)
KERNEL_SHAPE = (16384, 64)  # agents x bptt_horizon
CONCURRENT = 4
WARM_ROWS = 2  # a trial's first epochs (process start, first compilation and capture)
ENV_SECONDS = 0.5


def no_device_line() -> str:
    return (
        f"bench gpu: no CUDA device here (torch {torch.__version__}); nothing measured. On a "
        "GPU it measures, in 8 minutes: tests/cuda natively, Breakout steps/s end to end with "
        "rollout-only, learner-only and env-only ceilings (MLP and MLP+LSTM at 4096/8192/16384 "
        "agents; env threads, double buffering, bf16, CUDA graphs), time to mean score 400 "
        "over 3 seeds, and 4 trials at once vs 1"
    )


class Phase:
    """A phase's clock: its deadline, and notes on what it skipped for lack of time."""

    def __init__(self, name: str, seconds: float):
        self.name, self.seconds = name, seconds
        self.deadline = time.monotonic() + seconds
        self.notes: list[str] = []

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def fits(self, expected: float, what: str) -> bool:
        """Whether ``what`` (about ``expected`` seconds) ends before the deadline; if not,
        it is noted as skipped."""
        if self.left() >= expected:
            return True
        self.notes.append(f"skipped {what}: {self.left():.0f}s left of {self.seconds:.0f}s")
        return False


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _fallbacks(trainer) -> dict:
    """Why each graph asked for runs eagerly (nothing when cuda_graphs is off)."""
    if not trainer.cfg.cuda_graphs:
        return {}
    return {k: v for k, v in trainer.graphs.reasons.items() if v}


def _timed(fn, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


# -- phase 1: kernels --


def kernel_tests(phase: Phase, root: Path) -> dict:
    """``pytest tests/cuda`` in a child process, without the interpreter; pass/fail counts."""
    tests = root / "tests" / "cuda"
    if not tests.is_dir():
        phase.notes.append(f"no {tests}: run from a checkout")
        return {"ran": False}
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", str(tests), "-q", "-o", "addopts="]
        cmd += ["-p", "no:cacheprovider", f"--junitxml={report}"]
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, cwd=root, env=env, capture_output=True, text=True, timeout=phase.left()
            )
        except subprocess.TimeoutExpired:
            phase.notes.append(f"tests/cuda ran past the phase's {phase.seconds:.0f}s")
            return {"ran": True, "timed_out": True}
        out = {"ran": True, "exit_code": proc.returncode, "seconds": time.perf_counter() - start}
        if report.exists():
            suite = ET.parse(report).getroot()
            suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
            for key in ("tests", "failures", "errors", "skipped"):
                out[key] = int(suite.get(key, 0))
        out["tail"] = (proc.stdout + proc.stderr)[-2000:]
    return out


def kernel_time(device: torch.device, repeats: int = 20) -> dict:
    """Seconds per advantage call over ``KERNEL_SHAPE`` with the trainer's backend."""
    from workbench.ppo.advantage import backend_for, compute_advantage

    n, t = KERNEL_SHAPE
    g = torch.Generator(device).manual_seed(0)
    values = torch.randn(n, t + 1, device=device, generator=g)
    rewards = torch.randn(n, t, device=device, generator=g)
    dones = (torch.rand(n, t, device=device, generator=g) < 0.02).float()
    ratio = 0.5 + torch.rand(n, t, device=device, generator=g)
    out = torch.empty_like(rewards)

    def call():
        compute_advantage(values, rewards, dones, ratio, out, 0.995, 0.9, 1.0, 1.0)

    compile_s = _timed(call, device)  # the first call compiles the kernel
    call()
    seconds = _timed(lambda: [call() for _ in range(repeats)], device) / repeats
    return {
        "backend": backend_for(device),
        "shape": list(KERNEL_SHAPE),
        "seconds": seconds,
        "first_call_s": compile_s,
    }


# -- phase 2: throughput --


def env_only(agents: int, slices: int) -> float:
    from workbench.bench.env import time_steps
    from workbench.envs import make as make_env

    env = make_env("breakout", num_envs=agents, seed=1, slices=slices)
    env.reset()
    try:
        return time_steps(env, ENV_SECONDS)
    finally:
        env.close()


def measure(rnn: bool, agents: int, variant: str, device: str, base: dict, epochs: int) -> dict:
    """End to end (``train_epoch``), rollout-only and learner-only steps/s of one config,
    epoch by epoch side by side, after a warm-up epoch (compilation, capture)."""
    from workbench.ppo.config import make_config
    from workbench.ppo.trainer import Trainer

    cfg = make_config(
        "breakout",
        device=device,
        rnn=rnn,
        num_envs=agents,
        total_steps=10**12,
        eval_episodes=0,
        **{**base, **VARIANTS[variant]},
    )
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = Trainer(cfg)
        warm = _timed(t.train_epoch, dev)
        e2e, roll, learn = [], [], []
        for _ in range(epochs):
            e2e.append(_timed(t.train_epoch, dev))
            roll.append(_timed(t.rollout, dev))
            learn.append(_timed(t.update, dev))
    batch = cfg.batch_size()
    t.env.close()
    out = {
        "policy": "MLP+LSTM" if rnn else "MLP",
        "agents": agents,
        "variant": variant,
        "batch": batch,
        "epoch_s": statistics.median(e2e),
        "end_to_end_sps": batch / statistics.median(e2e),
        "rollout_only_sps": batch / statistics.median(roll),
        "learner_only_sps": batch / statistics.median(learn),
        "warmup_epoch_s": warm,
        "capture_s": t.graphs.capture_seconds,
        "graph_fallbacks": _fallbacks(t),
        "warnings": sorted({str(w.message) for w in caught}),
        "epochs": epochs,
        "config": cfg.to_dict(),
    }
    if dev.type == "cuda":
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated(dev) / 2**30
    del t
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return out


def throughput(phase: Phase, device: str, sizes, base: dict, epochs: int = 2) -> list[dict]:
    results, env_sps, last = [], {}, 0.0
    for rnn in (False, True):
        for variant in VARIANTS:
            for agents in sizes:
                what = f"{'MLP+LSTM' if rnn else 'MLP'} {agents} {variant}"
                if not phase.fits(last, what):
                    continue
                start = time.monotonic()
                try:
                    r = measure(rnn, agents, variant, device, base, epochs)
                except Exception as e:  # one config's failure is a figure, not the end
                    r = {"policy": "MLP+LSTM" if rnn else "MLP", "agents": agents}
                    r |= {"variant": variant, "error": f"{type(e).__name__}: {e}"}
                threads = base.get("env_threads", 1)
                if agents not in env_sps and "error" not in r:
                    env_sps[agents] = env_only(agents, threads)
                if agents in env_sps:
                    r["env_only_sps"] = env_sps[agents]
                    if "rollout_only_sps" in r:
                        r["rollout_over_env"] = r["rollout_only_sps"] / env_sps[agents]
                results.append(r)
                last = time.monotonic() - start
    return results


# -- phase 3: learn --


def learn(
    phase: Phase, device: str, seeds, config: dict, target: float, min_episodes: int = MIN_EPISODES
) -> list[dict]:
    from workbench.ppo.advantage import compute_advantage, segment_priorities
    from workbench.ppo.config import make_config
    from workbench.ppo.trainer import Trainer

    results = []
    for k, seed in enumerate(seeds):
        seconds = phase.left() / (len(seeds) - k)  # what is left, shared by seeds to come
        if not phase.fits(10.0, f"seed {seed}"):
            continue
        cfg = make_config("breakout", device=device, seed=seed, eval_episodes=0, **config)
        dev = torch.device(device)
        start = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t = Trainer(cfg)
            build_s = time.monotonic() - start

            def kernels(t=t, cfg=cfg):  # on the zeroed buffers: compiles, changes nothing
                coefs = (cfg.gamma, cfg.gae_lambda, cfg.vtrace_rho_clip, cfg.vtrace_c_clip)
                compute_advantage(t.values, t.rewards, t.dones, t.ratio, t.advantages, *coefs)
                segment_priorities(t.advantages, cfg.prio_alpha)

            compile_s = _timed(kernels, dev)
            clock, epochs, reached, best = 0.0, [], None, float("-inf")
            while clock < seconds - build_s - compile_s:
                epoch_start = time.perf_counter()
                row = t.train_epoch()
                _sync(dev)
                epochs.append(time.perf_counter() - epoch_start)
                clock += epochs[-1]
                score, n = row.get(M.env(M.SCORE)), row.get(M.env(M.EPISODES), 0)
                if score is not None and n >= min_episodes:
                    best = max(best, score)
                    if score >= target:
                        reached = {"seconds": clock, M.AGENT_STEPS: row[M.AGENT_STEPS]}
                        break
        capture = t.graphs.capture_seconds
        results.append(
            {
                "seed": seed,
                "reached": reached is not None,
                "seconds_to_target": reached["seconds"] if reached else None,
                "seconds_to_target_less_capture": reached["seconds"] - capture if reached else None,
                "steps_to_target": reached[M.AGENT_STEPS] if reached else None,
                "trained_s": clock,
                M.AGENT_STEPS: t.agent_steps,
                "best_epoch_score": best if best > float("-inf") else None,
                "build_s": build_s,
                "kernel_compile_s": compile_s,
                "capture_s": capture,
                "first_epoch_s": epochs[0] if epochs else None,
                "median_epoch_s": statistics.median(epochs[1:]) if len(epochs) > 1 else None,
                "graph_fallbacks": _fallbacks(t),
                "warnings": sorted({str(w.message) for w in caught}),
            }
        )
        t.env.close()
        del t
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return results


# -- phase 4: trials at once --


def concurrent_trials(count: int, kwargs: dict, seconds: float, limit: float) -> dict:
    """``count`` trials of ``kwargs`` at once in the processes executor, each capped at
    ``seconds`` of its own wall time; aggregate steps/s over the window in which every
    trial was training, warm (from the end of the last one's ``WARM_ROWS`` epochs to the
    last row of the first to end: rows arrive once per epoch)."""
    from workbench.store import RunStore
    from workbench.sweep.executors import Trial
    from workbench.sweep.executors.processes import ProcessExecutor

    rows: dict[int, list[tuple[float, int]]] = {i: [] for i in range(count)}
    outcomes: dict[int, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "trials.db")
        executor = ProcessExecutor(store, workers=count)
        start = time.monotonic()
        started = []
        try:
            for i in range(count):
                trial = Trial(
                    index=i,
                    params={},
                    kwargs=kwargs,
                    env="breakout",
                    name=f"bench-gpu-{count}x-{i}",
                    sweep_id=None,
                    cost_key=M.WALL_TIME,
                    max_cost=seconds,
                )
                started.append(trial)
                executor.submit(
                    trial,
                    lambda tr, run_id, row: rows[tr.index].append(
                        (time.monotonic(), row[M.AGENT_STEPS])
                    ),
                    lambda tr, outcome: outcomes.__setitem__(tr.index, outcome),
                )
            while len(outcomes) < count and time.monotonic() - start < limit:
                executor.wait(0.2)
            for trial in started:
                if trial.index not in outcomes:
                    executor.stop(trial, "stopped", "bench gpu: out of time")
        finally:
            executor.close()
            store.close()
    out = {
        "trials": count,
        "seconds_each": seconds,
        "statuses": [getattr(outcomes.get(i), "status", "unfinished") for i in range(count)],
        "errors": [getattr(outcomes.get(i), "error", None) for i in range(count)],
        "wall_s": time.monotonic() - start,
    }
    if any(len(r) < WARM_ROWS + 2 for r in rows.values()):
        out["note"] = f"a trial logged fewer than {WARM_ROWS + 2} epochs: no window"
        return out
    lo = max(r[WARM_ROWS][0] for r in rows.values())
    hi = min(r[-1][0] for r in rows.values())
    if hi <= lo:
        out["note"] = "the trials never trained at the same time"
        return out

    def steps_at(r, when):
        return max((s for t, s in r if t <= when), default=0)

    total = sum(steps_at(r, hi) - steps_at(r, lo) for r in rows.values())
    out |= {"window_s": hi - lo, "aggregate_sps": total / (hi - lo)}
    return out


def trials(phase: Phase, device: str, config: dict, concurrent: int) -> dict:
    kwargs = {"device": device, "eval_episodes": 0, "checkpoint_interval": 0, **config}
    # The trials at once share the env threads one trial has: the same cores in both runs.
    each = {**kwargs, "env_threads": max(1, kwargs.get("env_threads", 1) // concurrent)}
    # Each run: its share of the phase, less about 15 s of process start and stop.
    seconds = max(5.0, (phase.left() - 30.0) / 2)
    out = {"config": kwargs, "config_each": each}
    if phase.fits(seconds + 10, "one trial"):
        out["one"] = concurrent_trials(1, kwargs, seconds, phase.left() / 2)
    if phase.fits(seconds + 10, f"{concurrent} trials"):
        out["many"] = concurrent_trials(concurrent, each, seconds, phase.left())
    one, many = out.get("one", {}), out.get("many", {})
    if one.get("aggregate_sps") and many.get("aggregate_sps"):
        out["ratio"] = many["aggregate_sps"] / one["aggregate_sps"]
    return out


# -- the whole check --


PHASES = tuple(SHARES)


def check_phases(phases) -> list[str]:
    """``phases`` (names) in the check's order; an unknown or empty list is an error."""
    unknown = [p for p in phases if p not in SHARES]
    if unknown or not phases:
        given = ",".join(phases)
        raise ValueError(f"phases must be some of {','.join(PHASES)}, got {given!r}")
    return [p for p in PHASES if p in phases]


def run(
    budget: float = BUDGET,
    phases=PHASES,
    device: str = "cuda",
    sizes=SIZES,
    seeds=SEEDS,
    base: dict | None = None,
    config: dict | None = None,
    target: float = TARGET_SCORE,
    concurrent: int = CONCURRENT,
    root: Path | None = None,
    min_episodes: int = MIN_EPISODES,
) -> dict:
    """``phases`` (all four by default) in ``budget`` seconds, shared in proportion to
    :data:`SHARES`. A phase that fails is reported with its error and the next one runs.
    The arguments after ``phases`` exist so tests can run a tiny check on the CPU."""
    from workbench.bench.train import device_model

    if budget <= 0:
        raise ValueError(f"budget must be > 0 seconds, got {budget!r}; the check is made for 480")
    phases = check_phases(phases)
    base = BASE if base is None else base
    config = GPU_CONFIG if config is None else config
    root = root or Path(__file__).resolve().parents[2]
    dev = torch.device(device)
    model = device_model(device)
    report: dict = {"device": device, "device_model": model, "budget_s": budget}
    report["target_score"] = target
    report |= {"phases": phases, "torch": torch.__version__, "cuda": torch.version.cuda}
    report["load_average_at_start"] = os.getloadavg()  # others' work on the machine
    try:
        import triton

        report["triton"] = triton.__version__
    except ImportError:
        report["triton"] = None
    scale = budget * sum(SHARES.values()) / sum(SHARES[p] for p in phases)
    end = time.monotonic() + sum(SHARES[p] for p in phases) * scale
    clocks = {}
    work = {
        "kernels": lambda p: {
            "kernel_tests": kernel_tests(p, root),
            "kernel_time": kernel_time(dev),
        },
        "throughput": lambda p: {"throughput": throughput(p, device, sizes, base)},
        "learn": lambda p: {"learn": learn(p, device, seeds, config, target, min_episodes)},
        "trials": lambda p: {"trials": trials(p, device, config, concurrent)},
    }
    for i, name in enumerate(phases):
        # Its share, less what an earlier phase overran: the later phases keep theirs.
        room = end - time.monotonic() - scale * sum(SHARES[k] for k in phases[i + 1 :])
        clocks[name] = clock = Phase(name, max(0.0, min(scale * SHARES[name], room)))
        try:
            report |= work[name](clock)
        except Exception as e:  # a figure for the record, and the next phase runs
            report[f"{name}_error"] = f"{type(e).__name__}: {e}"
    report["phase_notes"] = {name: clock.notes for name, clock in clocks.items()}
    epoch = next(
        (
            r["epoch_s"]
            for r in report.get("throughput", [])
            if r.get("policy") == "MLP" and r.get("agents") == KERNEL_SHAPE[0] and "epoch_s" in r
        ),
        None,
    )
    if epoch and "kernel_time" in report:
        report["kernel_time"]["share_of_mlp_epoch"] = report["kernel_time"]["seconds"] / epoch
    print_report(report)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", model).strip("_")
    report["path"] = str(write_result(f"gpu_{slug}", report))
    return report

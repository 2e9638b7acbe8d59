"""``python -m workbench bench train NAME [--device cuda]``: training steps/s and where it goes.

For each policy (MLP + LSTM, MLP only) and each size (``num_envs``), with the env's training
config on ``--device``, in one process:

- end-to-end: wall-clock of whole epochs (rollout with the env, advantage, update);
- env-only: ``env.step()`` with random actions on an env like the trainer's (same copies,
  same threads), the bound the env sets;
- policy-only bound: the same epoch's compute without the env: the rollout's forward
  passes (policy step + sampling over every agent, for bptt_horizon steps) plus the
  update (forward/backward/optimizer step over the batch) on the collected buffers;
- copy share: the trainer's ``timing/copy`` phase over the epoch (buffer writes, and on a
  GPU the host <-> device transfers); on CUDA its timer uses events, so run with
  ``--profile`` for wall-clock phases.

The ratio end-to-end / bound says how much the env, copies and bookkeeping cost. Results
record the device model (the GPU's name, or the CPU's).

A GPU-sized config: Breakout's ``env.toml`` holds its CPU training defaults, and a CPU-sized
batch leaves a GPU idle, so ``--device cuda`` measures larger sizes (``GPU_SIZES``) with
``GPU_OVERRIDES``. Flags change either: ``--sizes 2048,8192 --minibatch-size 65536
--env-threads 8 --double-buffer --bf16 --compile``.
"""

from __future__ import annotations

import statistics
import time

import torch

from workbench import metrics as M
from workbench.bench.common import cpu_model, print_table, summarize, write_result
from workbench.bench.env import time_steps
from workbench.envs import make as make_env
from workbench.ppo.config import make_config
from workbench.ppo.trainer import Trainer
from workbench.runtime import torch_threads

GPU_SIZES = (1024, 4096, 8192)
GPU_OVERRIDES = {"minibatch_size": 32768}
ENV_SECONDS = 1.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_model(device: str) -> str:
    dev = torch.device(device)
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_model()


@torch.no_grad()
def _rollout_forward(t: Trainer) -> float:
    pol = t.policy
    state = pol.initial_state(t.env.num_agents, t.device)
    _sync(t.device)
    start = time.perf_counter()
    for step in range(t.cfg.bptt_horizon):
        out, _, state = pol.step(t.obs[:, step], state)
        pol.head.sample(out, pol.log_std, t.gen)
    _sync(t.device)
    return time.perf_counter() - start


def _env_only(cfg) -> float:
    env = make_env(
        cfg.env, num_envs=cfg.num_envs, seed=1, threads=cfg.env_slices(), **cfg.env_params
    )
    env.reset()
    try:
        return time_steps(env, ENV_SECONDS)
    finally:
        env.close()


def measure(name: str, rnn: bool, epochs: int, **overrides) -> dict:
    raw = make_config(name).replace(rnn=rnn, total_steps=10**12, eval_episodes=0, **overrides)
    batch = raw.batch_size()
    # A small size trains on one minibatch of the whole batch.
    cfg = make_config(raw, minibatch_size=min(raw.minibatch_size, batch))
    t = Trainer(cfg)
    t.train_epoch()  # warm-up: allocator, thread pools, caches, compilation
    e2e, bound, copy_share = [], [], []
    for _ in range(epochs):
        _sync(t.device)
        start = time.perf_counter()
        row = t.train_epoch()
        _sync(t.device)
        e2e.append(batch / (time.perf_counter() - start))
        timing = [v for k, v in row.items() if k.startswith(M.TIMING)]
        copy_share.append(row[M.timing("copy")] / max(sum(timing), 1e-12))
        fwd = _rollout_forward(t)
        start = time.perf_counter()
        t.update()
        _sync(t.device)
        bound.append(batch / (fwd + time.perf_counter() - start))
    t.env.close()
    return {
        "rnn": rnn,
        "batch": batch,
        "agents": t.env.num_agents,
        "end_to_end_sps": summarize(e2e),
        "env_only_sps": _env_only(cfg),
        "bound_sps": summarize(bound),
        "copy_share": statistics.median(copy_share),
        "ratio": statistics.median(e2e) / statistics.median(bound),
        "config": cfg.to_dict(),
    }


def run(
    name: str,
    epochs: int = 8,
    device: str = "cpu",
    sizes: tuple[int, ...] | None = None,
    **overrides,
) -> dict:
    """Measure every policy x size; ``overrides`` are TrainConfig fields (env_threads, ...)."""
    base = make_config(name, device=device)
    gpu = torch.device(device).type == "cuda"
    if gpu:
        overrides = {**GPU_OVERRIDES, **overrides}
    sizes = sizes or (GPU_SIZES if gpu else (base.num_envs,))
    with torch_threads(base.torch_threads):
        results = [
            measure(name, rnn, epochs, device=device, num_envs=n, **overrides)
            for rnn in (True, False)
            for n in sizes
        ]
    model = device_model(device)
    rows = [
        [
            ("MLP+LSTM" if r["rnn"] else "MLP") + f"({r['config']['hidden_size']})",
            r["agents"],
            r["batch"],
            r["end_to_end_sps"]["median"],
            f"{r['end_to_end_sps']['spread']:.1%}",
            r["env_only_sps"],
            r["bound_sps"]["median"],
            f"{r['copy_share']:.1%}",
            f"{r['ratio']:.1%}",
        ]
        for r in results
    ]
    print(
        f"train {name} on {device} ({model}): agent steps/s, median of {epochs} epochs, "
        f"torch threads {torch.get_num_threads()}"
    )
    headers = ["policy", "agents", "batch", "end-to-end", "spread", "env-only", "bound"]
    print_table([*headers, "copy share", "e2e/bound"], rows)
    write_result(
        f"train_{name}" + ("" if device == "cpu" else "_cuda"),
        {
            "env": name,
            "epochs": epochs,
            "device": device,
            "device_model": model,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "overrides": overrides,
            "results": results,
        },
    )
    return {"results": results}

"""``python -m workbench bench train NAME [--device cuda]``: training steps/s vs an honest bound.

For each policy (MLP + LSTM, MLP only) and each size (``num_envs``), with the env's training
config on ``--device``, in one process, epoch by epoch side by side:

- end-to-end: wall-clock of whole epochs (rollout with the env, advantage, update);
- honest bound: the same network in plain torch, never the trainer's code: a copy of the
  policy's modules (actor and critic as one ``nn.Linear``, the best plain form), a plain
  forward at the rollout batch for ``bptt_horizon`` steps, plus ``update_epochs`` x
  ``num_minibatches`` plain forward/backward/fused ``torch.optim.Adam`` steps on contiguous
  minibatches of the collected observations (loss: the mean of the outputs; the LSTM runs
  whole segments from their start states, with no episode starts). It leaves out the env,
  sampling, copies, the advantage, the PPO loss's math and the optimizer's extra cost:
  everything end-to-end / bound charges the trainer with. Measured in both precisions in
  the same run: fp32, and bf16 (the rollout forward and the update under bfloat16
  autocast, weights and Adam in fp32), so ``e2e/bound`` always divides by the bound in the
  trainer's own precision and ``e2e/fp32`` by the fp32 one;
- per-phase shares of the end-to-end epoch: rollout forward, env, copies, advantage (with
  priorities and segment sampling), loss (forward and PPO math), backward, optimizer
  (clipping and steps), from the trainer's own timer;
- env-only: ``env.step()`` with random actions on an env like the trainer's;
- the optimizer's step: ms per step of the configured optimizer and of Adam on the policy.

The trainer's precision is the entry point's choice (``workbench.ppo.precision``: fp32
unless ``--bf16``), printed with its reason and recorded with the processor.

Ratios come from one run, so machines of different speed compare. The process keeps freed
memory (``retain_freed_memory``) and, unless the config sets ``torch_threads``, uses the
thread count that runs the config's minibatch fastest (``best_torch_threads``). On CUDA the
timer uses events, so run with ``--profile`` for wall-clock phases.

A GPU-sized config: Breakout's ``env.toml`` holds its CPU training defaults, and a CPU-sized
batch leaves a GPU idle, so ``--device cuda`` measures larger sizes (``GPU_SIZES``) with
``GPU_OVERRIDES``. Flags change either: ``--sizes 2048,8192 --minibatch-size 65536
--env-threads 8 --double-buffer --bf16 --compile``.
"""

from __future__ import annotations

import copy
import statistics
import time

import torch
from torch import nn

from workbench.bench.common import cpu_model, print_table, summarize, write_result
from workbench.bench.env import time_steps
from workbench.envs import make as make_env
from workbench.ppo.config import make_config
from workbench.ppo.precision import choose_precision
from workbench.ppo.threads import best_torch_threads
from workbench.ppo.trainer import Trainer, build_optimizers
from workbench.runtime import retain_freed_memory, torch_threads

GPU_SIZES = (1024, 4096, 8192)
GPU_OVERRIDES = {"minibatch_size": 32768}
ENV_SECONDS = 1.0
# Shares of the end-to-end epoch, in table order: (row label, trainer timer key).
PHASES = (
    ("fwd", "forward"),
    ("env", "env"),
    ("copy", "copy"),
    ("adv", "advantage"),
    ("loss", "loss"),
    ("bwd", "backward"),
    ("opt", "optimizer"),
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_model(device: str) -> str:
    dev = torch.device(device)
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_model()


PRECISIONS = ("fp32", "bf16")


class PlainNet:
    """The trainer's network in plain torch: copies of its encoder and LSTM, actor and
    critic fused into one ``nn.Linear``, fused ``torch.optim.Adam``: the honest bound's code.
    With ``bf16``, every forward (and so its backward) under bfloat16 autocast."""

    def __init__(self, t: Trainer, bf16: bool = False):
        self.bf16 = bf16
        pol = t.policy
        self.encoder = copy.deepcopy(pol.encoder)
        self.lstm = copy.deepcopy(pol.lstm) if pol.recurrent else None
        dev, hidden = t.device, pol.hidden
        if self.lstm is not None:
            self.cell = nn.LSTMCell(hidden, hidden, device=dev)
            with torch.no_grad():
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(self.cell, name).copy_(getattr(self.lstm, f"{name}_l0"))
        self.head = nn.Linear(hidden, pol.head.out_dim + 1, device=dev)
        with torch.no_grad():
            self.head.weight.copy_(torch.cat([pol.actor.weight, pol.critic.weight]))
            self.head.bias.copy_(torch.cat([pol.actor.bias, pol.critic.bias]))
        params = [*self.encoder.parameters(), *self.head.parameters()]
        if self.lstm is not None:
            params += list(self.lstm.parameters())
        self.opt = torch.optim.Adam(params, lr=1e-5, fused=True)  # torch's fastest Adam
        self.t = t

    def autocast(self):
        return torch.autocast(self.t.device.type, torch.bfloat16, enabled=self.bf16)

    @torch.no_grad()
    def rollout_forward(self) -> None:
        """The rollout's forward passes: every agent, ``bptt_horizon`` steps."""
        with self.autocast():
            self._rollout_forward()

    def _rollout_forward(self) -> None:
        t = self.t
        n, horizon = t.obs.shape[:2]
        state = (torch.zeros(n, t.policy.hidden, device=t.device),) * 2
        for step in range(horizon):
            x = self.encoder(t.obs[:, step])
            if self.lstm is not None:
                state = self.cell(x, state)
                x = state[0]
            self.head(x)

    def update(self) -> None:
        """``update_epochs`` x ``num_minibatches`` plain training steps."""
        t, cfg = self.t, self.t.cfg
        n, horizon = t.obs.shape[:2]
        segs = cfg.minibatch_size // horizon
        steps = cfg.update_epochs * cfg.num_minibatches()
        for k in range(steps):
            lo = k * segs % max(1, n - segs + 1)
            obs = t.obs[lo : lo + segs]
            with self.autocast():
                x = self.encoder(obs.reshape(segs * horizon, *obs.shape[2:]))
                if self.lstm is not None:
                    state = (t.h0[lo : lo + segs].unsqueeze(0), t.c0[lo : lo + segs].unsqueeze(0))
                    x = self.lstm(x.reshape(segs, horizon, -1), state)[0]
                    x = x.reshape(segs * horizon, -1)
                loss = self.head(x).float().mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()


def timed(fn, device: torch.device) -> tuple[float, float]:
    """(wall-clock, process CPU) seconds of ``fn()``. On a shared core the CPU time is the
    steadier measure of the work (the wall clock also counts other processes' slices)."""
    _sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    _sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def optimizer_step_ms(t: Trainer, repeats: int = 20) -> dict:
    """Milliseconds per step of each optimizer kind on a copy of the policy (grads set)."""
    out = {}
    for kind in ("adam", "muon"):
        pol = copy.deepcopy(t.policy)
        for p in pol.parameters():
            p.grad = torch.randn_like(p) * 1e-3
        opts = build_optimizers(pol, t.cfg.replace(optimizer=kind))
        for opt in opts:  # warm-up: state allocation
            opt.step()
        _sync(t.device)
        start = time.perf_counter()
        for _ in range(repeats):
            for opt in opts:
                opt.step()
        _sync(t.device)
        out[kind] = (time.perf_counter() - start) / repeats * 1e3
    return out


def _env_only(cfg) -> float:
    env = make_env(
        cfg.env, num_envs=cfg.num_envs, seed=1, slices=cfg.env_slices(), **cfg.env_params
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
    plains = {p: PlainNet(t, bf16=p == "bf16") for p in PRECISIONS}
    for plain in plains.values():
        plain.rollout_forward()
        plain.update()
    dev = t.device
    e2e = []  # (wall, cpu) seconds per epoch
    fwd, upd = ({p: [] for p in PRECISIONS} for _ in range(2))
    shares = {label: [] for label, _ in PHASES}
    for _ in range(epochs):
        e2e.append(timed(t.train_epoch, dev))
        phases = getattr(t.timer, "phases", {})
        for label, key in PHASES:
            shares[label].append(phases.get(key, float("nan")) / e2e[-1][0])
        for p, plain in plains.items():
            fwd[p].append(timed(plain.rollout_forward, dev))
            upd[p].append(timed(plain.update, dev))
    t.env.close()
    share = {label: statistics.median(v) for label, v in shares.items()}
    bound = {
        p: [(f[0] + u[0], f[1] + u[1]) for f, u in zip(fwd[p], upd[p], strict=True)]
        for p in PRECISIONS
    }

    def ratios(p: str) -> list[float]:
        # Each epoch against the bound measured right after it, then the median of those.
        pairs = list(zip(e2e, bound[p], strict=True))
        return [statistics.median(b[i] / e[i] for e, b in pairs) for i in (0, 1)]

    own = "bf16" if cfg.bf16 else "fp32"
    ratio, ratio_fp32 = ratios(own), ratios("fp32")
    return {
        "rnn": rnn,
        "batch": batch,
        "agents": t.env.num_agents,
        "precision": own,
        "end_to_end_sps": summarize([batch / e[0] for e in e2e]),
        "env_only_sps": _env_only(cfg),
        # The bound in the trainer's precision; ``bounds`` holds both.
        "bound_sps": summarize([batch / b[0] for b in bound[own]]),
        "bounds": {
            p: {
                "sps": summarize([batch / b[0] for b in bound[p]]),
                "rollout_forward_seconds": statistics.median(f[0] for f in fwd[p]),
                "update_seconds": statistics.median(u[0] for u in upd[p]),
                "cpu_seconds": statistics.median(b[1] for b in bound[p]),
            }
            for p in PRECISIONS
        },
        "bound_seconds": {
            "rollout_forward": statistics.median(f[0] for f in fwd[own]),
            "update": statistics.median(u[0] for u in upd[own]),
        },
        "cpu_seconds": {
            "end_to_end": statistics.median(e[1] for e in e2e),
            "bound": statistics.median(b[1] for b in bound[own]),
        },
        "shares": share,
        "copy_share": share["copy"],
        "ratio": ratio[0],
        "ratio_cpu": ratio[1],
        "ratio_fp32": ratio_fp32[0],
        "optimizer_step_ms": optimizer_step_ms(t),
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
    precision = choose_precision(device, overrides.pop("bf16", None))
    overrides["bf16"] = precision.bf16
    gpu = torch.device(device).type == "cuda"
    if gpu:
        overrides = {**GPU_OVERRIDES, **overrides}
    sizes = sizes or (GPU_SIZES if gpu else (base.num_envs,))
    threads = base.torch_threads or (1 if gpu else best_torch_threads(base))
    with torch_threads(threads), retain_freed_memory():
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
            r["precision"],
            r["end_to_end_sps"]["median"],
            f"{r['end_to_end_sps']['spread']:.1%}",
            r["env_only_sps"],
            *(r["bounds"][p]["sps"]["median"] for p in PRECISIONS),
            f"{r['ratio']:.1%}",
            f"{r['ratio_cpu']:.1%}",
            f"{r['ratio_fp32']:.1%}",
            *(f"{r['shares'][label]:.1%}" for label, _ in PHASES),
            f"{r['optimizer_step_ms'][r['config']['optimizer']]:.2g}/"
            f"{r['optimizer_step_ms']['adam']:.2g}",
        ]
        for r in results
    ]
    print(
        f"train {name} on {device} ({model}): agent steps/s, median of {epochs} epochs, "
        f"torch threads {torch.get_num_threads()}; bound: the same network in plain torch "
        "(rollout forward + update_epochs x forward/backward/fused Adam per minibatch); "
        "in fp32 and in bf16 (autocast); phases: shares of the end-to-end epoch; opt ms: the "
        "config's optimizer/Adam per step; e2e/bound: median over epochs of each epoch's ratio "
        "to the bound in the trainer's precision, wall-clock and (cpu) process time; e2e/fp32: "
        "to the fp32 bound"
    )
    print(f"precision {precision}")
    headers = ["policy", "agents", "batch", "prec", "end-to-end", "spread", "env-only"]
    bounds = ["bound fp32", "bound bf16", "e2e/bound", "(cpu)", "e2e/fp32"]
    shares = [label for label, _ in PHASES]
    print_table([*headers, *bounds, *shares, "opt ms"], rows)
    write_result(
        f"train_{name}" + ("" if device == "cpu" else "_cuda"),
        {
            "env": name,
            "epochs": epochs,
            "device": device,
            "device_model": model,
            "precision": {"trainer": precision.name, "reason": precision.reason},
            "bound_precisions": list(PRECISIONS),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "overrides": overrides,
            "results": results,
        },
    )
    return {"results": results}

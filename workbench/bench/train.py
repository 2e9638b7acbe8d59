"""``python -m workbench bench train NAME``: end-to-end training steps/s vs the policy bound.

For each policy (MLP + LSTM, MLP only) with the env's training config, in one process:
- end-to-end: wall-clock of whole epochs (rollout with the env, advantage, update);
- policy-only bound: the same epoch's compute without the env: the rollout's forward
  passes (policy step + sampling over every agent, for bptt_horizon steps) plus the
  update (forward/backward/optimizer step over the batch) on the collected buffers.
The ratio end-to-end / bound says how much the env, copies and bookkeeping cost.
"""

from __future__ import annotations

import statistics
import time

import torch

from workbench.bench.common import print_table, summarize, write_result
from workbench.ppo.config import make_config
from workbench.ppo.trainer import Trainer
from workbench.runtime import torch_threads


@torch.no_grad()
def _rollout_forward(t: Trainer) -> float:
    pol = t.policy
    state = pol.initial_state(t.env.num_agents, t.device)
    start = time.perf_counter()
    for step in range(t.cfg.bptt_horizon):
        out, _, state = pol.step(t.obs[:, step], state)
        pol.head.sample(out, pol.log_std, t.gen)
    return time.perf_counter() - start


def measure(name: str, rnn: bool, epochs: int) -> dict:
    cfg = make_config(name, rnn=rnn, total_steps=10**12, eval_episodes=0)
    t = Trainer(cfg)
    batch = t.env.num_agents * cfg.bptt_horizon
    t.train_epoch()  # warm-up: allocator, thread pools, caches
    e2e, bound = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        t.train_epoch()
        e2e.append(batch / (time.perf_counter() - start))
        fwd = _rollout_forward(t)
        start = time.perf_counter()
        t.update()
        bound.append(batch / (fwd + time.perf_counter() - start))
    return {
        "rnn": rnn,
        "batch": batch,
        "agents": t.env.num_agents,
        "end_to_end_sps": summarize(e2e),
        "bound_sps": summarize(bound),
        "ratio": statistics.median(e2e) / statistics.median(bound),
        "config": cfg.to_dict(),
    }


def run(name: str, epochs: int = 8) -> dict:
    with torch_threads(make_config(name).torch_threads):
        results = [measure(name, rnn, epochs) for rnn in (True, False)]
    rows = [
        [
            ("MLP+LSTM" if r["rnn"] else "MLP") + f"({r['config']['hidden_size']})",
            r["agents"],
            r["batch"],
            r["end_to_end_sps"]["median"],
            f"{r['end_to_end_sps']['spread']:.1%}",
            r["bound_sps"]["median"],
            f"{r['ratio']:.1%}",
        ]
        for r in results
    ]
    print(
        f"train {name}: agent steps/s, median of {epochs} epochs, torch threads "
        f"{torch.get_num_threads()}"
    )
    print_table(["policy", "agents", "batch", "end-to-end", "spread", "bound", "e2e/bound"], rows)
    write_result(
        f"train_{name}",
        {
            "env": name,
            "epochs": epochs,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "results": results,
        },
    )
    return {"results": results}

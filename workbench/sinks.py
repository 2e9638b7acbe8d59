"""Metric rows to the tools researchers also use: TensorBoard event files and W&B runs.

A sink is an ``on_log(run_id, row)`` callback (pass several as a list), plus ``close()``::

    workbench.train("breakout", on_log=[TensorBoardSink("tb"), WandbSink("my-project")])

Each row becomes scalars at ``step = agent_steps``; the cost axes and progress keys
(``wall_time``, ``sps``, ``epoch``) are logged as scalars too. Both libraries are optional
extras (``pip install 'workbench[tensorboard]'`` / ``'workbench[wandb]'``), imported only
when a sink is made. W&B runs offline when no API key is configured (``mode="offline"``
works without a network; ``wandb sync`` uploads later).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from workbench import metrics as M


def _scalars(row: dict) -> dict[str, float]:
    out = {}
    for key, value in row.items():
        if key == M.AGENT_STEPS or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            out[key] = float(value)
    return out


class TensorBoardSink:
    """Writes each run's rows to ``logdir/<run id>`` as TensorBoard scalars."""

    def __init__(self, logdir="tb"):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ImportError(
                "TensorBoard export needs tensorboard: pip install 'workbench[tensorboard]'"
            ) from None
        self.logdir = Path(logdir)
        self._writer_class = SummaryWriter
        self.writers: dict = {}

    def __call__(self, run_id: str, row: dict) -> None:
        writer = self.writers.get(run_id)
        if writer is None:
            writer = self.writers[run_id] = self._writer_class(str(self.logdir / run_id))
        step = int(row[M.AGENT_STEPS])
        for key, value in _scalars(row).items():
            writer.add_scalar(key, value, global_step=step)
        writer.flush()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()


class WandbSink:
    """Logs each run's rows to a W&B run (named by the run id) in ``project``."""

    def __init__(self, project: str = "workbench", mode: str | None = None, dir=None, **init):
        try:
            import wandb
        except ImportError:
            raise ImportError("W&B export needs wandb: pip install 'workbench[wandb]'") from None
        self.wandb = wandb
        self.project = project
        has_key = bool(os.environ.get("WANDB_API_KEY")) or (Path.home() / ".netrc").exists()
        self.mode = mode or os.environ.get("WANDB_MODE") or ("online" if has_key else "offline")
        self.dir = str(dir) if dir is not None else None
        self.init = init
        self.runs: dict = {}

    def __call__(self, run_id: str, row: dict) -> None:
        run = self.runs.get(run_id)
        if run is None:
            run = self.runs[run_id] = self.wandb.init(
                project=self.project,
                name=run_id,
                id=run_id,
                mode=self.mode,
                dir=self.dir,
                reinit="create_new",
                **self.init,
            )
        run.log(
            {**_scalars(row), M.AGENT_STEPS: int(row[M.AGENT_STEPS])}, step=int(row[M.AGENT_STEPS])
        )

    def close(self) -> None:
        for run in self.runs.values():
            run.finish()
        self.runs.clear()

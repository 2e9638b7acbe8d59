"""Executors run a sweep's trials; the driver decides what to run and learns from it.

An executor has ``slots`` (trials it runs at once) and three methods, always called on
the driver's thread, and it calls the driver's callbacks on that thread too:

- ``submit(trial, on_row, on_done)``: start ``trial`` (a :class:`Trial`). For each metric
  row it produces, ``on_row(trial, run_id, row)``; when it ends, ``on_done(trial, outcome)``
  with a :class:`Outcome`. The inline executor runs the trial inside ``submit``.
- ``stop(trial, status, reason)``: end a running trial early (``stopped`` or ``pruned``).
- ``wait(timeout)``: deliver pending callbacks for up to ``timeout`` seconds.

The trainer is reached only through its public API (``launch``, handles, stop by id) and
the run store, so every executor leaves the same records behind. A trial of an objective
sweep calls a Python function instead (``executors.objective``), through the same doors:
:func:`begin` gives either kind's handle.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Trial:
    """One configuration to train: the engine's parameters and the ``train()`` arguments."""

    index: int
    params: dict
    kwargs: dict
    env: str
    name: str
    sweep_id: str
    tags: list = field(default_factory=list)
    run_id: str | None = None
    env_target: str | None = None  # "module:Class" of an env registered by the user
    cost_key: str | None = None  # with max_cost: the hard cap, enforced where the trial runs
    max_cost: float | None = None
    objective: object = None  # an objective sweep's function: called with kwargs, no training
    score_key: str | None = None  # with objective: the row key its score is recorded under


@dataclass
class Outcome:
    """How a trial ended, read from its run record."""

    run_id: str | None
    status: str  # finished, stopped, pruned or failed
    summary: dict = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None
    cause: str | None = None  # whose doing its end was (``workbench.store.CAUSES``)


def begin(trial: Trial, store, on_row):
    """The handle of ``trial``, recorded in ``store`` and not started (``handle.run()``
    runs it in the calling thread; ``stop``/``prune`` end it early): a training run, or a
    call of the sweep's function. ``on_row(run_id, row)`` gets each metric row. A config the
    trainer refuses raises ValueError or TypeError here, before anything is recorded."""
    if trial.objective is not None:
        from workbench.sweep.executors.objective import ObjectiveRun

        return ObjectiveRun(trial, store, on_row)
    from workbench.ppo.run import launch

    return launch(
        trial.env,
        store=store,
        name=trial.name,
        sweep=trial.sweep_id,
        tags=trial.tags,
        on_log=on_row,
        start=False,
        **trial.kwargs,
    )


def make_executor(name: str, store, workers: int = 1, **options):
    """The executor called ``name`` (``inline``, ``processes`` or ``ray``)."""
    if name == "inline":
        from workbench.sweep.executors.inline import InlineExecutor

        return InlineExecutor(store)
    if name == "processes":
        from workbench.sweep.executors.processes import ProcessExecutor

        return ProcessExecutor(store, workers=workers, **options)
    if name == "ray":
        from workbench.sweep.executors.ray import RayExecutor

        return RayExecutor(store, workers=workers, **options)
    raise ValueError(f"executor must be 'inline', 'processes' or 'ray', got {name!r}")

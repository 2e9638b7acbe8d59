"""``workbench.sweep()``: run a definition's trials, feed their curves to the engine, record
everything, and stop what must stop.

The driver owns the engine (:class:`~workbench.sweep.engine.Sweeper`) and an executor.
For each trial it asks the engine for parameters, marks them pending, and has the
executor train them as a run carrying the sweep's id. Each metric row that comes back
may become a *curve point* (observed as a shorter run: see the engine's docstring), may
prune the trial (far below the score-vs-cost quantile line) or stop it at the hard cost
cap. The trial's end becomes one more observation: its final score, or a failure that
teaches the success model. With an ``hours`` budget and wall-clock cost, each trial is
suggested under the time the sweep has left (a hard cap for that one suggestion), so the
last trials fit instead of being cut at the deadline; when no run is predicted to fit,
no more start and the sweep ends as the trials in flight do. Every observation is
written to the store in order, so a sweep killed at any point resumes
(``resume=sweep_id``) with an engine identical to the one that died, losing at most the
trial in flight.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import threading
import time
import traceback

import pandas as pd

from workbench import metrics as M
from workbench.envs.registry import target_of
from workbench.exits import EXIT_REASON, StopAtExit
from workbench.store import RunStore, configs_fault
from workbench.sweep.definition import SweepDefinition, build_sweeper, load, load_recorded
from workbench.sweep.executors import Outcome, Trial, make_executor
from workbench.sweep.executors.worker import cap_reason
from workbench.sweep.suggest import NoFeasiblePoint

CURVE_START = 0.2  # curve points start after this fraction of a trial's length


class SweepHandle:
    """A sweep in progress or ended: ``stop()``, ``wait()``, ``results()``, ``best()``,
    ``front()``, ``status``, and once ended ``ended_because`` (its trial or time budget
    spent, no run fitting in the time left, stopped, or the error). ``sweeper`` is the
    live engine."""

    def __init__(self, sweep_id: str, definition: SweepDefinition, store: RunStore, sweeper):
        self.id = sweep_id
        self.definition = definition
        self.store = store
        self.sweeper = sweeper
        self.status = "running"
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.trials: list[dict] = []  # one record per ended trial, in order
        self.next_prediction: dict | None = None  # the models' view of the newest trial
        self.running: dict[int, dict] = {}  # trial index -> its latest point
        self.ended_because: str | None = None  # why no more trials started, once ended
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._lock = threading.Lock()

    # -- control --
    def stop(self) -> None:
        """End the sweep: the trial in flight is stopped (recorded as such), none starts."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stop.is_set()

    @contextlib.contextmanager
    def engine(self):
        """``with handle.engine() as sweeper:`` the live engine, held for this block alone
        (the driver's thread asks it for suggestions and feeds it meanwhile)."""
        with self._lock:
            yield self.sweeper

    def ended(self, status: str, because: str | None) -> None:
        """The sweep is recorded as ended (by its driver): ``status`` and ``wait()`` see it."""
        self.status = status
        if self.ended_because is None:
            self.ended_because = because
        self._ended.set()

    def wait(self, timeout: float | None = None) -> SweepHandle:
        # An Event, not Thread.join: a join interrupted by Ctrl-C can return early afterwards.
        if self.thread is not None:
            self._ended.wait(timeout)
        return self

    @property
    def done(self) -> bool:
        return self.status != "running"

    # -- results --
    def results(self) -> pd.DataFrame:
        """One row per trial: run id, status, score, cost, the swept parameters, why it ended."""
        return trial_table(self.store, self.id, self.definition)

    def best(self, max_cost: float | None = None) -> dict | None:
        """The finished trial with the best score whose cost is at most ``max_cost``."""
        return best_trial(self.results(), max_cost)

    def export(self, path=None, run_id: str | None = None, max_cost: float | None = None):
        """Write a trial's config (default: ``best(max_cost)``) as a TOML override of its
        env's defaults; ``python -m workbench train ENV --config PATH`` reruns it exactly.
        Returns the path."""
        from pathlib import Path

        from workbench.ppo.config import config_toml, make_config

        if run_id is None:
            best = self.best(max_cost)
            if best is None:
                raise ValueError(
                    f"sweep {self.id} has no finished trial"
                    + (f" costing at most {max_cost}" if max_cost is not None else "")
                )
            run_id = best["run_id"]
        record = self.store.run(run_id)
        if record["sweep_id"] != self.id:
            raise ValueError(f"run {run_id} is not a trial of sweep {self.id}")
        cfg = make_config(record["config"])
        summary = record["summary"]
        d = self.definition
        header = (
            f"sweep {d.name} ({self.id}), trial run {run_id}\n"
            f"{d.metric} {M.objective(summary, d.metric)}, {d.cost} {summary.get(d.cost)}\n"
            f"rerun: python -m workbench train {cfg.env} --config <this file>"
        )
        path = (
            Path(path) if path else self.store.path.parent / "exports" / f"{d.name}-{run_id}.toml"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config_toml(cfg.replace(name=""), header))
        return path

    def front(self) -> pd.DataFrame:
        """The observed score-vs-cost front (curve points included), from the engine."""
        with self.engine() as sweeper:
            return sweeper.front()

    def predicted_front(self, n: int = 50) -> pd.DataFrame:
        with self.engine() as sweeper:
            return sweeper.predicted_front(n)

    def __repr__(self) -> str:
        name, n = self.definition.name, len(self.trials)
        return f"SweepHandle({self.id!r}, {name}, {self.status}, trials={n})"

    def _repr_html_(self) -> str:
        import html

        best = self.best()
        parts = [
            f"<b>sweep {html.escape(self.definition.name)}</b> <code>{html.escape(self.id)}</code>",
            self.status,
            f"{len(self.trials)} trials ended",
        ]
        if best:
            parts.append(
                f"best {self.definition.metric} {best['score']:.3g} (run {best['run_id']})"
            )
        return "<div>" + " &middot; ".join(parts) + "</div>"


def trial_table(store: RunStore, sweep_id: str, d: SweepDefinition) -> pd.DataFrame:
    runs = store.runs(sweep=sweep_id)
    cols = ["run_id", "name", "status", "score", "cost", *d.space, "reason", "error"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(
        {
            "run_id": runs["id"],
            "name": runs["name"],
            "status": runs["status"],
            "score": [_objective(r, d.metric) for r in runs.to_dict("records")],
            "cost": runs.get(d.cost, math.nan),
        }
    )
    for key in d.space:
        column = key if key in runs else f"config.{key}"
        out[key] = runs.get(column, math.nan)
    out["reason"] = runs["reason"]
    out["error"] = [
        e.strip().splitlines()[-1] if isinstance(e, str) else None for e in runs["error"]
    ]
    return out[cols]


def _objective(record: dict, metric: str):
    value = record.get(metric)  # runs() holds each outcome's final value under its name
    return float(value) if value is not None and not pd.isna(value) else math.nan


def best_trial(results: pd.DataFrame, max_cost: float | None = None) -> dict | None:
    done = results[(results["status"] == "finished") & results["score"].notna()]
    if max_cost is not None:
        done = done[done["cost"] <= max_cost]
    if done.empty:
        return None
    return done.loc[done["score"].idxmax()].to_dict()


def sweep(
    definition,
    trials: int | None = None,
    hours: float | None = None,
    store=None,
    on_trial=None,
    resume: str | None = None,
    seed: int | None = None,
    executor: str | None = None,
    workers: int | None = None,
    background: bool = True,
) -> SweepHandle:
    """Run a sweep and return its :class:`SweepHandle`.

    ``definition``: a path to a TOML (``sweeps/pong.toml``), a dict, or a
    SweepDefinition. ``trials`` / ``hours`` override its budget. ``on_trial(record)`` is
    called after each trial. ``resume``: the id of a sweep in ``store`` to continue
    (``definition`` may then be None). ``background=False`` runs every trial in the calling
    thread and returns when the sweep ends (with the inline executor a breakpoint inside a
    trial works either way). ``executor`` (``inline``, ``processes`` or ``ray``) and
    ``workers`` (trials at once) override the definition's. A bad definition raises here,
    before anything runs.
    """
    store = store if isinstance(store, RunStore) else RunStore(store)
    store.reap_dead()  # a writer: trials and sweeps whose process died are marked so first
    if resume is not None:
        handle = recorded(
            resume, store, trials=trials, hours=hours, executor=executor, workers=workers
        )
        store.claim_sweep(resume)
        handle.status, handle.ended_because = "running", None
    else:
        d = load(
            definition, trials=trials, hours=hours, seed=seed, executor=executor, workers=workers
        )
        sweeper = build_sweeper(d)
        sweep_id = store.create_sweep(d.name, d.to_record())
        handle = SweepHandle(sweep_id, d, store, sweeper)
    driver = _Driver(handle, on_trial)
    if background:
        handle.thread = threading.Thread(target=driver.run, name=f"sweep-{handle.id}", daemon=True)
        stop_running_sweeps.add(handle)
        handle.thread.start()
    else:
        driver.run()
    return handle


def recorded(sweep_id: str, store=None, replay: bool = True, **overrides) -> SweepHandle:
    """A :class:`SweepHandle` for a sweep recorded in ``store`` (by any process or release),
    not running: its definition rebuilt and upgraded (``definition.load_recorded``, with
    budget ``overrides``), its engine rebuilt from the recorded observations and the number
    of suggestions made (``replay=False``: empty, for a view that feeds it as it reads), so
    its next suggestion is the one the recorded sweep would have made. The one way a
    recorded sweep is opened: resume, views and the CLI use it."""
    store = store if isinstance(store, RunStore) else RunStore(store, create=False)
    record = store.sweep(sweep_id)
    d = load_recorded(record["definition"], **overrides)
    runs = store.runs(sweep=sweep_id)
    sweeper = build_sweeper(d, n_suggested=len(runs))
    history = store.observations(sweep_id)
    if replay and not history.empty:
        sweeper.replay(history)
    handle = SweepHandle(sweep_id, d, store, sweeper)
    handle.status = record["status"]
    handle.ended_because = record.get("ended_because")
    handle.trials = [{"run_id": r} for r in runs["id"]] if not runs.empty else []
    return handle


def _stop_for_exit(handle: SweepHandle) -> None:
    handle.ended_because = handle.ended_because or EXIT_REASON
    handle.stop()


# Sweeps running in background threads are stopped (their trials in flight recorded as
# stopped) and recorded at interpreter exit.
stop_running_sweeps = StopAtExit(_stop_for_exit)


class _Driver:
    def __init__(self, handle: SweepHandle, on_trial):
        self.h = handle
        self.d = handle.definition
        self.on_trial = on_trial
        self.executor = make_executor(
            self.d.executor, handle.store, workers=self.d.workers, **self.d.executor_options
        )
        self.started = len(handle.trials)
        self.deadline = time.time() + self.d.hours * 3600 if self.d.hours else None
        self.inflight: dict[int, Trial] = {}
        self.points: dict[int, list[float]] = {}  # trial -> steps at which to observe
        self.totals: dict[int, int] = {}  # trial -> its training length
        self.default_steps = self.d.fixed().get(self.d.length)  # when it is not swept
        self.stopping: set[int] = set()
        self.out_of_time = False  # no run is predicted to fit in the time left
        self.asked_at: dict[int, float] = {}  # trial -> when its suggestion was asked for
        self.overheads: list[float] = []  # seconds a finished trial took beyond its cost

    # -- budget --
    def _time_left(self) -> float | None:
        """Seconds to the deadline, less what a trial takes beyond the wall time it reports
        (the suggestion, building the env and policy, a worker's start: the median of the
        last five finished trials), as a cap on a trial's cost when cost is wall-clock."""
        if self.deadline is None or self.d.cost != M.WALL_TIME:
            return None
        overhead = statistics.median(self.overheads[-5:]) if self.overheads else 0.0
        return max(self.deadline - time.time() - overhead, 1e-3)

    def _can_start(self) -> bool:
        if self.h.stop_requested or self.out_of_time:
            return False
        if self.d.trials is not None and self.started >= self.d.trials:
            return False
        return self.deadline is None or time.time() < self.deadline

    def run(self) -> None:
        status, error = "finished", None
        try:
            while True:
                while len(self.inflight) < self.executor.slots and self._can_start():
                    self._submit()
                if not self.inflight:
                    break
                self.executor.wait(0.2)
                self._enforce_deadline()
            if self.h.stop_requested:
                status = "stopped"
            self._ended_because()
        except KeyboardInterrupt:
            status = "stopped"
            self.h.ended_because = "interrupted"
            self._stop_all("sweep interrupted")
            raise
        except BaseException as e:
            status, error = "failed", "".join(traceback.format_exception(e)).strip()
            self.h.ended_because = f"failed: {_last_line(error)}"
            self.h.error = e
            self._stop_all("sweep failed")
            if self.h.thread is None:
                raise
        finally:
            self.executor.close()
            self.h.store.finish_sweep(self.h.id, status, error, self.h.ended_because)
            self.h.ended(status, self.h.ended_because)

    def _ended_because(self) -> None:
        if self.h.ended_because is not None:
            return
        if self.h.stop_requested:
            self.h.ended_because = "stopped"
        elif self.d.trials is not None and self.started >= self.d.trials:
            self.h.ended_because = f"budget of {self.d.trials} trials spent"
        elif self.deadline is not None:
            self.h.ended_because = self._time_spent()

    def _enforce_deadline(self) -> None:
        if self.h.stop_requested:
            self._stop_all("sweep stopped")
        elif self.deadline is not None and time.time() >= self.deadline:
            self._stop_all(f"sweep {self._time_spent()}")

    def _time_spent(self) -> str:
        return f"budget of {_duration(self.d.hours)} spent"

    def _stop_all(self, reason: str) -> None:
        for index, trial in list(self.inflight.items()):
            if index not in self.stopping:
                self.stopping.add(index)
                self.executor.stop(trial, "stopped", reason)

    # -- trials --
    def _submit(self) -> None:
        asked_at = time.time()
        left = self._time_left()
        with self.h.engine() as sweeper:
            try:
                params = self.d.coerce(sweeper.suggest(max_cost=left))
            except NoFeasiblePoint:
                if left is None:
                    raise
                self.out_of_time = True
                self.h.ended_because = f"no run is predicted to end in the {left:.3g} s left"
                return
            self.h.next_prediction = sweeper.predict(params)
            sweeper.pending(params)
        index = self.started
        self.started += 1
        self.asked_at[index] = asked_at
        trial = Trial(
            index=index,
            params=params,
            kwargs=self.d.trial_config(params),
            env=self.d.env,
            name=f"{self.d.name}-{index:03d}",
            sweep_id=self.h.id,
            tags=[f"sweep:{self.d.name}"],
            env_target=target_of(self.d.env) if ":" not in self.d.env else None,
            cost_key=self.d.cost,
            max_cost=self.d.max_cost,
        )
        total = trial.kwargs.get(self.d.length) or self.default_steps
        self.totals[index] = total
        n = self.d.curve_points
        self.points[index] = [total * (CURVE_START + (1 - CURVE_START) * k / n) for k in range(n)]
        self.inflight[index] = trial
        self.h.running[index] = {"params": params, "run_id": None, "score": None, "cost": None}
        self.executor.submit(trial, self._on_row, self._on_done)
        if self.h.stop_requested:  # stopped while an inline trial ran
            return

    def _observe(self, trial: Trial, params, score, cost, failed=False, error=None) -> None:
        with self.h.engine() as sweeper:
            sweeper.observe(params, score, cost, failed=failed, error=error)
        self.h.store.add_observation(
            self.h.id, trial.run_id, params, score, cost, failed=failed, error=error
        )

    def _on_row(self, trial: Trial, run_id: str, row: dict) -> None:
        trial.run_id = run_id
        self._enforce_deadline()  # an inline trial runs inside submit: check here too
        score, cost = M.objective(row, self.d.metric), row.get(self.d.cost)
        self.h.running[trial.index] = {
            "params": trial.params,
            "run_id": run_id,
            "score": score,
            "cost": cost,
            M.AGENT_STEPS: row[M.AGENT_STEPS],
        }
        if trial.index in self.stopping or cost is None:
            return
        steps, points = row[M.AGENT_STEPS], self.points[trial.index]
        scored = score is not None and math.isfinite(score) and cost > 0
        if self.d.sweeps_length and scored and points and steps >= points[0]:
            while points and steps >= points[0]:
                points.pop(0)
            if steps < self.totals[trial.index]:  # the last point is the final result
                self._observe(trial, {**trial.params, self.d.length: int(steps)}, score, cost)
        if self.d.max_cost is not None and cost >= self.d.max_cost:
            self.stopping.add(trial.index)
            self.executor.stop(trial, "pruned", cap_reason(self.d.cost, cost, self.d.max_cost))
            return
        if self.d.early_stopping and scored:
            # The cost it would reach if left alone: linear in steps from here.
            target = cost * self.totals[trial.index] / max(steps, 1)
            with self.h.engine() as sweeper:
                prune, reason = sweeper.should_stop(score, cost, target_cost=target)
            if prune:
                self.stopping.add(trial.index)
                self.executor.stop(trial, "pruned", reason)

    def _on_done(self, trial: Trial, outcome: Outcome) -> None:
        self.inflight.pop(trial.index, None)
        self.stopping.discard(trial.index)
        self.h.running.pop(trial.index, None)
        trial.run_id = outcome.run_id or trial.run_id
        cost = outcome.summary.get(self.d.cost)
        score = M.objective(outcome.summary, self.d.metric)
        asked_at = self.asked_at.pop(trial.index, None)
        if outcome.status == "finished":
            self._observe(trial, trial.params, score, cost)
            if asked_at is not None and cost is not None and self.d.cost == M.WALL_TIME:
                self.overheads.append(max(time.time() - asked_at - float(cost), 0.0))
        elif outcome.status == "failed" and configs_fault(outcome.cause):
            self._observe(
                trial, trial.params, None, cost, failed=True, error=_last_line(outcome.error)
            )
        else:  # stopped or pruned: its curve points are what it taught
            with self.h.engine() as sweeper:
                sweeper.forget(trial.params)
        record = {
            "index": trial.index,
            "run_id": outcome.run_id,
            "status": outcome.status,
            "score": score,
            "cost": cost,
            "params": trial.params,
            "reason": outcome.reason,
            "error": _last_line(outcome.error),
        }
        self.h.trials.append(record)
        if self.on_trial is not None:
            self.on_trial(record)


def _duration(hours: float) -> str:
    """2 h, 15 min, 40 s: a budget for people."""
    if hours >= 1:
        return f"{hours:.3g} h"
    return f"{hours * 60:.3g} min" if hours * 60 >= 1 else f"{hours * 3600:.3g} s"


def _last_line(error: str | None) -> str | None:
    return error.strip().splitlines()[-1] if error else None

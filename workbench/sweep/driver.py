"""``workbench.sweep()``: run a definition's trials, feed their curves to the engine, record
everything, stop what must stop, and apply what the person steering it asks.

The driver owns the engine (:class:`~workbench.sweep.engine.Sweeper`) and an executor.
For each trial it takes the next queued trial (hand-picked, a reseed, a re-run) or asks
the engine for parameters, marks them pending, and has the executor train them as a run
carrying the sweep's id. Each metric row that comes back may become a *curve point*
(observed as a shorter run: see the engine's docstring), may prune the trial (far below
the score-vs-cost quantile line) or stop it at the hard cost cap. The trial's end becomes
one more observation: its final score, or a failure that teaches the success model (only
the config's own failures: a trial whose worker or driver died runs again, uncharged).

With an ``hours`` budget and wall-clock cost, each trial is suggested under the time the
sweep has left (a hard cap for that one suggestion), so the last trials fit; a trial is
cut at the deadline only when it runs longer than the cost model's upper estimate. The
time spent is kept in the store, so a resumed sweep goes on with what is left.

A sweep of a Python function (``objective=f``: see :mod:`workbench.sweep.objective`) runs
the same way; its trials call the function instead of training, and its driver needs the
function itself, which no store holds.

Steering requests (``SweepHandle.edit``, ``enqueue``, ...) reach the driver through the
store, from this process or another, and are applied in order before the next
suggestion. Every observation and every applied request is written to the store in order,
so a sweep killed at any point resumes (``resume=sweep_id``) with an engine identical to
the one that died, losing at most the time of the trial in flight, which runs again.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
import traceback

from workbench import metrics as M
from workbench.envs.registry import target_of
from workbench.exits import EXIT_REASON, StopAtExit
from workbench.store import RunStore, configs_fault
from workbench.sweep.definition import (
    OBJECTIVE,
    DefinitionError,
    build_sweeper,
    load,
    load_recorded,
)
from workbench.sweep.executors import Outcome, Trial, make_executor
from workbench.sweep.executors.worker import cap_reason
from workbench.sweep.handle import SweepHandle, best_trial, trial_table
from workbench.sweep.objective import check_sources, define, require_objective
from workbench.sweep.queue import Queued, best_of_front, complete, fresh_seeds, front_configs
from workbench.sweep.steering import config_key, edited
from workbench.sweep.suggest import NoFeasiblePoint

__all__ = ["SweepHandle", "best_trial", "recorded", "restart", "sweep", "trial_table"]

CURVE_START = 0.2  # curve points start after this fraction of a trial's length
TICK_S = 5.0  # how often the time spent is written to the store


def sweep(
    definition=None,
    trials: int | None = None,
    hours: float | None = None,
    store=None,
    on_trial=None,
    resume: str | None = None,
    seed: int | None = None,
    executor: str | None = None,
    workers: int | None = None,
    background: bool = True,
    warm_start=None,
    *,
    objective=None,
    space=None,
    constraints=None,
    fixed: dict | None = None,
    metric: str | None = None,
    cost: str | None = None,
    max_cost: float | None = None,
    direction: str = "maximize",
    length: str | None = None,
    name: str | None = None,
    early_stopping: bool | None = None,
) -> SweepHandle:
    """Run a sweep and return its :class:`SweepHandle`.

    ``definition``: a path to a TOML (``sweeps/pong.toml``), a dict, or a
    SweepDefinition. ``trials`` / ``hours`` override its budget. ``on_trial(record)`` is
    called after each trial. ``resume``: the id of a sweep in ``store`` to continue
    (``definition`` may then be None). ``warm_start``: ids of earlier sweeps of the same env
    whose observations the models start from (see :func:`warm_rows`). ``background=False``
    runs every trial in the calling thread and returns when the sweep ends (with the
    inline executor a breakpoint inside a trial works either way). ``executor`` (``inline``,
    ``processes`` or ``ray``) and ``workers`` (trials at once) override the definition's.
    A bad definition raises here, before anything runs.

    ``objective=f``, in place of a definition, sweeps any Python function (see
    :mod:`workbench.sweep.objective`): ``f(**params)`` returns the score, ``(score, cost)``,
    or reports its curve through a ``report`` parameter. ``space`` (a dict as in a
    definition's ``[space]``), ``constraints``, ``fixed`` (arguments every call gets),
    ``metric``, ``cost`` (``wall_time``, the default, or ``agent_steps``), ``max_cost``,
    ``length`` (the argument that sets a call's length, in report's steps), ``name``,
    ``early_stopping`` (prune calls far below the front; default on) and ``direction`` (the
    engine maximizes) define it. A recorded objective sweep resumes only
    with its function passed again: ``sweep(objective=f, resume=sweep_id)``.
    """
    options = dict(
        space=space,
        constraints=constraints,
        fixed=fixed,
        metric=metric,
        cost=cost,
        max_cost=max_cost,
        length=length,
        name=name,
        early_stopping=early_stopping,
    )
    check_sources(definition, objective, resume, direction, options)
    store = store if isinstance(store, RunStore) else RunStore(store)
    store.reap_dead()  # a writer: trials and sweeps whose process died are marked so first
    if resume is not None:
        handle = recorded(
            resume, store, trials=trials, hours=hours, executor=executor, workers=workers
        )
        require_objective(handle.definition, objective, resume)
        handle.objective = objective
        store.claim_sweep(resume)
        handle.restarted(resumed=True)
    else:
        if objective is not None:
            d = define(
                objective,
                **options,
                direction=direction,
                trials=trials,
                hours=hours,
                seed=seed,
                executor=executor,
                workers=workers,
            )
        else:
            d = load(
                definition,
                trials=trials,
                hours=hours,
                seed=seed,
                executor=executor,
                workers=workers,
            )
        if warm_start:
            ids = [warm_start] if isinstance(warm_start, str) else list(warm_start)
            d = load(d, warm_start=ids)
        sweeper = build_sweeper(d)
        _warm(sweeper, d, store)
        sweep_id = store.create_sweep(d.name, d.to_record())
        handle = SweepHandle(sweep_id, d, store, sweeper)
        handle.objective = objective
    _start(handle, on_trial, background)
    return handle


def _start(handle: SweepHandle, on_trial, background: bool) -> None:
    driver = _Driver(handle, on_trial)
    if background:
        handle.thread = threading.Thread(target=driver.run, name=f"sweep-{handle.id}", daemon=True)
        stop_running_sweeps.add(handle)
        handle.thread.start()
    else:
        driver.run()


def restart(handle: SweepHandle, on_trial=None) -> SweepHandle:
    """Run an ended sweep again in the background from where it stood (``extend``)."""
    handle.store.reap_dead()  # a writer: its dead trials are marked (and re-run) first
    fresh = recorded(handle.id, handle.store)
    require_objective(fresh.definition, handle.objective, handle.id)
    handle.store.claim_sweep(handle.id)
    handle.adopt(fresh)
    handle.restarted(resumed=True)
    _start(handle, on_trial, background=True)
    return handle


def recorded(sweep_id: str, store=None, replay: bool = True, **overrides) -> SweepHandle:
    """A :class:`SweepHandle` for a sweep recorded in ``store`` (by any process or release),
    not running: its definition rebuilt, upgraded and steered as it was
    (``definition.load_recorded``, then every applied edit; budget ``overrides`` last), its
    engine rebuilt from the recorded observations and the number of suggestions made
    (``replay=False``: empty, for a view that feeds it as it reads), its queue of asked-for
    trials not yet run and its trials whose worker or driver died (to run again), so its
    next suggestion is the one the recorded sweep would have made. The one way a recorded
    sweep is opened: resume, views and the CLI use it."""
    store = store if isinstance(store, RunStore) else RunStore(store, create=False)
    record = store.sweep(sweep_id)
    d, paused, queue = _steered(record, store.events(sweep_id))
    if any(v is not None for v in overrides.values()):
        d = load(d, **overrides)
    runs = store.runs(sweep=sweep_id)
    tags = [set(t) for t in runs["tags"]] if not runs.empty else []
    taken = {t.split(":", 1)[1] for ts in tags for t in ts if t.startswith("queue:")}
    queue = [q for q in queue if q.key not in taken]
    origins = [next((t[7:] for t in ts if t.startswith("origin:")), "suggested") for ts in tags]
    sweeper = build_sweeper(d, n_suggested=origins.count("suggested"))
    if replay:
        _warm(sweeper, d, store)
        history = own_history(store, sweep_id)
        if not history.empty:
            sweeper.replay(history)
    handle = SweepHandle(sweep_id, d, store, sweeper)
    handle.status = record["status"]
    handle.ended_because = record.get("ended_because")
    handle.spent_s = float(record.get("spent_s") or 0.0)
    handle.paused = paused
    table = trial_table(store, sweep_id, d)
    handle.trials = [_record_of(i, row, d) for i, row in enumerate(table.to_dict("records"))]
    rerun = {t[len("queue:rerun-") :] for ts in tags for t in ts if t.startswith("queue:rerun-")}
    reruns, charged = [], 0
    for i, (rec, ts) in enumerate(zip(runs.to_dict("records"), tags, strict=True)):
        infra = _infrastructure_end(rec)
        charged += not infra
        a_rerun = any(t.startswith("queue:rerun-") for t in ts)  # a re-run dies once
        if infra and rec["id"] not in rerun and not a_rerun:
            params = {k: handle.trials[i]["params"][k] for k in d.space}
            seed = rec.get("config.seed", rec.get("seed"))
            reruns.append(Queued(params, _int(seed), "rerun", f"rerun-{rec['id']}"))
    handle.queue = reruns + queue
    handle.charged = charged
    handle.next_index = len(runs)
    return handle


def recorded_definition(sweep_id: str, store=None):
    """The definition a recorded sweep runs with now: as recorded, upgraded, then every
    applied edit (what a view needs before it draws; :func:`recorded` gives the rest)."""
    store = store if isinstance(store, RunStore) else RunStore(store, create=False)
    return _steered(store.sweep(sweep_id), store.events(sweep_id))[0]


def _steered(record: dict, events) -> tuple:
    """(definition, paused, queue of asked-for trials) after the applied steering events."""
    d = load_recorded(record["definition"])
    applied = events[events["applied_at"].notna()] if not events.empty else events
    paused = False
    queue: list[Queued] = []
    for ev in applied.to_dict("records"):
        kind, payload = ev["kind"], ev["payload"]
        if kind == "edit":
            d = edited(d, **payload)
        elif kind == "extend":
            d = edited(d, **payload["applied"])
        elif kind in ("pause", "resume"):
            paused = kind == "pause"
        elif kind in ("enqueue", "reseed"):
            queue += [Queued(**t) for t in payload["trials"]]
    return d, paused, queue


def own_history(store: RunStore, sweep_id: str):
    """The sweep's observations, less the partial curves of trials whose worker or driver
    died (they run again from the start, so the engine sees each trial's curve once, as
    the sweep that died would have)."""
    history = store.observations(sweep_id)
    runs = store.runs(sweep=sweep_id)
    if history.empty or runs.empty:
        return history
    died = {
        r["id"]
        for r, tags in zip(runs.to_dict("records"), runs["tags"], strict=True)
        if _infrastructure_end(r) and not any(t.startswith("queue:rerun-") for t in tags)
    }
    return history[~history["run_id"].isin(died)] if died else history


def _infrastructure_end(run: dict) -> bool:
    """Whether a run ended by no doing of its config: its worker, node or driver died."""
    cause = run.get("cause")
    return cause is not None and not configs_fault(cause) and run["status"] in ("failed", "stopped")


def _int(value):
    return None if value is None or value != value else int(value)


def _record_of(index: int, row: dict, d) -> dict:
    return {
        "index": index,
        "run_id": row["run_id"],
        "status": row["status"],
        "score": row["score"],
        "cost": row["cost"],
        "params": {k: row[k] for k in d.space},
        "reason": row["reason"],
        "error": row["error"],
    }


def warm_rows(d, store: RunStore) -> tuple[list[dict], dict]:
    """Observations of the sweeps ``d.warm_start`` names, as rows for this sweep's engine,
    and how many were kept and dropped. Parameters are matched by name. A parameter this
    sweep swears that another kept fixed takes that sweep's fixed value; a parameter this
    sweep keeps fixed that another swept must have this sweep's value, else the row is
    dropped (its effect could not be told apart from the rest)."""
    if not d.warm_start:
        return [], {}
    fixed_here = d.fixed()
    rows, counts = [], {}
    for other_id in d.warm_start:
        other = load_recorded(store.sweep(other_id)["definition"])
        if other.env != d.env:
            raise DefinitionError(
                f"warm_start: sweep {other_id} trained {other.env!r}, this one {d.env!r}; "
                "a warm start needs the same env"
            )
        fixed_there = other.fixed()
        kept = dropped = 0
        for obs in store.observations(other_id).to_dict("records"):
            params = {**{k: fixed_there.get(k) for k in d.space}, **obs["params"]}
            clash = [
                k
                for k in other.space
                if k not in d.space and k in fixed_here and params.get(k) != fixed_here[k]
            ]
            if clash or any(params.get(k) is None for k in d.space):
                dropped += 1
                continue
            kept += 1
            rows.append({**obs, "params": {k: params[k] for k in d.space}})
        counts[other_id] = {"kept": kept, "dropped": dropped}
    return rows, counts


def _warm(sweeper, d, store: RunStore) -> None:
    rows, _ = warm_rows(d, store)
    for row in rows:
        error = row.get("error")
        sweeper.observe(
            row["params"],
            row["score"],
            row["cost"],
            failed=bool(row["failed"]),
            error=error if isinstance(error, str) else None,
            prior=True,
        )


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
        self.started = handle.charged  # trials charged to the budget
        self.last_tick = time.time()
        self.unsaved = 0.0  # seconds spent not yet written to the store
        self.inflight: dict[int, Trial] = {}
        self.origins: dict[int, Queued | None] = {}  # trial -> its queue entry, if any
        self.points: dict[int, list[float]] = {}  # trial -> steps at which to observe
        self.totals: dict[int, int] = {}  # trial -> its training length
        self.default_steps = self.d.fixed().get(self.d.length)  # when it is not swept
        self.stopping: set[int] = set()
        self.out_of_time = False  # no run is predicted to fit in the time left
        self.asked_at: dict[int, float] = {}  # trial -> when its suggestion was asked for
        self.overheads: list[float] = []  # seconds a finished trial took beyond its cost

    # -- budget --
    def _tick(self) -> None:
        """Count the time since the last tick as spent (not while paused); write it to the
        store every few seconds and when asked."""
        now = time.time()
        if not self.h.paused:
            self.h.spent_s += now - self.last_tick
            self.unsaved += now - self.last_tick
        self.last_tick = now
        if self.unsaved >= TICK_S:
            self._save_spent()

    def _save_spent(self) -> None:
        self.h.store.add_spent(self.h.id, self.unsaved)
        self.unsaved = 0.0

    def _seconds_left(self) -> float | None:
        if not self.d.hours:
            return None
        return self.d.hours * 3600 - self.h.spent_s

    def _time_left(self) -> float | None:
        """Seconds left in the budget, less what a trial takes beyond the wall time it
        reports (the suggestion, building the env and policy, a worker's start: the median
        of the last five finished trials), as a cap on a trial's cost when cost is
        wall-clock."""
        left = self._seconds_left()
        if left is None or self.d.cost != M.WALL_TIME:
            return None
        overhead = statistics.median(self.overheads[-5:]) if self.overheads else 0.0
        return max(left - overhead, 1e-3)

    def _budget_left(self) -> bool:
        if self.d.trials is not None and self.started >= self.d.trials:
            return False
        left = self._seconds_left()
        return left is None or left > 0

    def _can_start(self) -> bool:
        if self.h.stop_requested or self.out_of_time or self.h.paused:
            return False
        return self._budget_left()

    def run(self) -> None:
        status, error = "finished", None
        try:
            while True:
                self._apply_requests()
                while len(self.inflight) < self.executor.slots and self._can_start():
                    self._submit()
                    self._apply_requests()
                if not self.inflight:
                    idle = self.h.paused and not self.h.stop_requested and self._budget_left()
                    if not idle:
                        break
                    time.sleep(0.2)  # paused: wait for resume, stop or an edit
                else:
                    self.executor.wait(0.2)
                self._tick()
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
            self._tick()
            self._save_spent()
            self.h.store.finish_sweep(self.h.id, status, error, self.h.ended_because)
            self.h.ended(status, self.h.ended_because)

    def _ended_because(self) -> None:
        if self.h.ended_because is not None:
            return
        if self.h.stop_requested:
            self.h.ended_because = "stopped"
        elif self.d.trials is not None and self.started >= self.d.trials:
            self.h.ended_because = f"budget of {self.d.trials} trials spent"
        elif self.d.hours:
            self.h.ended_because = self._time_spent()

    def _enforce_deadline(self) -> None:
        if self.h.stop_requested:
            self._stop_all("sweep stopped")
        elif self._seconds_left() is not None and self._seconds_left() <= 0:
            self._stop_all(f"sweep {self._time_spent()}")

    def _time_spent(self) -> str:
        return f"budget of {_duration(self.d.hours)} spent"

    def _stop_all(self, reason: str) -> None:
        for index, trial in list(self.inflight.items()):
            if index not in self.stopping:
                self.stopping.add(index)
                self.executor.stop(trial, "stopped", reason)

    # -- steering requests (from the handle, in this process or another) --
    def _apply_requests(self) -> None:
        for request in self.h.store.pending_events(self.h.id):
            try:
                applied = self._apply(request["kind"], request["payload"], request["seq"])
            except (DefinitionError, ValueError, KeyError) as e:
                self.h.store.settle_event(self.h.id, request["seq"], error=str(e))
            else:
                self.h.store.settle_event(self.h.id, request["seq"], payload=applied)

    def _apply(self, kind: str, payload: dict, seq: int) -> dict:
        if kind == "edit":
            self._set_definition(edited(self.d, **payload))
        elif kind == "extend":
            more = {}
            if payload.get("trials"):
                more["trials"] = (
                    max(self.d.trials or self.started, self.started) + payload["trials"]
                )
            if payload.get("hours"):
                spent = self.h.spent_s / 3600
                more["hours"] = max(self.d.hours or spent, spent) + payload["hours"]
            self._set_definition(edited(self.d, **more))
            payload = {**payload, "applied": more}
        elif kind in ("pause", "resume"):
            self.h.paused = kind == "pause"
        elif kind == "enqueue":
            entries = complete(self.h, payload["params"], payload.get("seeds", 1))
            params = entries[0]["params"]
            seeds = self._fresh(params, len(entries)) if len(entries) > 1 else [None]
            trials = [Queued(params, s, "queued", f"{seq}.{i}") for i, s in enumerate(seeds)]
            self.h.queue += trials
            payload = {**payload, "trials": [t.to_dict() for t in trials]}
        elif kind == "reseed":
            runs = best_of_front(self.h.results(), list(self.d.space), payload["k"])
            if not runs:
                raise ValueError("reseed: no finished trial yet")
            trials = []
            for c, params in enumerate(self._config_of(run) for run in runs):
                for i, s in enumerate(self._fresh(params, payload["seeds"])):
                    trials.append(Queued(params, s, "reseed", f"{seq}.{c}.{i}"))
            self.h.queue += trials
            payload = {**payload, "trials": [t.to_dict() for t in trials]}
        return payload

    def _config_of(self, run_id: str) -> dict:
        """The parameters a trial ran with: every one swept now or when the sweep began
        (a parameter pinned since keeps the trial's own value), so a reseed reruns it."""
        record = self.h.store.run(run_id)["config"]
        first = load_recorded(self.h.store.sweep(self.h.id)["definition"])
        values = {**record, **record.get("env_params", {})}
        return {n: values[n] for n in {**first.space, **self.d.space} if n in values}

    def _fresh(self, params: dict, n: int) -> list[int]:
        base = int(self.d.fixed().get("seed", 0))
        return fresh_seeds(self.h.results(), list(self.d.space), params, n, base)

    def _set_definition(self, d) -> None:
        """Run with ``d`` from the next suggestion on: the engine is rebuilt over the new
        space and constraints from everything observed (the same suggestion count), and
        the trials in flight are declared pending again."""
        with self.h.engine() as old:
            fresh = build_sweeper(d, n_suggested=old.n_suggested)
            _warm(fresh, d, self.h.store)
            history = own_history(self.h.store, self.h.id)
            if not history.empty:
                fresh.replay(history)
            for trial in self.inflight.values():
                fresh.pending(trial.params)
        self.h.adopt_engine(d, fresh)
        self.d = d
        self.default_steps = d.fixed().get(d.length)
        self.out_of_time = False

    # -- trials --
    def _submit(self) -> None:
        asked_at = time.time()
        queued = self.h.queue.pop(0) if self.h.queue else None
        if queued is not None:
            params = self.d.coerce(queued.params)
            with self.h.engine() as sweeper:
                sweeper.pending(params)
        else:
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
        index = self.h.next_index
        self.h.next_index += 1
        self.started += 1
        self.asked_at[index] = asked_at
        self.origins[index] = queued
        kwargs = self.d.trial_config(params)
        tags = [f"sweep:{self.d.name}", f"origin:{queued.origin if queued else 'suggested'}"]
        if queued is not None:
            tags.append(f"queue:{queued.key}")
            if queued.seed is not None:
                kwargs["seed"] = queued.seed
        trial = Trial(
            index=index,
            params=params,
            kwargs=kwargs,
            env=self.d.env,
            name=f"{self.d.name}-{index:03d}",
            sweep_id=self.h.id,
            tags=tags,
            env_target=target_of(self.d.env) if ":" not in self.d.env else None,
            cost_key=self.d.cost,
            max_cost=self.d.max_cost,
        )
        if self.d.kind == OBJECTIVE:
            trial.objective, trial.score_key = self.h.objective, self.d.score_key
        total = trial.kwargs.get(self.d.length) or self.default_steps  # None: unknown
        self.totals[index] = total
        n = self.d.curve_points
        self.points[index] = (
            [total * (CURVE_START + (1 - CURVE_START) * k / n) for k in range(n)] if total else []
        )
        self.inflight[index] = trial
        self.h.running[index] = {"params": params, "run_id": None, "score": None, "cost": None}
        self.executor.submit(trial, self._on_row, self._on_done)

    def _observe(self, trial: Trial, params, score, cost, failed=False, error=None) -> None:
        with self.h.engine() as sweeper:
            sweeper.observe(params, score, cost, failed=failed, error=error)
        self.h.store.add_observation(
            self.h.id, trial.run_id, params, score, cost, failed=failed, error=error
        )

    def _on_row(self, trial: Trial, run_id: str, row: dict) -> None:
        trial.run_id = run_id
        self._tick()
        self._enforce_deadline()  # an inline trial runs inside submit: check here too
        self._apply_requests()
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
        if self.d.early_stopping and scored and self.origins.get(trial.index) is None:
            # The cost it would reach if left alone: linear in steps from here (unknown
            # without a length: the largest finished cost stands in).
            total = self.totals[trial.index]
            target = cost * total / max(steps, 1) if total else None
            with self.h.engine() as sweeper:
                prune, reason = sweeper.should_stop(score, cost, target_cost=target)
            if prune:
                self.stopping.add(trial.index)
                self.executor.stop(trial, "pruned", reason)

    def _on_done(self, trial: Trial, outcome: Outcome) -> None:
        self.inflight.pop(trial.index, None)
        self.stopping.discard(trial.index)
        self.h.running.pop(trial.index, None)
        queued = self.origins.pop(trial.index, None)
        trial.run_id = outcome.run_id or trial.run_id
        cost = outcome.summary.get(self.d.cost)
        score = M.objective(outcome.summary, self.d.metric)
        asked_at = self.asked_at.pop(trial.index, None)
        infra = outcome.cause is not None and not configs_fault(outcome.cause)
        if outcome.status == "finished":
            self._observe(trial, trial.params, score, cost)
            if asked_at is not None and cost is not None and self.d.cost == M.WALL_TIME:
                self.overheads.append(max(time.time() - asked_at - float(cost), 0.0))
            self._repeat(trial, queued)
        elif outcome.status == "failed" and not infra:
            self._observe(
                trial, trial.params, None, cost, failed=True, error=_last_line(outcome.error)
            )
        else:  # stopped or pruned, or its worker died: its curve points are what it taught
            with self.h.engine() as sweeper:
                sweeper.forget(trial.params)
        if infra and not (queued and queued.origin == "rerun"):
            # not the config's doing (its worker may have died before its run began):
            # uncharged, and it runs again first (once)
            self.started -= 1
            seed = trial.kwargs.get("seed")
            key = f"rerun-{outcome.run_id or f'trial-{trial.index}'}"
            self.h.queue.insert(0, Queued(trial.params, seed, "rerun", key))
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

    def _repeat(self, trial: Trial, queued: Queued | None) -> None:
        """With ``repeats`` > 1, a new config on the front runs on more seeds."""
        if self.d.repeats <= 1 or queued is not None:
            return
        names = list(self.d.space)
        front = front_configs(self.h.results(), names)
        key = config_key({k: trial.params[k] for k in names})
        if key not in {config_key({k: r[k] for k in names}) for r in front.to_dict("records")}:
            return
        for i, seed in enumerate(self._fresh(trial.params, self.d.repeats - 1)):
            self.h.queue.append(Queued(trial.params, seed, "repeat", f"repeat-{trial.run_id}.{i}"))


def _duration(hours: float) -> str:
    """2 h, 15 min, 40 s: a budget for people."""
    if hours >= 1:
        return f"{hours:.3g} h"
    return f"{hours * 60:.3g} min" if hours * 60 >= 1 else f"{hours * 3600:.3g} s"


def _last_line(error: str | None) -> str | None:
    return error.strip().splitlines()[-1] if error else None

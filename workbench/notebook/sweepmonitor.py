"""``SweepMonitor``: a sweep's live data, headless. It owns the polling, the threads and the
refits; a view subscribes to it and only draws.

Two background threads: one polls the store (``SweepState``: new observations, runs and
metric rows, a little at a time) every ``poll_interval`` seconds and tells subscribers
``"data"`` when something changed (``"tick"`` when not, so a view can flush a redraw it held
back, and ``"final"`` once the sweep ended and all it wrote was read); the other, when new
results came in and at most every ``model_interval`` seconds, refits what is slow to
compute: the model's predicted front (``"models"``), the parameter importance
(``"importance"``, when a trial has ended) and the trial table under the charts
(``"tables"``). A read or a refit that fails leaves a short sentence in ``problem`` or
``model_problem`` (``"problem"``), cleared by the next one that works; the exception itself
goes to the ``workbench.notebook`` logger at debug level, never to the page.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd

from workbench.notebook.importance import parameter_importance
from workbench.notebook.sweepdata import SweepState
from workbench.store import RunStore
from workbench.sweep.models import WARNINGS_LOCK

log = logging.getLogger("workbench.notebook")
IMPORTANCE_ROWS = 2_000  # observations the importance forest is fitted on, at most
MODEL_ROWS = 5_000  # observations a view's models read, at most (an even share past it)
MODEL_SHARE = 0.25  # of the interpreter's time the refits may take: they wait in between


def load_handle(sweep_id: str, store=None):
    """A :class:`SweepHandle` for a recorded sweep (any process's), without running it:
    ``results()``, ``best()``, ``export()`` work, and its engine is rebuilt empty (the monitor
    feeds it the recorded observations)."""
    from workbench.sweep.driver import recorded

    return recorded(
        sweep_id, store if isinstance(store, RunStore) else RunStore(store), replay=False
    )


class SweepMonitor:
    """The live data of a sweep: a ``SweepHandle`` or a sweep id in ``store``."""

    def __init__(self, sweep, store=None, poll_interval: float = 0.25, model_interval: float = 5.0):
        from workbench.sweep.driver import recorded_definition
        from workbench.sweep.handle import SweepHandle

        self.live = isinstance(sweep, SweepHandle)
        if self.live:
            self._handle = sweep
            self.store, self.id, self.d = sweep.store, sweep.id, sweep.definition
        else:  # the handle (every trial's record) is read on first use, not before a draw
            self._handle = None
            self.store = store if isinstance(store, RunStore) else RunStore(store, create=False)
            self.id = str(sweep)
            self.d = recorded_definition(self.id, self.store)
        self.state = SweepState(self.store, self.id, self.d)
        self.poll_interval, self.model_interval = poll_interval, model_interval
        self.lock = threading.RLock()  # the state: hold it to read what it drew from
        self.model_front = pd.DataFrame()
        self.importance = parameter_importance(pd.DataFrame(), self.d.space)
        self.results: pd.DataFrame | None = None
        self.problem: str | None = None  # why the last read failed; None once one works
        self.model_problem: str | None = None
        self.threads: list[threading.Thread] = []
        self.models_final = False  # the models saw everything the ended sweep wrote
        self._listeners: list = []
        self._handle_lock = threading.Lock()
        self._own, self._own_lock = None, threading.Lock()  # the engine of a recorded sweep
        self._models_lock = threading.Lock()  # a refit at a time (thread or cell)
        self._closed = threading.Event()
        self._models_due = threading.Event()
        self._scored: list[dict] = []  # successful observations, flat: parameters, score, cost
        self._fed_seq = -1  # observations read for the models
        self._thin = 1  # observations whose seq is a multiple of it are read
        self._models_seen = -1  # scored observations the predicted front last saw
        self._importance_key = None  # (trials ended, sweep done) importance last saw
        self._tables_key = None
        self._tables_at, self._tables_took = -math.inf, 0.0  # when, and how long it took

    @property
    def handle(self):
        """The sweep's :class:`SweepHandle` (a recorded sweep's is rebuilt on first use)."""
        with self._handle_lock:
            if self._handle is None:
                self._handle = load_handle(self.id, self.store)
                self._handle.status = self.state.sweep_status
            return self._handle

    @contextmanager
    def _engine(self):
        """The engine the models come from, held: the sweep's own where a driver in this
        process feeds it, else one the monitor builds from the definition and feeds what
        the store holds (without reading every trial's record, as the handle would)."""
        if self.driven:
            with self.handle.engine() as sweeper:
                yield sweeper
            return
        with self._own_lock:
            if self._own is None:
                from workbench.sweep.definition import build_sweeper

                self._own = build_sweeper(self.d)
            yield self._own

    @property
    def driven(self) -> bool:
        """Whether a driver in this process feeds the handle's engine: a live sweep, or a
        recorded one this process started again (``extend``), whose engine was rebuilt
        from everything recorded and must not be fed twice."""
        return self.live or (self._handle is not None and self._handle.thread is not None)

    @property
    def status(self) -> str:
        return self._handle.status if self.live else self.state.sweep_status

    # -- subscribers --
    def subscribe(self, listener) -> None:
        """Call ``listener(event)`` on every event (see the module docstring), from the
        monitor's threads or the caller's."""
        self._listeners.append(listener)

    def _emit(self, event: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a subscriber's fault is its own: keep the others going
                log.debug("sweep monitor: a subscriber failed on %r", event, exc_info=True)

    # -- threads --
    def start(self) -> None:
        """Poll and refit on background threads until the sweep ends (or ``close()``)."""
        if any(t.is_alive() for t in self.threads):
            return
        self._closed.clear()
        self.threads = [
            threading.Thread(target=self._poll_loop, daemon=True, name=f"wb-poll-{self.id}"),
            threading.Thread(target=self._model_loop, daemon=True, name=f"wb-models-{self.id}"),
        ]
        for t in self.threads:
            t.start()

    def close(self) -> None:
        self._closed.set()
        self._models_due.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _poll_loop(self) -> None:
        while not self._closed.is_set():
            self.poll()
            if self.state.done:
                self._models_due.set()
                self._emit("final")  # a redraw held back goes out now, throttle or not
                return
            self._closed.wait(self.poll_interval)

    def _model_loop(self) -> None:
        while not self._closed.is_set():
            self._models_due.wait()
            self._models_due.clear()
            if self._closed.is_set():
                return
            started = time.monotonic()
            self.refit()
            if self.models_final:
                return
            took = time.monotonic() - started  # a slow refit waits longer: drawing comes first
            rest = max(self.model_interval - took, took * (1 - MODEL_SHARE) / MODEL_SHARE)
            self._closed.wait(rest)

    # -- reading --
    def poll(self, force: bool = False) -> bool:
        """Read what is new; tell subscribers. Returns whether anything changed."""
        try:
            with self.lock:
                new, runs_changed, curves_changed = self.state.poll(force_runs=force)
                if self._handle is not None and not self.live:
                    self._handle.status = self.state.sweep_status
        except Exception:  # a store busy or gone for a moment is no reason to stop watching
            log.debug("sweep monitor: reading the store failed", exc_info=True)
            self._set_problem(
                f"Could not read the run store at {self.store.path} just now; retrying."
            )
            return False
        self._set_problem(None)
        changed = bool(new) or runs_changed or curves_changed
        if new or runs_changed or force:
            self._models_due.set()
        self._emit("data" if changed else "tick")
        return changed

    def _set_problem(self, text: str | None, model: bool = False) -> None:
        attr = "model_problem" if model else "problem"
        if getattr(self, attr) != text:
            setattr(self, attr, text)
            self._emit("problem")

    # -- refits --
    def refit(self, now: bool = False) -> None:
        """Refit what changed since the last refit: the trial table, the predicted front,
        the importance (a small forest while the sweep runs, a bigger one at its end).
        ``now``: the trial table too, however recently it was redrawn."""
        with self._models_lock:
            try:
                self._refit(now)
            except Exception:
                log.debug("sweep monitor: a refit failed", exc_info=True)
                n = len(self._scored)
                self._set_problem(
                    f"The model could not be refitted on {n} observation"
                    f"{'s' if n != 1 else ''} yet; it is tried again when more come in.",
                    model=True,
                )
            else:
                self._set_problem(None, model=True)

    def _refit(self, now: bool = False) -> None:
        with self.lock:
            done = self.state.done
            runs = self.state.runs.values()
            ended = sum(r["status"] != "running" for r in runs)
            key = tuple((r["status"], r["score"]) for r in runs)
        # The trial table (and the charts drawn from it) is redrawn when a trial changed,
        # but not more often than five times its own cost: at 10,000 trials it takes a second.
        due = time.monotonic() - self._tables_at >= 5 * self._tables_took
        if key != self._tables_key and (due or done or now):
            self._tables_key = key
            started = time.monotonic()
            self._update_results()
            self._tables_at, self._tables_took = time.monotonic(), time.monotonic() - started
        fed = self._read_observations()
        if len(self._scored) != self._models_seen or fed:
            with self._engine() as sweeper:
                if not self.driven:  # a rebuilt engine learns what the sweep's own one saw
                    for i, o in enumerate(fed):
                        sweeper.observe(
                            o["params"], o["score"], o["cost"], failed=o["failed"], error=o["error"]
                        )
                        if i % 256 == 255:
                            time.sleep(0.001)  # the drawing thread's turn, between batches
                self.model_front = sweeper.predicted_front(60)
            self._models_seen = len(self._scored)
            self._emit("models")
        if (ended, done) != self._importance_key:
            self._importance_key = (ended, done)
            trees, repeats = (200, 8) if done else (40, 3)
            rows = self._scored
            if len(rows) > IMPORTANCE_ROWS:  # a fixed share: the forest's cost grows with rows
                pick = np.random.default_rng(self.d.seed).choice(
                    len(rows), IMPORTANCE_ROWS, replace=False
                )
                rows = [rows[i] for i in sorted(pick)]
            # scikit-learn's catch_warnings blocks and the engine's share one filter list
            with WARNINGS_LOCK:
                self.importance = parameter_importance(
                    pd.DataFrame(rows),
                    self.d.space,
                    seed=self.d.seed,
                    n_estimators=trees,
                    repeats=repeats,
                )
            self._emit("importance")
        self.models_final = done

    def _read_observations(self) -> list[dict]:
        """Observations (with parameters) recorded since the last refit. Past
        ``MODEL_ROWS`` of them (a large sweep opened by id), an even share (every 2nd, 4th...):
        the view's models need the shape of the results, and the GP fits on a few hundred
        rows whatever it is fed, while feeding 100,000 would hold the interpreter for
        seconds that the drawing thread needs."""
        if self._fed_seq < 0:  # a large recorded sweep, opened: an even share of it
            with self.lock:
                seen = len(self.state.obs)
            if seen > MODEL_ROWS:
                self._thin = 1 << math.ceil(math.log2(seen / MODEL_ROWS))
        new = self.store.observations(self.id, since_seq=self._fed_seq, every=self._thin)
        if new.empty:
            return []
        rows = new.to_dict("records")
        self._fed_seq = int(rows[-1]["seq"])
        for o in rows:
            score, error = o["score"], o["error"]
            o["score"] = None if score is None or not np.isfinite(score) else float(score)
            o["error"] = error if isinstance(error, str) and error else None
            if not o["failed"] and o["score"] is not None:
                self._scored.append({**o["params"], "score": o["score"], "cost": o["cost"]})
        return rows

    def _update_results(self) -> None:
        from workbench.sweep.handle import trial_table

        # the monitor's own definition: a steered sweep's edits (a pinned parameter leaving
        # the space) must not change the columns under the charts it already drew
        self.results = trial_table(self.store, self.id, self.d)
        self._emit("tables")

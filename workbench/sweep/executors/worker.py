"""One trial in a worker (a local process or a Ray actor), streamed back to the driver.

A worker shares no file with the driver: it trains into a private run store in a temporary
folder and sends the driver everything the driver's store must hold, as plain messages::

    ("start", index, run_id, record)        the run's name, env, config, host, pid
    ("row", index, run_id, row)             each metric row, as it is produced
    ("done", index, run_id, outcome, ckpt)  status, summary, error (with its traceback),
                                            reason, and the checkpoint's bytes

The driver (:class:`Mirror`) writes them into its own store under the same run id, so
every executor leaves the same records. Stops come the other way: ``stop(index, status,
reason)`` on the :class:`TrialRunner` ends the trial within the env step.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from pathlib import Path

from workbench.sweep.executors import Outcome, Trial, begin


class TrialRunner:
    """Runs trials one at a time in this process; thread-safe ``stop``."""

    def __init__(self):
        self._handles: dict[int, object] = {}
        self._early: dict[int, tuple[str, str | None]] = {}
        self._lock = threading.Lock()

    def stop(self, index: int, status: str, reason: str | None) -> None:
        with self._lock:
            handle = self._handles.get(index)
            if handle is None:  # before the trial started: remember it
                self._early[index] = (status, reason)
                return
        _ask(handle, status, reason)

    def stop_all(self, reason: str) -> None:
        """Stop whatever trial is running (a worker asked to end)."""
        with self._lock:
            handles = list(self._handles.values())
        for handle in handles:
            _ask(handle, "stopped", reason)

    def run(self, trial: Trial, send) -> None:
        """Train ``trial``; ``send(message)`` delivers each message to the driver."""
        from workbench.envs.registry import is_registered, register
        from workbench.store import RunStore

        if trial.env_target and not is_registered(trial.env):  # registered in the driver only
            register(trial.env, trial.env_target)

        with tempfile.TemporaryDirectory(prefix="workbench-trial-") as tmp:
            store = RunStore(Path(tmp) / "trial.db")
            try:
                handle = begin(
                    trial, store, lambda run_id, row: self._row(trial, run_id, row, send)
                )
            except (ValueError, TypeError) as e:  # refused config: nothing was recorded
                error = f"{type(e).__name__}: {e}"
                out = _outcome(None, "failed", error=error, cause="config")
                send(("done", trial.index, None, out, None))
                return
            record = store.run(handle.run_id)
            send(("start", trial.index, handle.run_id, _start_record(record)))
            with self._lock:
                self._handles[trial.index] = handle
                early = self._early.pop(trial.index, None)
            if early is not None:
                _ask(handle, *early)
            try:
                run = handle.run()
            except BaseException:  # recorded on the run, with its traceback
                run = handle.wait()
            finally:
                with self._lock:
                    self._handles.pop(trial.index, None)
            ckpt = Path(run.checkpoint).read_bytes() if run.checkpoint else None
            outcome = _outcome(run.id, run.status, run.summary, run.error, run.reason, run.cause)
            send(("done", trial.index, run.id, outcome, ckpt))
            store.close()

    def _row(self, trial: Trial, run_id: str, row: dict, send) -> None:
        send(("row", trial.index, run_id, row))
        cost = row.get(trial.cost_key) if trial.max_cost is not None else None
        if cost is not None and cost >= trial.max_cost:  # the cap holds without a round trip
            self.stop(trial.index, "pruned", cap_reason(trial.cost_key, cost, trial.max_cost))


def cap_reason(key: str, cost: float, cap: float) -> str:
    return f"cost cap: {key} {cost:.4g} >= {cap:g}"


def _ask(handle, status: str, reason: str | None) -> None:
    if status == "pruned":
        handle.prune(reason or "pruned")
    else:
        handle.stop(reason)


def _outcome(run_id, status, summary=None, error=None, reason=None, cause=None) -> dict:
    return {
        "run_id": run_id,
        "status": status,
        "summary": dict(summary or {}),
        "error": error,
        "reason": reason,
        "cause": cause,
    }


def _start_record(record: dict) -> dict:
    return {
        "name": record["name"],
        "env": record["env"],
        "config": record["config"],
        "host": record["host"] or socket.gethostname(),
        "pid": record["pid"] or os.getpid(),
    }


class Mirror:
    """The driver's side: writes a worker's messages into the driver's store and turns them
    into the driver's callbacks. ``handle(message)`` returns a stop request for the trial
    (asked through the driver's store, e.g. a Stop button) or None."""

    def __init__(self, store):
        self.store = store
        self.seq: dict[str, int] = {}
        self.trials: dict[int, Trial] = {}
        self.callbacks: dict[int, tuple] = {}

    def track(self, trial: Trial, on_row, on_done) -> None:
        self.trials[trial.index] = trial
        self.callbacks[trial.index] = (on_row, on_done)

    def handle(self, message) -> tuple[str, str | None] | None:
        kind, index = message[0], message[1]
        trial = self.trials.get(index)
        if trial is None:
            return None  # a late message for a trial already ended
        on_row, on_done = self.callbacks[index]
        if kind == "start":
            _, _, run_id, rec = message
            trial.run_id = run_id
            self.store.create_run(
                rec["name"],
                rec["env"],
                rec["config"],
                sweep_id=trial.sweep_id,
                tags=trial.tags,
                run_id=run_id,
                host=rec["host"],
                pid=rec["pid"],
            )
            self.seq[run_id] = 0
            return None
        if kind == "row":
            _, _, run_id, row = message
            request = self.store.log(run_id, self.seq[run_id], row)
            self.seq[run_id] += 1
            on_row(trial, run_id, row)
            return request
        if kind == "done":
            _, _, run_id, out, ckpt = message
            if run_id is not None:
                if ckpt is not None:
                    path = self.store.path.parent / "checkpoints" / run_id / "model.pt"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(ckpt)
                    self.store.set_checkpoint(run_id, str(path))
                self.store.finish(
                    run_id, out["status"], out["summary"], out["error"], out["reason"], out["cause"]
                )
            self._end(index)
            on_done(trial, Outcome(**{**out, "run_id": run_id}))
            return None
        raise ValueError(f"unknown worker message {kind!r}")

    def lost(self, index: int, why: str) -> None:
        """The worker running trial ``index`` died: record the trial as failed with cause
        ``lost`` (not the config's fault) and the figures its streamed curve holds."""
        trial = self.trials.get(index)
        if trial is None:
            return
        _, on_done = self.callbacks[index]
        summary = {}
        if trial.run_id is not None:
            summary = self.store.summary_from_curve(trial.run_id)
            self.store.finish(trial.run_id, "failed", summary, why, cause="lost")
        self._end(index)
        on_done(trial, Outcome(trial.run_id, "failed", summary, why, cause="lost"))

    def _end(self, index: int) -> None:
        self.trials.pop(index, None)
        self.callbacks.pop(index, None)

    @property
    def running(self) -> list[int]:
        return list(self.trials)

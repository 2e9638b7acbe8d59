"""One call of an objective sweep's Python function, recorded as a run.

:class:`ObjectiveRun` has the doors of a training run's handle that executors use
(``run_id``, ``run()``, ``wait()``, ``stop()``, ``prune()``), so every executor runs both
kinds of trial the same way. What a call may return or report is in
:mod:`workbench.sweep.objective`.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
import traceback
from dataclasses import dataclass, field

from workbench import metrics as M

REPORT = "report"  # the name of the curve callback a function may take
SEED = "seed"  # the name of the seed argument a function may take


class TrialStopped(Exception):
    """Raised inside ``report`` when the sweep ends the trial (pruned, its cost cap, a stop
    by hand, the sweep's end). Let it propagate: the trial is recorded as pruned or stopped
    with the reason, keeping its curve."""


@dataclass
class CallResult:
    """How a call ended, as a training run's ``Run`` tells it to an executor."""

    id: str
    status: str
    summary: dict = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None
    cause: str | None = None
    checkpoint: str | None = None  # a function leaves none


class ObjectiveRun:
    """``trial.objective(**trial.kwargs)`` as a run in ``store`` (recorded on creation)."""

    def __init__(self, trial, store, on_log=None):
        self.trial, self.store, self.on_log = trial, store, on_log
        self.run_id = store.create_run(
            trial.name, trial.env, trial.kwargs, sweep_id=trial.sweep_id, tags=trial.tags
        )
        self._stop = threading.Event()
        self._request: tuple[str, str | None] = ("stopped", None)
        self._rows = 0
        self._step = 0
        self._cost: float | None = None  # the last cost a report gave
        self._started = time.perf_counter()
        self._summary: dict = {}
        self._result: CallResult | None = None

    # -- the doors executors use --
    def stop(self, reason: str | None = None, cause: str | None = None) -> None:
        """End the call at its next ``report`` as stopped."""
        self._request = ("stopped", reason)
        self._stop.set()

    def prune(self, reason: str) -> None:
        """End the call at its next ``report`` as pruned."""
        self._request = ("pruned", reason)
        self._stop.set()

    def wait(self, timeout: float | None = None) -> CallResult | None:
        return self._result

    def run(self) -> CallResult:
        """Call the function here, record how it ended, return that. Failures are
        outcomes, never raised (Ctrl-C is, after the trial is recorded as stopped)."""
        f = self.trial.objective
        kwargs = dict(self.trial.kwargs)
        named = _named(f)
        if SEED not in named:
            kwargs.pop(SEED, None)  # recorded in its config, for reseeds; f takes none
        if REPORT in named:
            kwargs[REPORT] = self.report
        status, error, reason, cause = "finished", None, None, None
        self._started = time.perf_counter()
        try:
            result = f(**kwargs)
            if self._stop.is_set():  # it returned after a stop it caught
                raise TrialStopped(self._request[1])
            self._final(result)
        except TrialStopped:
            status, reason = self._request
        except KeyboardInterrupt as e:
            status, reason = "stopped", str(e) or "KeyboardInterrupt"
            self._finish(status, None, reason, None)
            raise
        except BadResult as e:
            status, error, cause = "failed", str(e), "config"
        except Exception as e:
            if self._stop.is_set():  # the stop's exception, turned into another by f
                status, reason = self._request
            else:
                status, cause = "failed", "config"
                error = "".join(traceback.format_exception(e)).strip()
        return self._finish(status, error, reason, cause)

    def _finish(self, status, error, reason, cause) -> CallResult:
        self._summary.setdefault(M.WALL_TIME, self._elapsed())
        self._summary.setdefault(M.AGENT_STEPS, self._step)
        self.store.finish(self.run_id, status, self._summary, error, reason, cause)
        self._result = CallResult(self.run_id, status, dict(self._summary), error, reason, cause)
        return self._result

    def _elapsed(self) -> float:
        return time.perf_counter() - self._started

    # -- what the function calls --
    def report(self, score, cost=None, step=None) -> None:
        """One point of the call's curve: ``score`` now, at ``cost`` on the sweep's cost
        axis (default: the seconds since the call began, or ``step`` for agent_steps), after
        ``step`` steps (default: one more than the last). Raises :class:`TrialStopped`
        when the sweep ends the trial."""
        score = _number(score, "report(score=...)", "the score so far")
        if cost is not None:
            self._cost = _positive(cost, "report(cost=...)", self.trial.cost_key)
        if step is None:
            step = self._step + 1
        elif isinstance(step, bool) or not isinstance(step, int | float) or step < 0:
            raise TypeError(f"report(step=...) is a number of steps >= 0, got {step!r}")
        self._step = step
        self._log(score)
        if self._stop.is_set():
            raise TrialStopped(self._request[1])

    def _log(self, score: float) -> None:
        row = {M.AGENT_STEPS: self._step, M.WALL_TIME: self._elapsed(), self._key: score}
        if self._cost is not None:
            row[self.trial.cost_key] = self._cost
        request = self.store.log(self.run_id, self._rows, row)
        self._rows += 1
        M.summarize_row(self._summary, row)
        if self.on_log is not None:
            self.on_log(self.run_id, row)
        if request is not None and not self._stop.is_set():  # asked through the store
            self._request = request
            self._stop.set()

    @property
    def _key(self) -> str:
        return self.trial.score_key

    def _final(self, result) -> None:
        """Record what the function returned as the call's result."""
        name = getattr(self.trial.objective, "__qualname__", "objective")
        if result is None:
            if not self._rows:
                raise BadResult(
                    f"objective {name} returned None and reported nothing: return the score, "
                    "(score, cost), or call report(score) before returning"
                )
            return  # its last report is its result
        cost = None
        if isinstance(result, tuple | list) and len(result) == 2:
            score, cost = result
            cost = _positive(
                cost, f"objective {name} returned (score, cost) with cost", self.trial.cost_key
            )
        else:
            score = result
        if isinstance(score, bool) or not _is_number(score):
            raise BadResult(
                f"objective {name} returned {_short(result)} ({type(result).__name__}); "
                "return a number (the score), (score, cost), or None after report(score)"
            )
        if not math.isfinite(float(score)):
            raise BadResult(
                f"objective {name} returned a score of {float(score)}; return a finite "
                "number (raise an exception to fail a trial on purpose)"
            )
        if cost is not None:
            self._cost = cost
        if not self._rows:  # one point: its result
            self._step = self._step or 1
            self._log(float(score))
            return
        # its curve is what it reported; the result is its end, at its whole cost
        self._summary[self._key] = float(score)
        if cost is not None:
            self._summary[self.trial.cost_key] = cost
        if self.trial.cost_key != M.WALL_TIME or self._cost is None:
            self._summary[M.WALL_TIME] = self._elapsed()


class BadResult(Exception):
    """A function returned something that is not a result (its trial fails with this)."""


def _named(f) -> set:
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, str | bytes)


def _number(value, what: str, meaning: str) -> float:
    if isinstance(value, bool) or not _is_number(value):
        raise TypeError(f"{what} is a number ({meaning}), got {_short(value)}")
    return float(value)


def _positive(value, what: str, axis: str | None) -> float:
    unit = f" ({axis})" if axis else ""
    if isinstance(value, bool) or not _is_number(value) or not 0 < float(value) < math.inf:
        raise BadResult(f"{what} {_short(value)}; a cost{unit} is a finite number > 0")
    return float(value)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

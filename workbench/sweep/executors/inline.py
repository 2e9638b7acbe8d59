"""The inline executor: one trial at a time, on the driver's own thread.

Nothing crosses a thread or process boundary, so a breakpoint inside a trial (an env's
step, a callback) stops right there, and a trial's stop takes effect within the env step.
"""

from __future__ import annotations

from workbench.sweep.executors import Outcome, Trial, begin


class InlineExecutor:
    slots = 1

    def __init__(self, store):
        self.store = store
        self._running: dict[int, object] = {}  # trial index -> its handle (``begin``)

    def submit(self, trial: Trial, on_row, on_done) -> None:
        try:
            handle = begin(trial, self.store, lambda run_id, row: on_row(trial, run_id, row))
        except (ValueError, TypeError) as e:  # the config was refused: nothing was recorded
            on_done(
                trial, Outcome(None, "failed", error=f"{type(e).__name__}: {e}", cause="config")
            )
            return
        trial.run_id = handle.run_id
        self._running[trial.index] = handle
        try:
            run = handle.run()
        except KeyboardInterrupt:
            raise
        except Exception:  # recorded on the run: failures are outcomes, never the sweep's end
            run = handle.wait()
        finally:
            self._running.pop(trial.index, None)
        on_done(
            trial,
            Outcome(run.id, run.status, dict(run.summary), run.error, run.reason, run.cause),
        )

    def stop(self, trial: Trial, status: str, reason: str | None) -> None:
        handle = self._running.get(trial.index)
        if handle is None:
            return
        if status == "pruned":
            handle.prune(reason or "pruned")
        else:
            handle.stop(reason)

    def wait(self, timeout: float) -> None:
        return None  # trials finish inside submit

    def close(self) -> None:
        return None

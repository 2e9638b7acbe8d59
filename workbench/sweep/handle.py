"""``SweepHandle``: a sweep, running or recorded, and the doors to steer it.

Control (``stop``, ``wait``), results (``results``, ``configs``, ``best``, ``front``,
``export``) and steering (``edit``, ``enqueue``, ``reseed``, ``stop_trial``, ``pause``,
``resume``, ``extend``). A steering call is checked here (a bad one raises and records
nothing) and written to the store as a request; the sweep's driver, in this process or
another sharing the file, applies it before its next suggestion and keeps it in the
sweep's history (``history()``), which a resumed sweep replays. See
:mod:`workbench.sweep.steering` for what each does.
"""

from __future__ import annotations

import contextlib
import math
import threading

import pandas as pd

from workbench import metrics as M
from workbench.store import RunStore
from workbench.sweep.definition import OBJECTIVE, DefinitionError, SweepDefinition
from workbench.sweep.objective import check_function, export_arguments, require_objective
from workbench.sweep.steering import edited, group_configs


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
        self.queue: list = []  # asked-for trials (``queue.Queued``) to run before suggestions
        self.paused = False  # no new trial starts while paused
        self.spent_s = 0.0  # wall-clock seconds the sweep has run (not counting pauses)
        self.charged = 0  # trials charged to the budget (not those whose worker died)
        self.next_index = 0  # the next trial's number
        self.resumed = False  # started again after it ended or died
        self.objective = None  # an objective sweep's function (never stored: resume passes it)
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

    def restarted(self, resumed: bool = True) -> None:
        """The sweep runs again (resume, extend): running, no reason to end yet."""
        self.status, self.ended_because, self.error = "running", None, None
        self.resumed = resumed
        self._stop.clear()
        self._ended.clear()

    def adopt(self, other: SweepHandle) -> None:
        """Take ``other``'s view of the same sweep (rebuilt from the store)."""
        for name in ("definition", "sweeper", "trials", "queue", "paused", "spent_s"):
            setattr(self, name, getattr(other, name))
        self.charged, self.next_index = other.charged, other.next_index

    def adopt_engine(self, definition: SweepDefinition, sweeper) -> None:
        """A steered sweep runs with this definition and engine from now on."""
        with self._lock:
            self.definition, self.sweeper = definition, sweeper

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
        """One row per trial: run id, status, score, cost, the swept parameters, its train
        seed, why it ended."""
        return trial_table(self.store, self.id, self.definition)

    def configs(self) -> pd.DataFrame:
        """One row per config of the finished trials: its parameters, how many seeds ran
        it, mean score and spread, mean cost, run ids (see ``steering.group_configs``)."""
        return group_configs(self.results(), self.definition.space)

    def best(self, max_cost: float | None = None) -> dict | None:
        """The best config (mean cost at most ``max_cost``) as its best trial's row, with
        ``seeds`` and ``score_mean``. Configs are ranked by their mean score less its
        standard error, so at equal means a config confirmed on several seeds beats one
        lucky run."""
        return best_trial(self.results(), max_cost, self.definition.space)

    # -- steering: checked here, applied by the driver before its next suggestion --
    def edit(
        self,
        space: dict | None = None,
        constraints=None,
        fixed: dict | None = None,
        trials: int | None = None,
        hours: float | None = None,
        max_cost: float | None = None,
    ) -> SweepDefinition:
        """Change the search from the next suggestion on (``steering`` says how); returns
        the definition it will run with. A bad edit raises and changes nothing."""
        payload = {
            k: v
            for k, v in dict(
                space=space,
                constraints=constraints,
                fixed=fixed,
                trials=trials,
                hours=hours,
                max_cost=max_cost,
            ).items()
            if v is not None
        }
        if not payload:
            raise DefinitionError(
                "edit what? give space, constraints, fixed, trials, hours or max_cost"
            )
        after = edited(self.definition, **payload)
        if self.objective is not None:  # every call must still fit the function
            check_function(self.objective, after)
        self._request("edit", payload)
        return after

    def enqueue(self, params: dict, seeds: int = 1) -> list[dict]:
        """Run a hand-picked config next, before new suggestions, on ``seeds`` seeds.
        Parameters left out come from the best trial (the space's centre before one
        finished). Refused, with the rule it breaks, if it violates a constraint."""
        from workbench.sweep.queue import complete

        trials = complete(self, params, seeds)
        self._request("enqueue", {"params": trials[0]["params"], "seeds": seeds})
        return trials

    def reseed(self, k: int = 3, seeds: int = 2) -> None:
        """Run the ``k`` best configs of the observed front again, each on ``seeds`` fresh
        seeds; ``configs()`` and ``best()`` then group them."""
        _count("k", k)
        _count("seeds", seeds)
        self._request("reseed", {"k": k, "seeds": seeds})

    def stop_trial(self, run_id: str, reason: str | None = None) -> bool:
        """End one running trial (recorded ``stopped`` with ``reason``, kept as data);
        False if it had already ended."""
        record = self.store.run(run_id)
        if record["sweep_id"] != self.id:
            raise ValueError(f"run {run_id} is not a trial of sweep {self.id}")
        stopped = self.store.request_stop(run_id, "stopped", reason or "stopped by hand")
        self._request("stop_trial", {"run_id": run_id, "reason": reason, "stopped": stopped})
        return stopped

    def pause(self) -> None:
        """Start no new trial until ``resume()``; trials in flight finish."""
        self._request("pause")

    def resume(self) -> None:
        """Start trials again after ``pause()``."""
        self._request("resume")

    def extend(self, trials: int | None = None, hours: float | None = None) -> SweepHandle:
        """More budget: ``trials`` more trials and/or ``hours`` more hours. An ended sweep
        starts again, in the background, with its whole history. Returns the handle."""
        if trials is None and hours is None:
            raise ValueError("extend by how much? give trials=N and/or hours=H")
        if trials is not None:
            _count("trials", trials)
        if hours is not None and not (isinstance(hours, (int, float)) and 0 < hours < math.inf):
            raise ValueError(f"hours must be a number > 0, got {hours!r}")
        ended = self.done and (self.thread is None or not self.thread.is_alive())
        if ended:  # it runs again here: an objective sweep needs its function first
            require_objective(self.definition, self.objective, self.id)
        self._request("extend", {"trials": trials, "hours": hours})
        if ended:
            from workbench.sweep.driver import restart

            restart(self)
        return self

    def history(self) -> pd.DataFrame:
        """Every steering request of this sweep, in order, with when it was applied (or
        why it was refused)."""
        return self.store.events(self.id)

    def _request(self, kind: str, payload: dict | None = None) -> None:
        self.store.request(self.id, kind, payload or {})

    def export(self, path=None, run_id: str | None = None, max_cost: float | None = None):
        """Write a trial's config (default: ``best(max_cost)``) as a TOML override of its
        env's defaults; ``python -m workbench train ENV --config PATH`` reruns it exactly.
        An objective sweep's trial is written as JSON: ``f(**json.load(file)["arguments"])``
        calls it again. Returns the path."""
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
        if self.definition.kind == OBJECTIVE:
            return export_arguments(self.definition, self.id, record, path, self.store.path)
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
    cols = ["run_id", "name", "status", "score", "cost", *d.space, "seed", "reason", "error"]
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
    out["seed"] = runs.get("seed", runs.get("config.seed", 0))
    out["reason"] = runs["reason"]
    out["error"] = [
        e.strip().splitlines()[-1] if isinstance(e, str) else None for e in runs["error"]
    ]
    return out[cols]


def _objective(record: dict, metric: str):
    value = record.get(metric)  # runs() holds each outcome's final value under its name
    return float(value) if value is not None and not pd.isna(value) else math.nan


def best_trial(results: pd.DataFrame, max_cost: float | None = None, names=None) -> dict | None:
    """The best config's best trial (see ``SweepHandle.best``); ``names``: the swept
    parameters (default: every column between cost and seed)."""
    if names is None:
        cols = list(results.columns)
        names = cols[cols.index("cost") + 1 : cols.index("seed")] if "seed" in cols else []
    configs = group_configs(results, names)
    if max_cost is not None:
        configs = configs[configs["cost"] <= max_cost]
    if configs.empty:
        return None
    top = configs.loc[configs["score_low"].idxmax()]
    runs = results[results["run_id"].isin(top["run_ids"])]
    row = runs.loc[runs["score"].idxmax()].to_dict()
    return {**row, "seeds": int(top["seeds"]), "score_mean": float(top["score"])}


def _count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")

"""What a sweep view draws, read from the run store a little at a time.

:class:`SweepState` polls one sweep: new observations (``since_seq``), the records of runs
started, written to or ended since the last read (``sweep_runs(touched_since=)``) and the
metric rows written since the last one read (``sweep_curves(since_rowid=)``), so a sweep of
10,000 trials and 100,000 curve points costs each poll only what is new.
:meth:`SweepState.points` turns that into the data of each trace of the score-vs-cost
figure, against either cost axis, as plain lists: observations carry the definition's cost,
and the other axis is read off the run's own metric rows (a curve point is one of those
rows; a trial's end is its summary). Past ``MAX_CURVE_POINTS`` curve points, an even
stride of them is drawn (the front is still computed from all of them).
"""

from __future__ import annotations

import html
import math
import textwrap
import time

import numpy as np
import pandas as pd

from workbench import metrics as M
from workbench.store import FINAL_STATUSES, RunStore
from workbench.sweep.pareto import pareto_mask

RUNS_EVERY = 1.0  # seconds between reads of the runs table when nothing else says to
MAX_CURVE_POINTS = 10_000  # curve points drawn; past it an even stride of them
# Runs are re-read if touched this long before the last read began: a row stamped just
# before a read may commit just after it, and another host's clock may lag.
CLOCK_MARGIN = 10.0


def _num(value) -> float | None:
    """A finite float, or None (NaN, None and non-numbers alike)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def format_value(value) -> str:
    """A parameter's value as a person reads it: whole numbers as written (1,024, not
    1.02e+03), others to 4 significant digits, tiny ones in scientific notation."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        value = float(value)
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.4g}"
    return str(value)


def format_params(params: dict) -> str:
    return "<br>".join(f"{html.escape(k)} = {format_value(v)}" for k, v in params.items())


def _params_of(config: dict, names) -> dict:
    """A trial's swept parameters from its run's config (env parameters live one level
    down), as plain Python values."""
    env_params = config.get("env_params") or {}
    out = {}
    for key in names:
        value = config.get(key, env_params.get(key))
        out[key] = value.item() if isinstance(value, np.generic) else value
    return out


class SweepState:
    """A sweep's observations, runs and curves as last read from ``store``."""

    def __init__(self, store: RunStore, sweep_id: str, definition):
        self.store, self.id, self.d = store, sweep_id, definition
        self.obs: list[dict] = []  # every observation, in order (no parameters: see runs)
        self.last_seq = -1
        self.runs: dict[str, dict] = {}  # run id -> record, in start order
        self.curves: dict[str, dict[str, list]] = {}  # run id -> cost axes and objective
        self.complete: set[str] = set()  # runs whose rows are all read
        self.sweep_status = "running"
        self._keys = M.objective_keys(definition.metric)
        self._last_rowid = -1
        self._runs_read = -math.inf  # monotonic time of the last runs read
        self._runs_since: float | None = None  # wall time the next runs read starts from
        self._last_obs: dict[str, int] = {}  # run id -> index of its last observation
        self._other: dict[int, float] = {}  # obs index -> x on the other axis, once final
        self._settled_points: dict[str, dict] = {}  # axis -> points that will not change
        self._hover: dict = {}

    # -- reading --
    def poll(self, force_runs: bool = False) -> tuple[list[dict], bool, bool]:
        """Read what is new: (new observations, whether runs changed, whether curves did)."""
        new = self.store.observations(self.id, since_seq=self.last_seq, params=False)
        records = []
        if not new.empty:
            for seq, run_id, score, cost, failed, error, at in zip(
                new["seq"].tolist(),
                new["run_id"].tolist(),
                new["score"].tolist(),
                new["cost"].tolist(),
                new["failed"].tolist(),
                new["error"].tolist(),
                new["at"].tolist(),
                strict=True,
            ):
                o = {
                    "seq": int(seq),
                    "run_id": run_id if isinstance(run_id, str) else None,
                    "score": _num(score),
                    "cost": _num(cost),
                    "failed": bool(failed),
                    "error": _text(error),
                    "at": float(at),
                }
                if o["run_id"] is not None:
                    self._last_obs[o["run_id"]] = len(self.obs)
                self.obs.append(o)
                records.append(o)
            self.last_seq = records[-1]["seq"]
        stale = time.monotonic() - self._runs_read >= RUNS_EVERY
        runs_changed = self._read_runs() if records or force_runs or stale else False
        return records, runs_changed, self._read_curves()

    def _read_runs(self) -> bool:
        self._runs_read = time.monotonic()
        began = time.time()
        self.sweep_status = self.store.sweep(self.id)["status"]
        changed = False
        for row in self.store.sweep_runs(self.id, touched_since=self._runs_since):
            error = _text(row.get("error"))
            summary = row["summary"]
            record = {
                "name": row["name"],
                "status": row["status"],
                "reason": _text(row.get("reason")),
                "error": error.strip().splitlines()[-1] if error else None,
                "ended_at": _num(row.get("ended_at")),
                "score": _num(M.objective(summary, self.d.metric)),
                M.AGENT_STEPS: _num(summary.get(M.AGENT_STEPS)),
                M.WALL_TIME: _num(summary.get(M.WALL_TIME)),
                "params": _params_of(row["config"], self.d.space),
            }
            if self.runs.get(row["id"]) != record:
                self.runs[row["id"]] = record
                changed = True
        self._runs_since = began - CLOCK_MARGIN
        return changed

    def _read_curves(self) -> bool:
        ended = {r for r in self.runs if r not in self.complete}
        ended = {r for r in ended if self.runs[r]["status"] in FINAL_STATUSES}
        rows = self.store.sweep_curves(self.id, self._keys, since_rowid=self._last_rowid)
        self.complete |= ended  # every row was written before the run was marked ended
        if rows.empty:
            return False
        # the objective: the first of its keys a row holds (eval/score, else env/score)
        found = rows[list(self._keys)].apply(pd.to_numeric, errors="coerce")
        score = found.bfill(axis=1).iloc[:, 0].to_numpy(dtype=float)
        scores = [v if math.isfinite(v) else None for v in score.tolist()]
        run_ids = rows["run_id"].tolist()
        steps, walls = rows[M.AGENT_STEPS].tolist(), rows[M.WALL_TIME].tolist()
        start = 0
        for end in [
            *np.flatnonzero(rows["run_id"].to_numpy()[1:] != rows["run_id"].to_numpy()[:-1]) + 1,
            len(rows),
        ]:
            run_id = run_ids[start]
            curve = self.curves.get(run_id)
            if curve is None:
                curve = self.curves[run_id] = {M.AGENT_STEPS: [], M.WALL_TIME: [], "score": []}
            curve[M.AGENT_STEPS] += [float(v) for v in steps[start:end]]
            curve[M.WALL_TIME] += [float(v) for v in walls[start:end]]
            curve["score"] += scores[start:end]
            start = end
        self._last_rowid = int(rows["rowid"].iloc[-1])
        return True

    @property
    def done(self) -> bool:
        """The sweep has ended and everything it wrote has been read."""
        return self.sweep_status != "running" and all(r in self.complete for r in self.runs)

    # -- what to draw --
    def _x(self, i: int, o: dict, axis: str, final: bool) -> float | None:
        """An observation's cost on ``axis``: its own (the definition's), else the run's."""
        if axis == self.d.cost:
            return o["cost"]
        if final:
            return self.runs[o["run_id"]][axis]
        if i in self._other:
            return self._other[i]
        curve = self.curves.get(o["run_id"])
        if not curve or o["cost"] is None:
            return None
        x = float(np.interp(o["cost"], curve[self.d.cost], curve[axis]))
        if o["run_id"] in self.complete:  # its curve will not grow: keep the answer
            self._other[i] = x
        return x

    def _last_point(self, run_id: str, axis: str):
        curve = self.curves.get(run_id)
        if not curve:
            return None
        for x, y in zip(reversed(curve[axis]), reversed(curve["score"]), strict=True):
            if y is not None and x > 0:
                return x, y
        return None

    def hover(self, key, make) -> str:
        if key not in self._hover:
            self._hover[key] = make()
        return self._hover[key]

    def run_text(self, run_id: str) -> str:
        """A trial's hover text: its name, status, why it ended, its parameters."""
        r = self.runs[run_id]

        def make():
            lines = [f"<b>{html.escape(r['name'])}</b> ({r['status']})"]
            why = r["reason"] or r["error"]
            if why:  # short lines: a hover label wider than the plot is cut at its edge
                lines += [html.escape(part) for part in textwrap.wrap(why, 48)[:5]]
            return "<br>".join([*lines, format_params(r["params"])])

        return self.hover(("run", run_id, r["status"], r["reason"], r["error"]), make)

    def _obs_text(self, run_id: str) -> str:
        def make():
            name = self.runs.get(run_id, {}).get("name", run_id)
            return f"<b>{html.escape(str(name))}</b> curve point (click: its trial)"

        return self.hover(("obs", run_id), make)

    def _finals(self) -> set[int]:
        """Index of each finished or failed trial's last observation (its end result)."""
        return {
            i
            for run_id, i in self._last_obs.items()
            if self.runs.get(run_id, {}).get("status") in ("finished", "failed")
        }

    def _kind(self, i: int, o: dict, finals: set[int]) -> str | None:
        """Which trace observation ``i`` goes to: ``trials`` (a trial's end), ``curve``, or
        None (failed: drawn from its run record; or its run not read yet)."""
        if o["run_id"] not in self.runs or o["failed"] or o["score"] is None:
            return None
        return "trials" if i in finals else "curve"

    def _settled(self, axis: str) -> dict:
        """The points of observations whose trials have ended and been read to their end:
        they will not change, so each is placed once (a sweep of 100,000 points redraws
        only what came since); ``pending``: the others, looked at again next time."""
        cache = self._settled_points.setdefault(
            axis, {"seen": 0, "pending": [], "trials": _empty(), "curve": _empty()}
        )
        finals = None
        pending = []
        for i in [*cache["pending"], *range(cache["seen"], len(self.obs))]:
            o = self.obs[i]
            if o["run_id"] is not None and o["run_id"] not in self.complete:
                pending.append(i)
                continue
            finals = self._finals() if finals is None else finals
            kind = self._kind(i, o, finals)
            x = self._x(i, o, axis, kind == "trials") if kind else None
            if x is not None and x > 0:
                text = self.run_text(o["run_id"]) if kind == "trials" else ""
                _add(cache[kind], x, o["score"], o["run_id"], text)
        cache["seen"], cache["pending"] = len(self.obs), pending
        return cache

    def points(self, axis: str, selected: str | None = None) -> dict[str, dict]:
        """Data of each trace (x, y, customdata = run ids, hovertext) against ``axis``, as
        plain lists."""
        out = {k: _empty() for k in TRACE_KEYS}
        settled = self._settled(axis)  # observations of ended trials, sorted once
        trials, curve = settled["trials"], settled["curve"]
        out["trials"] = {k: list(v) for k, v in trials.items()}
        curve_x, curve_y, curve_ids = list(curve["x"]), list(curve["y"]), list(curve["customdata"])
        finals = self._finals()
        for i in settled["pending"]:  # the rest: trials still running
            o = self.obs[i]
            kind = self._kind(i, o, finals)
            x = self._x(i, o, axis, kind == "trials") if kind else None
            if x is None or x <= 0:
                continue
            if kind == "trials":
                _add(out["trials"], x, o["score"], o["run_id"], self.run_text(o["run_id"]))
            else:
                curve_x.append(x)
                curve_y.append(o["score"])
                curve_ids.append(o["run_id"])
        ok_x = out["trials"]["x"] + curve_x
        ok_y = out["trials"]["y"] + curve_y
        # a power of two, so the points drawn stay the same ones until it doubles
        stride = 1 << max(0, math.ceil(math.log2(max(1, len(curve_x)) / MAX_CURVE_POINTS)))
        out["settled"] = {
            "trials": len(trials["x"]),
            "curve": -(-len(curve["x"]) // stride),
            "stride": stride,
        }
        drawn = out["curve"]
        drawn["x"], drawn["y"] = curve_x[::stride], curve_y[::stride]
        drawn["customdata"] = curve_ids[::stride]
        drawn["hovertext"] = [self._obs_text(r) for r in drawn["customdata"]]
        ends: dict[str, tuple] = {}
        for run_id, r in self.runs.items():
            status = r["status"]
            if status == "finished":
                continue
            point = self._last_point(run_id, axis)
            if status == "running":
                if point is not None:
                    _add(out["running"], *point, run_id, self.run_text(run_id))
                    self._trail(out["trail"], run_id, axis)
                continue
            if status in ("pruned", "stopped") and point is not None:
                _add(out[status], *point, run_id, self.run_text(run_id))
                ends[run_id] = point
            elif status == "failed":
                x = r[axis] if r[axis] and r[axis] > 0 else (min(ok_x) if ok_x else 1.0)
                y = min(ok_y) if ok_y else 0.0  # no score: drawn on the floor
                _add(out["failed"], x, y, run_id, self.run_text(run_id))
                ends[run_id] = (x, y)
        trials = out["trials"]
        for x, y, run_id in zip(trials["x"], trials["y"], trials["customdata"], strict=True):
            ends[run_id] = (x, y)
        if ok_x:
            ids = trials["customdata"] + curve_ids
            mask = pareto_mask(ok_x, ok_y)
            front = sorted((ok_x[i], ok_y[i], ids[i]) for i in np.flatnonzero(mask).tolist())
            for x, y, run_id in front:
                _add(out["front"], x, y, run_id, self.run_text(run_id))
        ended = [(r["ended_at"], i) for i, r in self.runs.items() if r["ended_at"] and i in ends]
        if ended:
            newest = max(ended)[1]
            _add(out["newest"], *ends[newest], newest, self.run_text(newest))
        if selected is not None and selected in self.runs:
            point = ends.get(selected) or self._last_point(selected, axis)
            if point is not None:
                _add(out["selected"], *point, selected, self.run_text(selected))
        return out

    def _trail(self, trace: dict, run_id: str, axis: str) -> None:
        curve = self.curves[run_id]
        for x, y in zip(curve[axis], curve["score"], strict=True):
            if y is not None and x > 0:
                trace["x"].append(x)
                trace["y"].append(y)
        trace["x"].append(None)  # a gap between runs
        trace["y"].append(None)


TRACE_KEYS = (
    "band",
    "model",
    "curve",
    "trail",
    "front",
    "trials",
    "pruned",
    "stopped",
    "failed",
    "running",
    "newest",
    "selected",
)


def _empty() -> dict:
    return {"x": [], "y": [], "customdata": [], "hovertext": []}


def _add(trace: dict, x: float, y: float, run_id: str, text: str) -> None:
    trace["x"].append(x)
    trace["y"].append(y)
    trace["customdata"].append(run_id)
    trace["hovertext"].append(text)

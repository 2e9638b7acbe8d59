"""What a sweep view draws, read from the run store a little at a time.

:class:`SweepState` polls one sweep: new observations (``since_seq``), its runs' records
(status, summary, parameters) and the metric rows of runs still running or not yet read to
their end (``curves(since_seq=...)``). :meth:`SweepState.points` turns that into the data
of each trace of the score-vs-cost figure, against either cost axis: observations carry the
definition's cost, and the other axis is read off the run's own metric rows (a curve point
is one of those rows; a trial's end is its summary).
"""

from __future__ import annotations

import html
import math
import time

import numpy as np

from workbench import metrics as M
from workbench.store import FINAL_STATUSES, RunStore
from workbench.sweep.pareto import pareto_mask

RUNS_EVERY = 1.0  # seconds between reads of the runs table when nothing else says to


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
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    return str(value)


def format_params(params: dict) -> str:
    return "<br>".join(f"{html.escape(k)} = {format_value(v)}" for k, v in params.items())


class SweepState:
    """A sweep's observations, runs and curves as last read from ``store``."""

    def __init__(self, store: RunStore, sweep_id: str, definition):
        self.store, self.id, self.d = store, sweep_id, definition
        self.obs: list[dict] = []  # every observation, in order
        self.last_seq = -1
        self.runs: dict[str, dict] = {}  # run id -> record, in start order
        self.curves: dict[str, dict[str, list]] = {}  # run id -> cost axes and objective
        self.complete: set[str] = set()  # runs whose rows are all read
        self.sweep_status = "running"
        self._runs_read = -math.inf
        self._hover: dict = {}

    # -- reading --
    def poll(self, force_runs: bool = False) -> tuple[list[dict], bool, bool]:
        """Read what is new: (new observations, whether runs changed, whether curves did)."""
        new = self.store.observations(self.id, since_seq=self.last_seq)
        records = new.to_dict("records") if not new.empty else []
        for r in records:
            r["score"], r["cost"] = _num(r["score"]), _num(r["cost"])
            r["error"] = _text(r["error"])
        if records:
            self.obs.extend(records)
            self.last_seq = int(records[-1]["seq"])
        stale = time.monotonic() - self._runs_read >= RUNS_EVERY
        runs_changed = self._read_runs() if records or force_runs or stale else False
        return records, runs_changed, self._read_curves()

    def _read_runs(self) -> bool:
        self._runs_read = time.monotonic()
        self.sweep_status = self.store.sweep(self.id)["status"]
        table = self.store.runs(sweep=self.id)
        changed = False
        for row in table.to_dict("records"):
            params = {}
            for key in self.d.space:
                value = row.get(key, row.get(f"config.{key}"))
                params[key] = value.item() if isinstance(value, np.generic) else value
            error = _text(row.get("error"))
            record = {
                "name": row["name"],
                "status": row["status"],
                "reason": _text(row.get("reason")),
                "error": error.strip().splitlines()[-1] if error else None,
                "ended_at": _num(row.get("ended_at")),
                "score": _num(row.get(self.d.metric)),
                M.AGENT_STEPS: _num(row.get(M.AGENT_STEPS)),
                M.WALL_TIME: _num(row.get(M.WALL_TIME)),
                "params": params,
            }
            if self.runs.get(row["id"]) != record:
                self.runs[row["id"]] = record
                changed = True
        return changed

    def _read_curves(self) -> bool:
        want = [r for r in self.runs if r not in self.complete]
        if not want:
            return False
        ended = {r for r in want if self.runs[r]["status"] in FINAL_STATUSES}
        since = {r: self.curves[r]["seq"] for r in want if r in self.curves}
        rows = self.store.curves(want, since_seq=since)
        self.complete |= ended  # every row was written before the run was marked ended
        if rows.empty:
            return False
        for row in rows.to_dict("records"):
            curve = self.curves.setdefault(
                row["run_id"], {"seq": -1, M.AGENT_STEPS: [], M.WALL_TIME: [], "score": []}
            )
            curve["seq"] = int(row["seq"])
            curve[M.AGENT_STEPS].append(float(row[M.AGENT_STEPS]))
            curve[M.WALL_TIME].append(float(row[M.WALL_TIME]))
            curve["score"].append(_num(M.objective(row, self.d.metric)))
        return True

    @property
    def done(self) -> bool:
        """The sweep has ended and everything it wrote has been read."""
        return self.sweep_status != "running" and all(r in self.complete for r in self.runs)

    def successes(self) -> list[dict]:
        """Successful observations as flat rows: the parameters, ``score`` and ``cost``."""
        return [
            {**o["params"], "score": o["score"], "cost": o["cost"]}
            for o in self.obs
            if not o["failed"] and o["score"] is not None
        ]

    # -- what to draw --
    def _finals(self) -> dict[int, str]:
        """Seq of each finished or failed trial's last observation (its end result)."""
        last: dict[str, int] = {}
        for o in self.obs:
            last[o["run_id"]] = o["seq"]
        return {
            seq: run_id
            for run_id, seq in last.items()
            if self.runs.get(run_id, {}).get("status") in ("finished", "failed")
        }

    def _x(self, o: dict, axis: str, final: bool) -> float | None:
        """An observation's cost on ``axis``: its own (the definition's), else the run's."""
        if axis == self.d.cost:
            return o["cost"]
        if final:
            return self.runs[o["run_id"]][axis]
        curve = self.curves.get(o["run_id"])
        if not curve or o["cost"] is None:
            return None
        return float(np.interp(o["cost"], curve[self.d.cost], curve[axis]))

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

    def _run_text(self, run_id: str) -> str:
        r = self.runs[run_id]

        def make():
            lines = [f"<b>{html.escape(r['name'])}</b> ({r['status']})"]
            why = r["reason"] or r["error"]
            if why:
                lines.append(html.escape(why[:120]))
            return "<br>".join([*lines, format_params(r["params"])])

        return self.hover(("run", run_id, r["status"], r["reason"], r["error"]), make)

    def _obs_text(self, o: dict) -> str:
        def make():
            name = self.runs.get(o["run_id"], {}).get("name", o["run_id"])
            return f"<b>{html.escape(str(name))}</b> curve point<br>" + format_params(o["params"])

        return self.hover(("obs", o["seq"]), make)

    def points(self, axis: str, selected: str | None = None) -> dict[str, dict]:
        """Data of each trace (x, y, customdata = run ids, hovertext) against ``axis``."""
        out = {k: _empty() for k in TRACE_KEYS}
        finals = self._finals()
        for o in self.obs:
            if o["run_id"] not in self.runs:
                continue
            final = o["seq"] in finals
            if o["failed"] or o["score"] is None:
                continue  # failed trials are drawn from their run record below
            x = self._x(o, axis, final)
            if x is None or x <= 0:
                continue
            text = self._run_text(o["run_id"]) if final else self._obs_text(o)
            _add(out["trials" if final else "curve"], x, o["score"], o["run_id"], text)
        ok_x = out["trials"]["x"] + out["curve"]["x"]
        ok_y = out["trials"]["y"] + out["curve"]["y"]
        ends: dict[str, tuple] = {}
        for run_id, r in self.runs.items():
            status = r["status"]
            if status == "finished":
                continue
            point = self._last_point(run_id, axis)
            if status == "running":
                if point is not None:
                    _add(out["running"], *point, run_id, self._run_text(run_id))
                    self._trail(out["trail"], run_id, axis)
                continue
            if status in ("pruned", "stopped") and point is not None:
                _add(out[status], *point, run_id, self._run_text(run_id))
                ends[run_id] = point
            elif status == "failed":
                x = r[axis] if r[axis] and r[axis] > 0 else (min(ok_x) if ok_x else 1.0)
                y = min(ok_y) if ok_y else 0.0  # no score: drawn on the floor
                _add(out["failed"], x, y, run_id, self._run_text(run_id))
                ends[run_id] = (x, y)
        trials = out["trials"]
        for x, y, run_id in zip(trials["x"], trials["y"], trials["customdata"], strict=True):
            ends[run_id] = (x, y)
        if ok_x:
            mask = pareto_mask(ok_x, ok_y)
            ids = trials["customdata"] + out["curve"]["customdata"]
            texts = trials["hovertext"] + out["curve"]["hovertext"]
            front = sorted(
                (ok_x[i], ok_y[i], ids[i], texts[i]) for i in np.flatnonzero(mask).tolist()
            )
            for x, y, run_id, text in front:
                _add(out["front"], x, y, run_id, text)
        ended = [(r["ended_at"], i) for i, r in self.runs.items() if r["ended_at"] and i in ends]
        if ended:
            newest = max(ended)[1]
            _add(out["newest"], *ends[newest], newest, self._run_text(newest))
        if selected is not None and selected in self.runs:
            point = ends.get(selected) or self._last_point(selected, axis)
            if point is not None:
                _add(out["selected"], *point, selected, self._run_text(selected))
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

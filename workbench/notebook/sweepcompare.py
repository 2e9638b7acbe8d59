"""``CompareView``: several sweeps on shared axes, live (``SweepView([id_a, id_b])``).

One score-vs-cost figure holds each sweep's observed front (a step line: the best config,
seeds averaged, at each cost) and its finished trials as points, one colour per sweep. A
second draws each sweep's hypervolume against wall-clock seconds since it started, all over
one reference point, named in its title. A table under them: per sweep, its trials, best
score, final hypervolume and time spent. The rules (which trials count, the reference
point, hypervolume) are ``workbench.sweep.progress``'s, as ``sweep compare``'s are.

:class:`Comparison` reads the store and turns it into plain lists, with no widget;
:class:`CompareView` polls it on a background thread while any sweep runs and redraws at
most ``max_rate`` times a second, sending only the traces whose data changed.
"""

from __future__ import annotations

import html
import math
import threading
import time

import ipywidgets as W
import plotly.graph_objects as go

from workbench.notebook.curves import FitWidth
from workbench.notebook.sweepcharts import COST_LABELS, cost_title, full_width, log_ticks
from workbench.notebook.sweepdata import format_params
from workbench.store import RunStore
from workbench.sweep.pareto import pareto_mask
from workbench.sweep.progress import (
    check_comparable,
    finished,
    hypervolume_over_time,
    reference_point,
    trial_keys,
)
from workbench.sweep.steering import group_configs

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
RESULTS_EVERY = 2.0  # seconds between reads of a running sweep's trials when nothing came in


def short_id(sweep_id: str) -> str:
    """The random tail of a sweep id (``sweep-20250101-120000-3fa9c1`` -> ``3fa9c1``)."""
    return sweep_id.rsplit("-", 1)[-1]


def duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


class _Sweep:
    """One compared sweep as last read from the store."""

    def __init__(self, handle, colour: str):
        self.handle, self.colour = handle, colour
        self.id, self.d, self.store = handle.id, handle.definition, handle.store
        self.label = f"{self.d.name} ({short_id(self.id)})"
        record = self.store.sweep(self.id)
        self.created_at = float(record["created_at"])
        self.status, self.ended_at = record["status"], record["ended_at"]
        self.spent_s = float(record.get("spent_s") or 0.0)
        self.last_seq = -1
        self.observed_at: dict[str, float] = {}  # run id -> when its last result came in
        self.results = handle.results()
        self.read_at = time.monotonic()
        self.final = False  # ended, and everything it wrote has been read

    def poll(self) -> bool:
        """Read what is new; whether anything drawn may have changed."""
        record = self.store.sweep(self.id)
        new = self.store.observations(self.id, since_seq=self.last_seq)
        for o in new.to_dict("records"):
            if isinstance(o["run_id"], str):
                self.observed_at[o["run_id"]] = float(o["at"])
            self.last_seq = int(o["seq"])
        status = record["status"]
        stale = time.monotonic() - self.read_at >= RESULTS_EVERY
        changed = len(new) > 0 or status != self.status or stale
        if changed:
            self.results = self.handle.results()
            self.read_at = time.monotonic()
        self.status, self.ended_at = status, record["ended_at"]
        self.spent_s = float(record.get("spent_s") or 0.0)
        self.final = status != "running"  # every trial's result was written before the end
        return changed

    def elapsed(self, now: float) -> float:
        end = self.ended_at if self.ended_at is not None else now
        return max(0.0, float(end) - self.created_at)

    def times(self, done) -> list[float]:
        """Seconds from the sweep's start to when each finished trial's result came in."""
        out = []
        for run_id in done["run_id"]:
            if run_id not in self.observed_at:  # recorded with no observation: its run's end
                ended = self.store.run(run_id)["ended_at"]
                self.observed_at[run_id] = float(ended if ended is not None else time.time())
            out.append(self.observed_at[run_id] - self.created_at)
        return out


class Comparison:
    """What the compare view draws, read from the store: plain lists, no widgets.

    ``sweeps``: sweep ids (in ``store``) or ``SweepHandle``s; they must share metric and
    cost (``ValueError`` otherwise, naming both)."""

    def __init__(self, sweeps, store=None):
        from workbench.sweep.driver import SweepHandle, recorded

        if isinstance(sweeps, str | SweepHandle) or not isinstance(sweeps, list | tuple):
            raise TypeError(
                f"compare takes a list of sweep ids or handles, got {sweeps!r}; "
                "for one sweep use SweepView(sweep_id)"
            )
        if not sweeps:
            raise ValueError("compare takes at least one sweep id, got an empty list")
        for s in sweeps:
            if not isinstance(s, str | SweepHandle):
                raise TypeError(f"a sweep is a sweep id or a SweepHandle, got {s!r}")
        ids = [s.id if isinstance(s, SweepHandle) else s for s in sweeps]
        if len(set(ids)) < len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"each sweep once, please: {', '.join(twice)} given twice")
        where = store if isinstance(store, RunStore) else None
        if where is None and (store is not None or any(isinstance(s, str) for s in sweeps)):
            where = RunStore(store, create=False)  # None: the default store
        handles = []
        for s in sweeps:
            if isinstance(s, SweepHandle):
                handles.append(s)
                continue
            try:
                handles.append(recorded(s, where, replay=False))
            except KeyError:
                known = where.sweeps()
                pairs = zip(known["id"], known["name"], strict=True)
                names = ", ".join(f"{i} ({n})" for i, n in pairs)
                raise ValueError(
                    f"no sweep {s!r} in {where.path}; the sweeps there: {names or 'none'}"
                ) from None
        check_comparable({h.id: h.definition for h in handles})
        self.sweeps = [_Sweep(h, PALETTE[i % len(PALETTE)]) for i, h in enumerate(handles)]
        self.metric, self.cost = handles[0].definition.metric, handles[0].definition.cost

    def poll(self) -> bool:
        """Read what is new in the sweeps still running; whether anything changed."""
        changed = False
        for s in self.sweeps:
            if not s.final:
                changed |= s.poll()
        return changed

    @property
    def done(self) -> bool:
        return all(s.final for s in self.sweeps)

    def reference(self) -> tuple[float, float] | None:
        """The reference point every sweep's hypervolume is measured over (None before a
        trial finished)."""
        done = [finished(s.results) for s in self.sweeps]
        cost = [float(c) for d in done for c in d["cost"]]
        score = [float(v) for d in done for v in d["score"]]
        return reference_point(cost, score, self.metric) if cost else None

    def data(self, now: float | None = None) -> dict:
        """Every trace's data and the table's rows, as plain lists, numbers and strings:
        ``sweeps``: per sweep ``id``, ``label``, ``colour``, ``front``, ``trials`` and
        ``hypervolume`` (each a dict of x, y, text lists) and ``row`` (the table's cells);
        ``reference``: (cost, score) or None; ``cost_range``: (lowest, highest) or None."""
        now = time.time() if now is None else now
        ref = self.reference()
        done = [finished(s.results) for s in self.sweeps]
        costs = [float(c) for d in done for c in d["cost"]]
        right = max(costs) if costs else None
        out = []
        for s, d in zip(self.sweeps, done, strict=True):
            out.append(self._sweep_data(s, d, ref, right, now))
        return {
            "sweeps": out,
            "reference": ref,
            "cost_range": (min(costs), max(costs)) if costs else None,
        }

    def _sweep_data(self, s: _Sweep, done, ref, right, now: float) -> dict:
        trials = {"x": [], "y": [], "text": []}
        for row in done.to_dict("records"):
            trials["x"].append(float(row["cost"]))
            trials["y"].append(float(row["score"]))
            params = format_params({k: _plain(row[k]) for k in s.d.space})
            trials["text"].append(f"<b>{html.escape(str(row['name']))}</b><br>{params}")
        front = {"x": [], "y": [], "text": []}
        configs = group_configs(done, s.d.space)
        if len(configs):
            on = configs[pareto_mask(configs["cost"], configs["score"])].sort_values("cost")
            for row in on.to_dict("records"):
                front["x"].append(float(row["cost"]))
                front["y"].append(float(row["score"]))
                seeds = int(row["seeds"])
                front["text"].append(f"mean of {seeds} seeds" if seeds > 1 else "one seed")
            if right is not None and front["x"][-1] < right:  # on to the dearest trial
                front["x"].append(right)
                front["y"].append(front["y"][-1])
                front["text"].append("no better result at a higher cost")
        hv = {"x": [0.0], "y": [0.0], "text": ["start"], "size": [0]}  # markers: trials only
        final = 0.0
        if ref is not None and len(done):
            keys = trial_keys(done, s.d.space)
            t, v = hypervolume_over_time(s.times(done), keys, done["cost"], done["score"], ref)
            hv["x"] += t
            hv["y"] += v
            hv["text"] += ["a trial came in"] * len(t)
            hv["size"] += [7] * len(t)
            final = v[-1]
        elapsed = s.elapsed(now)
        if elapsed > hv["x"][-1]:  # flat until now, or until the sweep ended
            hv["x"].append(elapsed)
            hv["y"].append(hv["y"][-1])
            hv["text"].append("now" if s.status == "running" else f"sweep {s.status}")
            hv["size"].append(0)
        return {
            "id": s.id,
            "label": s.label,
            "colour": s.colour,
            "front": front,
            "trials": trials,
            "hypervolume": hv,
            "row": self._row(s, done, final, now),
        }

    def _row(self, s: _Sweep, done, final: float, now: float) -> dict:
        from workbench.sweep.handle import best_trial

        best = best_trial(s.results, None, s.d.space) if len(done) else None
        # the driver saves its spent time now and then: a running sweep's would lag
        spent = s.spent_s if s.status != "running" and s.spent_s else s.elapsed(now)
        return {
            "sweep": s.label,
            "env": s.d.env,
            "status": s.status,
            "trials": f"{len(done)} finished of {len(s.results)}",
            "best": (
                f"{best['score_mean']:.4g} ({best['seeds']} seed{'s' if best['seeds'] > 1 else ''})"
                if best
                else "none yet"
            ),
            "hypervolume": f"{final:.4g}",
            "time spent": duration(spent),
        }


def _plain(value):
    """A parameter as a Python number or string (pandas hands numpy scalars)."""
    return value.item() if hasattr(value, "item") else value


def _front_figure(comparison: Comparison, height: int):
    fig = go.Figure(
        layout=go.Layout(
            height=height,
            template="plotly_white",
            title=dict(
                text=f"{len(comparison.sweeps)} sweeps compared: {comparison.metric} against "
                f"{COST_LABELS.get(comparison.cost, comparison.cost)}",
                x=0.01,
                xanchor="left",
            ),
            margin=dict(l=70, r=20, t=50, b=60),
            xaxis=dict(type="log", title=cost_title(comparison.cost)),
            yaxis=dict(title=f"{comparison.metric} (higher is better)"),
            legend=dict(x=1.02, y=1, xanchor="left", font=dict(size=12)),
            hovermode="closest",
            hoverlabel=dict(align="left"),
        )
    )
    cost = COST_LABELS.get(comparison.cost, comparison.cost)
    for s in comparison.sweeps:
        fig.add_scatter(
            x=[],
            y=[],
            meta=f"front:{s.id}",
            name=s.label,
            legendgroup=s.id,
            mode="lines",
            line=dict(shape="hv", color=s.colour, width=2.5),
            hovertemplate=f"{html.escape(s.label)}: best {comparison.metric} %{{y:.4g}} at "
            f"{cost} %{{x:.4g}}<br>%{{hovertext}}<extra></extra>",
        )
        fig.add_scatter(
            x=[],
            y=[],
            meta=f"trials:{s.id}",
            name=f"{s.label}: trials",
            legendgroup=s.id,
            showlegend=False,
            mode="markers",
            marker=dict(size=9, color=s.colour, opacity=0.75, line=dict(width=1, color="white")),
            hovertemplate=f"{comparison.metric} %{{y:.4g}}<br>{cost} %{{x:.4g}}<br>"
            "%{hovertext}<extra></extra>",
        )
    return full_width(fig)


def _hypervolume_figure(comparison: Comparison, height: int):
    fig = go.Figure(
        layout=go.Layout(
            height=height,
            template="plotly_white",
            title=dict(text="Hypervolume of each observed front", x=0.01, xanchor="left"),
            margin=dict(l=70, r=20, t=70, b=60),
            xaxis=dict(title="wall-clock seconds since the sweep started", rangemode="tozero"),
            yaxis=dict(title=f"hypervolume in (log cost, {comparison.metric})", rangemode="tozero"),
            legend=dict(x=1.02, y=1, xanchor="left", font=dict(size=12)),
            hovermode="closest",
        )
    )
    for s in comparison.sweeps:
        fig.add_scatter(
            x=[],
            y=[],
            meta=f"hypervolume:{s.id}",
            name=s.label,
            mode="lines+markers",
            line=dict(shape="hv", color=s.colour, width=2.5),
            marker=dict(color=s.colour),
            hovertemplate=f"{html.escape(s.label)}: hypervolume %{{y:.4g}} at %{{x:.0f}} s"
            "<br>%{hovertext}<extra></extra>",
        )
    return full_width(fig)


def reference_title(comparison: Comparison, ref: tuple[float, float] | None) -> str:
    if ref is None:
        return "Hypervolume of each observed front: waiting for a finished trial"
    cost = COST_LABELS.get(comparison.cost, comparison.cost)
    return (
        "Hypervolume of each observed front, one reference point for all sweeps<br>"
        f"<sup>area dominated in (log {cost}, {comparison.metric}) over the reference point "
        f"({cost} {ref[0]:.4g}, {comparison.metric} {ref[1]:.4g})</sup>"
    )


TABLE_STYLE = "border-collapse:collapse;font-size:13px;margin-top:6px"
CELL = "padding:3px 12px;border-bottom:1px solid #ddd;text-align:left"


def table_html(data: dict) -> str:
    rows = [s["row"] for s in data["sweeps"]]
    if not rows:
        return ""
    head = "".join(f"<th style='{CELL}'>{html.escape(k)}</th>" for k in rows[0])
    body = []
    for s, row in zip(data["sweeps"], rows, strict=True):
        swatch = f"<span style='color:{s['colour']};font-size:16px'>&#9632;</span> "
        cells = [html.escape(str(v)) for v in row.values()]
        cells[0] = swatch + cells[0]  # the sweep's name, in its colour
        body.append("<tr>" + "".join(f"<td style='{CELL}'>{c}</td>" for c in cells) + "</tr>")
    return f"<table style='{TABLE_STYLE}'><tr>{head}</tr>{''.join(body)}</table>"


class CompareView:
    """Several sweeps' fronts on shared axes and their hypervolume over time, live while
    any of them runs. ``sweeps``: sweep ids in ``store`` or ``SweepHandle``s."""

    def __init__(
        self,
        sweeps,
        store=None,
        poll_interval: float = 0.5,
        max_rate: float = 2.0,
        height: int = 480,
        autostart: bool = True,
    ):
        self.comparison = Comparison(sweeps, store)
        self.poll_interval, self.max_rate = poll_interval, max_rate
        self.status = W.HTML()
        self.fig = _front_figure(self.comparison, height)
        self.hv_fig = _hypervolume_figure(self.comparison, max(320, height - 120))
        self.table = W.HTML()
        self.widget = W.VBox(
            [self.status, self.fig, self.hv_fig, self.table, FitWidth()],
            layout=W.Layout(width="100%"),
        )
        self._traces = {t.meta: t for fig in (self.fig, self.hv_fig) for t in fig.data}
        self._sent: dict[str, dict] = {}
        self.draws: list[float] = []  # when each redraw happened (time.monotonic)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_draw = -math.inf
        self._dirty = True
        self.refresh(force=True)
        if autostart:
            self.start()

    @property
    def sweep_ids(self) -> list[str]:
        return [s.id for s in self.comparison.sweeps]

    def start(self) -> None:
        """Poll the store on a background thread until every sweep has ended."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._closed.clear()
        self._thread = threading.Thread(target=self._poll_loop, daemon=True, name="wb-compare")
        self._thread.start()

    def close(self) -> None:
        """Stop polling."""
        self._closed.set()

    @property
    def polling(self) -> bool:
        """Whether the background thread still polls the store."""
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the polling thread to end (every sweep ended, or ``close``)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _poll_loop(self) -> None:
        while not self._closed.is_set():
            try:
                self.refresh()
            except Exception as e:  # a store busy for a moment is no reason to stop watching
                self.status.value = (
                    "<span style='color:#b00020'>could not read the store (trying again): "
                    f"{html.escape(str(e))}</span>"
                )
            if self.comparison.done and not self._dirty:
                return
            self._closed.wait(self.poll_interval)

    def refresh(self, force: bool = False) -> None:
        """Read what is new and redraw (``force``: now, however recently it last drew)."""
        with self._lock:
            self._dirty |= self.comparison.poll() or force
            running = not self.comparison.done  # the hypervolume lines run on to now
            due = time.monotonic() - self._last_draw >= 1 / self.max_rate
            if (self._dirty or running) and (force or due):
                self._draw()

    def _draw(self) -> None:
        data = self.comparison.data()
        changed = {}
        for s in data["sweeps"]:
            for kind in ("front", "trials", "hypervolume"):
                key = f"{kind}:{s['id']}"
                if self._sent.get(key) != s[kind]:
                    changed[key] = s[kind]
        with self.fig.batch_update(), self.hv_fig.batch_update():
            for key, v in changed.items():
                marker = {"marker": {"size": v["size"]}} if "size" in v else {}
                self._traces[key].update(x=v["x"], y=v["y"], hovertext=v["text"], **marker)
                self._sent[key] = v
            if data["cost_range"] is not None:
                ticks, labels = log_ticks(*data["cost_range"])
                self.fig.layout.xaxis.update(tickvals=[10**t for t in ticks], ticktext=labels)
            self.hv_fig.layout.title.text = reference_title(self.comparison, data["reference"])
        self.table.value = table_html(data)
        self._update_status()
        self._dirty, self._last_draw = False, time.monotonic()
        self.draws.append(self._last_draw)

    def _update_status(self) -> None:
        sweeps = self.comparison.sweeps
        running = sum(s.status == "running" for s in sweeps)
        state = f"{running} of {len(sweeps)} running" if running else "all ended"
        path = sweeps[0].store.path
        self.status.value = (
            f"<div style='line-height:1.5'><b>{len(sweeps)} sweeps</b> &middot; {state} "
            f"&middot; store <code>{html.escape(str(path))}</code></div>"
        )

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

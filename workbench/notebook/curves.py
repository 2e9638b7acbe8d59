"""Live learning curves: a plotly FigureWidget that runs append points to as they train.

Rows arrive on the training threads (``launch(on_log=curves.on_log(name))``) or from the
store (``curves.add_run(name, store.curve(run_id))``). Redraws are throttled to
``max_rate`` per second; each only replaces the data of the traces that changed.

Runs given the same ``group`` (runs that differ only by seed: :func:`seed_groups`) are
drawn as one mean curve with a min-max band, as W&B draws its groups; the "group seeds"
toggle draws them one by one again.
"""

from __future__ import annotations

import html
import json
import threading
import time
from datetime import datetime

import anywidget
import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from workbench import metrics as M
from workbench.store import run_tag

X_AXES = {
    "agent steps": M.AGENT_STEPS,
    "wall-clock": "clock",
    "relative time (s)": M.WALL_TIME,
}
DEFAULT_METRICS = M.CURVE_METRICS
DEFAULT_SMOOTHING = 0.6  # TensorBoard's default: hundreds of noisy points read as a trend
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
NOT_A_SETTING = ("seed", "name")  # config fields that runs of one group may differ by


def run_label(name: str, run_id: str) -> str:
    """A run's name in legends: its human name and its id's tag, which ``eval``, ``--resume``
    and ``RunStore.resolve`` accept (``breakout-1125-013432 (ed3f25)``)."""
    return f"{name} ({run_tag(run_id)})"


def seed_groups(configs: dict[str, dict], names: dict[str, str] | None = None) -> dict:
    """``{run_id: group label}`` for runs whose configs differ only by seed (and name).

    ``configs``: run id -> its config dict (``store.run(id)["config"]``); ``names``: run id
    -> display name. The label is the members' common name prefix (or the first name) with
    a suffix when two groups would share it. Runs alone in their group are left out.
    """
    names = names or {}
    keys: dict[str, list[str]] = {}
    for run_id, config in configs.items():
        setting = {k: v for k, v in config.items() if k not in NOT_A_SETTING}
        keys.setdefault(json.dumps(setting, sort_keys=True, default=str), []).append(run_id)
    out, used = {}, set()
    for members in keys.values():
        if len(members) < 2:
            continue
        labels = [names.get(m, m) for m in members]
        label = _common_prefix(labels)
        if len(set(labels)) > 1:  # "ppo-s0", "ppo-s1" -> "ppo": cut back to a separator
            cut = max(label.rfind(c) for c in " -_(")
            label = label[:cut] if label[-1:].isalnum() and cut > 0 else label
        label = label.rstrip(" -_(") or labels[0]
        base, k = label, 2
        while label in used:
            label, k = f"{base} #{k}", k + 1
        used.add(label)
        out.update(dict.fromkeys(members, label))
    return out


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average (TensorBoard-style, debiased); NaN gaps are skipped."""
    if weight <= 0 or len(values) == 0:
        return values
    out = np.empty_like(values, dtype=float)
    acc, norm = 0.0, 0.0
    for i, v in enumerate(values):
        if np.isfinite(v):
            acc = weight * acc + (1 - weight) * v
            norm = weight * norm + (1 - weight)
        out[i] = acc / norm if norm > 0 else np.nan
    return out


class LiveCurves:
    """Overlaid curves of several runs with metric, x-axis and smoothing controls."""

    def __init__(
        self,
        metric: str = M.env(M.SCORE),
        x: str = "agent steps",
        smoothing: float = DEFAULT_SMOOTHING,
        max_rate: float = 4.0,
        height: int = 380,
        group_seeds: bool = True,
        store=None,
    ):
        self.rows: dict[str, list[dict]] = {}
        self.groups: dict[str, str] = {}  # run name -> its seed group
        self.starts: dict[str, float] = {}
        self.max_rate = max_rate
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._last_draw = 0.0
        self._timer: threading.Timer | None = None
        self.draws = 0
        self.fig = go.FigureWidget(
            layout=go.Layout(
                height=height,
                margin=dict(l=60, r=20, t=30, b=50),
                template="plotly_white",
                legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
                showlegend=True,
                xaxis_title=x,
                yaxis_title=metric,
                autosize=True,
            )
        )
        self.fig._config = {"responsive": True}  # follow the output's width
        self._keeping_metric = False
        self.metric = W.Dropdown(
            options=[*DEFAULT_METRICS, *([metric] if metric not in DEFAULT_METRICS else [])],
            value=metric,
            description="metric",
            layout=W.Layout(width="260px"),
        )
        self.x_axis = W.ToggleButtons(
            options=list(X_AXES), value=x, style={"button_width": "130px"}
        )
        self.smoothing = W.FloatSlider(
            value=smoothing,
            min=0.0,
            max=0.99,
            step=0.01,
            description="smoothing",
            readout_format=".2f",
        )
        self.group_toggle = W.Checkbox(
            value=group_seeds,
            description="group seeds (mean, min-max band)",
            indent=False,
            layout=W.Layout(width="260px"),
        )
        self.panel = W.HTML()
        self.source = W.HTML()
        self.show_store(store)
        for control in (self.x_axis, self.smoothing, self.group_toggle):
            control.observe(lambda _: self.redraw(), names="value")
        self.metric.observe(lambda _: self._keeping_metric or self.redraw(), names="value")
        self.widget = W.VBox(
            [
                W.HBox([self.metric, self.smoothing, self.group_toggle]),
                self.x_axis,
                self.fig,
                self.panel,
                self.source,
                FitWidth(),
            ],
            layout=W.Layout(width="100%"),
        )

    def show_store(self, store) -> None:
        """Say which run store the curves come from (``store``: a RunStore or a path; None:
        rows fed by callbacks only, nothing shown)."""
        path = getattr(store, "path", store)
        self.source.value = (
            f"<small>rows from the store <code>{html.escape(str(path))}</code></small>"
            if path
            else ""
        )

    # -- feeding rows --
    def on_log(self, name: str, group: str | None = None):
        """A callback for ``launch(on_log=...)`` that adds each row to the curve ``name``."""
        with self._lock:
            self.rows.setdefault(name, [])
            self.starts.setdefault(name, time.time())
            if group is not None:
                self.groups[name] = group
        return lambda run_id, row: self.append(name, row)

    def add_run(
        self, name: str, rows, started_at: float | None = None, group: str | None = None
    ) -> None:
        """Show a recorded run: ``rows`` is a DataFrame (``store.curve``) or list of dicts;
        on the wall-clock axis it starts at ``started_at`` (default: the time ``store.curve``
        records with its rows, else now).
        Runs with the same ``group`` are drawn as one mean curve with a min-max band."""
        records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
        if started_at is None:  # a recorded curve (``run.curve()``) knows when its run began
            started_at = getattr(rows, "attrs", {}).get("started_at")
        with self._lock:
            self.rows[name] = records
            self.starts[name] = started_at if started_at is not None else time.time()
            if group is not None:
                self.groups[name] = group
            self._dirty.add(name)
        self._refresh_metrics(records[-1] if records else {})
        self.flush()

    def append(self, name: str, row: dict) -> None:
        with self._lock:
            self.rows.setdefault(name, []).append(row)
            if name not in self.starts:
                self.starts[name] = time.time() - row.get(M.WALL_TIME, 0.0)
            self._dirty.add(name)
        if len(self.rows[name]) == 1:
            self._refresh_metrics(row)
        now = time.monotonic()
        if now - self._last_draw >= 1.0 / self.max_rate:
            self.flush()
        elif self._timer is None:
            # Draw the trailing rows too, once the throttle window has passed.
            self._timer = threading.Timer(1.0 / self.max_rate, self.flush)
            self._timer.daemon = True
            self._timer.start()

    def remove_run(self, name: str) -> None:
        with self._lock:
            self.rows.pop(name, None)
            self.groups.pop(name, None)
        self.redraw()

    # -- drawing --
    def _raw(self, name: str):
        """Numeric x (steps or seconds since the run's start) and smoothed y, finite only."""
        rows = list(self.rows[name])  # one snapshot: a run's thread may append meanwhile
        metric, xkey = self.metric.value, X_AXES[self.x_axis.value]
        y = np.array(
            [r.get(metric, np.nan) if r.get(metric) is not None else np.nan for r in rows],
            dtype=float,
        )
        key = M.WALL_TIME if xkey == "clock" else xkey
        x = [r[key] for r in rows]
        keep = np.isfinite(y)
        y = smooth(y, self.smoothing.value)
        return [v for v, k in zip(x, keep, strict=True) if k], y[keep]

    def _series(self, name: str):
        x, y = self._raw(name)
        if X_AXES[self.x_axis.value] == "clock":
            start = self.starts[name]
            x = [datetime.fromtimestamp(start + v) for v in x]
        return x, y

    def _group_series(self, members: list[str]):
        """Mean, min and max of the members' curves on the union of their x values (each
        member counts only inside its own x range). Wall-clock: from the earliest start."""
        series = [self._raw(n) for n in members]
        series = [(np.asarray(x, dtype=float), y) for x, y in series if len(x)]
        if not series:
            return [], np.array([]), np.array([]), np.array([])
        grid = np.unique(np.concatenate([x for x, _ in series]))
        stack = np.full((len(series), len(grid)), np.nan)
        for i, (x, y) in enumerate(series):
            order = np.argsort(x, kind="stable")
            x, y = x[order], y[order]
            inside = (grid >= x[0]) & (grid <= x[-1])
            stack[i, inside] = np.interp(grid[inside], x, y)
        mean, lo, hi = np.nanmean(stack, 0), np.nanmin(stack, 0), np.nanmax(stack, 0)
        xs = list(grid)
        if X_AXES[self.x_axis.value] == "clock":
            start = min(self.starts[n] for n in members)
            xs = [datetime.fromtimestamp(start + v) for v in grid]
        return xs, mean, lo, hi

    def _active_groups(self) -> dict[str, list[str]]:
        """Groups with two or more runs shown, while grouping is on (hold the lock)."""
        if not self.group_toggle.value:
            return {}
        members: dict[str, list[str]] = {}
        for name in self.rows:
            if name in self.groups:
                members.setdefault(self.groups[name], []).append(name)
        return {g: m for g, m in members.items() if len(m) > 1}

    def flush(self) -> None:
        with self._lock:
            self._timer = None
            dirty, self._dirty = self._dirty, set()
            names = list(self.rows)
            groups = self._active_groups()
        if not dirty:
            return
        self._last_draw = time.monotonic()
        grouped = {n for members in groups.values() for n in members}
        if any(_key(t) in grouped for t in self.fig.data):  # runs that joined a group
            self.fig.data = [t for t in self.fig.data if _key(t) not in grouped]
        traces = {_key(t): t for t in self.fig.data}
        with self.fig.batch_update():
            for name in names:
                if name not in dirty or name in grouped:
                    continue
                x, y = self._series(name)
                mode = "lines" if len(x) > 1 else "markers"  # one point: a dot, not nothing
                if name in traces:
                    traces[name].update(x=x, y=y, mode=mode)
                else:
                    self.fig.add_scatter(x=x, y=y, name=name, mode=mode, line=dict(width=2))
            for i, (group, members) in enumerate(sorted(groups.items())):
                if dirty.isdisjoint(members):
                    continue
                self._draw_group(group, members, traces, PALETTE[i % len(PALETTE)])
            self.fig.layout.xaxis.title = self.x_axis.value
            self.fig.layout.yaxis.title = self.metric.value
        self.draws += 1
        self._update_panel()

    def _draw_group(self, group: str, members: list[str], traces: dict, color: str) -> None:
        x, mean, lo, hi = self._group_series(members)
        band = dict(x=x + x[::-1], y=np.concatenate([hi, lo[::-1]]))
        line = dict(x=x, y=mean, name=f"{group} (mean of {len(members)})")
        if "band:" + group in traces:
            traces["band:" + group].update(band)
            traces["mean:" + group].update(line)
            return
        self.fig.add_scatter(
            **band,
            name=f"{group} (min-max)",
            meta="band:" + group,
            fill="toself",
            fillcolor=_rgba(color, 0.2),
            line=dict(width=0),
            hoverinfo="skip",
            showlegend=False,
            legendgroup=group,
        )
        self.fig.add_scatter(
            **line, meta="mean:" + group, mode="lines", line=dict(color=color), legendgroup=group
        )

    def redraw(self) -> None:
        """Recompute every trace (after a control changed)."""
        with self._lock:
            self._dirty = set(self.rows)
            groups = self._active_groups()
            grouped = {n for members in groups.values() for n in members}
            keep = (set(self.rows) - grouped) | {
                f"{kind}:{g}" for g in groups for kind in ("band", "mean")
            }
        self.fig.data = [t for t in self.fig.data if _key(t) in keep]
        self.flush()

    def _refresh_metrics(self, row: dict) -> None:
        options = list(self.metric.options)
        extra = [k for k in row if "/" in k and k not in options and not k.startswith(M.TIMING)]
        if not extra:
            return
        # New options reset a Dropdown to its first one: put the choice back, quietly (no
        # redraw of the wrong metric in between).
        chosen = self.metric.value
        self._keeping_metric = True
        try:
            self.metric.options = options + sorted(extra)
            self.metric.value = chosen
        finally:
            self._keeping_metric = False

    def _update_panel(self) -> None:
        parts = []
        for name, rows in list(self.rows.items()):
            if not rows:
                continue
            last = rows[-1]
            timing = {k: last.get(M.timing(k), 0.0) or 0.0 for k in M.TIMING_KEYS}
            total = sum(timing.values()) or 1.0
            shares = " ".join(f"{k} {v / total:.0%}" for k, v in timing.items())
            parts.append(
                f"<b>{html.escape(name)}</b>: {last[M.AGENT_STEPS]:,} steps, "
                f"{last.get(M.SPS, 0) / 1e3:,.0f}k steps/s &nbsp;|&nbsp; time: {shares}"
            )
        self.panel.value = (
            "<div style='white-space: normal; line-height: 1.4'>" + "<br>".join(parts) + "</div>"
        )

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def store_line(store, verb: str = "reads") -> W.HTML:
    """One small line saying which run store (path) a view uses."""
    return W.HTML(f"<small>{verb} <code>{html.escape(str(store.path))}</code></small>")


class FitWidth(anywidget.AnyWidget):
    """An invisible widget that fires a window ``resize`` when its width changes.

    A FigureWidget without a fixed width fits its output on window resizes, but one drawn
    before its output was laid out keeps plotly's 700 px default. Placed beside such
    figures, this sends the resize once they are on the page (and when the output width
    changes), so they fill it."""

    _esm = """
    export default {
      render({ el }) {
        el.style.width = "100%";
        el.style.height = "0px";
        let last = -1;
        const observer = new ResizeObserver((entries) => {
          const width = Math.round(entries[0].contentRect.width);
          if (width > 0 && width !== last) {
            last = width;
            setTimeout(() => window.dispatchEvent(new Event("resize")), 50);
          }
        });
        observer.observe(el);
        return () => observer.disconnect();
      },
    };
    """


def _key(trace) -> str:
    """A trace's identity: its run name, or ``band:``/``mean:`` and its group."""
    return trace.meta if isinstance(trace.meta, str) else trace.name


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _common_prefix(labels: list[str]) -> str:
    first, last = min(labels), max(labels)  # the most different pair bounds the prefix
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]

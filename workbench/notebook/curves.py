"""Live learning curves: a plotly FigureWidget that runs append points to as they train.

Rows arrive on the training threads (``launch(on_log=curves.on_log(name))``) or from the
store (``curves.add_run(name, store.curve(run_id))``). Redraws are throttled to
``max_rate`` per second; each only replaces the data of the traces that changed.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from workbench import metrics as M

X_AXES = {
    "agent steps": M.AGENT_STEPS,
    "wall-clock": "clock",
    "relative time (s)": M.WALL_TIME,
}
DEFAULT_METRICS = M.CURVE_METRICS


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
        smoothing: float = 0.0,
        max_rate: float = 4.0,
        height: int = 380,
    ):
        self.rows: dict[str, list[dict]] = {}
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
            )
        )
        self.metric = W.Dropdown(
            options=list(DEFAULT_METRICS),
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
        self.panel = W.HTML()
        for control in (self.metric, self.x_axis, self.smoothing):
            control.observe(lambda _: self.redraw(), names="value")
        self.widget = W.VBox(
            [
                W.HBox([self.metric, self.smoothing]),
                self.x_axis,
                self.fig,
                self.panel,
            ]
        )

    # -- feeding rows --
    def on_log(self, name: str):
        """A callback for ``launch(on_log=...)`` that adds each row to the curve ``name``."""
        with self._lock:
            self.rows.setdefault(name, [])
            self.starts.setdefault(name, time.time())
        return lambda run_id, row: self.append(name, row)

    def add_run(self, name: str, rows, started_at: float | None = None) -> None:
        """Show a recorded run: ``rows`` is a DataFrame (``store.curve``) or list of dicts."""
        records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
        with self._lock:
            self.rows[name] = records
            self.starts[name] = started_at if started_at is not None else time.time()
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
        self.redraw()

    # -- drawing --
    def _series(self, name: str):
        rows = self.rows[name]
        metric, xkey = self.metric.value, X_AXES[self.x_axis.value]
        y = np.array(
            [r.get(metric, np.nan) if r.get(metric) is not None else np.nan for r in rows],
            dtype=float,
        )
        if xkey == "clock":
            start = self.starts[name]
            x = [datetime.fromtimestamp(start + r[M.WALL_TIME]) for r in rows]
        else:
            x = [r[xkey] for r in rows]
        keep = np.isfinite(y)
        y = smooth(y, self.smoothing.value)
        return [v for v, k in zip(x, keep, strict=True) if k], y[keep]

    def flush(self) -> None:
        with self._lock:
            self._timer = None
            dirty, self._dirty = self._dirty, set()
            names = list(self.rows)
        if not dirty:
            return
        self._last_draw = time.monotonic()
        traces = {t.name: t for t in self.fig.data}
        with self.fig.batch_update():
            for name in names:
                if name not in dirty:
                    continue
                x, y = self._series(name)
                if name in traces:
                    traces[name].x, traces[name].y = x, y
                else:
                    self.fig.add_scatter(
                        x=x, y=y, name=name, mode="lines+markers", marker=dict(size=4)
                    )
            self.fig.layout.xaxis.title = self.x_axis.value
            self.fig.layout.yaxis.title = self.metric.value
        self.draws += 1
        self._update_panel()

    def redraw(self) -> None:
        """Recompute every trace (after a control changed)."""
        with self._lock:
            self._dirty = set(self.rows)
            keep = set(self.rows)
        self.fig.data = [t for t in self.fig.data if t.name in keep]
        self.flush()

    def _refresh_metrics(self, row: dict) -> None:
        options = list(self.metric.options)
        extra = [k for k in row if "/" in k and k not in options and not k.startswith(M.TIMING)]
        if extra:
            self.metric.options = options + sorted(extra)

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
                f"<b>{name}</b>: {last[M.AGENT_STEPS]:,} steps, "
                f"{last.get(M.SPS, 0) / 1e3:,.0f}k steps/s &nbsp;|&nbsp; time: {shares}"
            )
        self.panel.value = (
            "<div style='white-space: normal; line-height: 1.4'>" + "<br>".join(parts) + "</div>"
        )

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

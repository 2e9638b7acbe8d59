"""``SweepView``: a sweep filling in its score-vs-cost front, live, in a notebook.

One plotly figure holds every observation the engine got (curve points faint, each trial's
end solid), the observed front as a step line, the model's predicted front with its
uncertainty band, trials in flight as ghost points moving along their curves, failed,
pruned and stopped trials with their own symbols and why on hover, and the newest trial
ringed. Clicking a point selects its trial: its curve goes into the ``LiveCurves`` below
and **Watch it play** opens its checkpoint in the ``Viewer``. Under it: the best trial
under a cost cap with an export button, what explains the score (random-forest Sobol
indices next to Spearman correlations) and the trials in parallel coordinates.

Everything is read from the run store, incrementally (``observations(since_seq=)``,
``curves(since_seq=)``), on a background thread, so the kernel stays free and a sweep
running in another process (``SweepView(sweep_id)``) is watched the same way. Points are
redrawn at most ``max_rate`` times a second and only the traces whose data changed are
sent; the models (predicted front, importance) are refitted on a second thread, at most
every ``model_interval`` seconds, when new observations came in.
"""

from __future__ import annotations

import html
import math
import shlex
import threading
import time

import ipywidgets as W
import numpy as np
import pandas as pd

from workbench import metrics as M
from workbench.notebook.curves import FitWidth, LiveCurves, run_label
from workbench.notebook.importance import parameter_importance
from workbench.notebook.sweepcharts import (
    COST_LABELS,
    GL_CURVE,
    GL_POINTS,
    add_gl_curve,
    cost_title,
    importance_figure,
    log_ticks,
    parcoords_figure,
    pareto_figure,
    point_template,
    update_importance,
    update_parcoords,
)
from workbench.notebook.sweepdata import SweepState, format_params
from workbench.store import RunStore

MAX_CURVES = 4  # selected trials kept in the curves view
CLICKABLE = (
    "curve",
    GL_CURVE,
    "front",
    "trials",
    "pruned",
    "stopped",
    "failed",
    "running",
    "newest",
)


def load_handle(sweep_id: str, store=None):
    """A :class:`SweepHandle` for a recorded sweep (any process's), without running it:
    ``results()``, ``best()``, ``export()`` work, and its engine is rebuilt empty (the view
    feeds it the recorded observations)."""
    from workbench.sweep.driver import recorded

    return recorded(
        sweep_id, store if isinstance(store, RunStore) else RunStore(store), replay=False
    )


def _row_metric(metric: str) -> str:
    """The metric-row key that follows a sweep's objective during training."""
    if metric in M.OUTCOMES:
        return M.env(metric)
    return M.env(metric[len(M.EVAL) :]) if metric.startswith(M.EVAL) else metric


def _empty_trace() -> dict:
    return {"x": [], "y": [], "customdata": [], "hovertext": []}


def _floats(values) -> np.ndarray:
    """A trace's x or y as floats (None, a gap, as NaN)."""
    return np.asarray(values if values is not None else (), dtype=float)


def _as_arrays(trace: dict) -> dict:
    """A trace's data as numpy arrays: plotly checks a list item by item, which was most of
    a redraw's time. A trace with gaps (None) stays as it is."""
    if any(x is None for x in trace["x"]):
        return trace
    return {
        "x": np.asarray(trace["x"], dtype=float),
        "y": np.asarray(trace["y"], dtype=float),
        "customdata": np.asarray(trace["customdata"], dtype=str),
        "hovertext": np.asarray(trace["hovertext"], dtype=str),
    }


class SweepView:
    """Live score-vs-cost view of a sweep: a ``SweepHandle`` or a sweep id in ``store``;
    a list of them compares those sweeps (a ``CompareView``)."""

    def __new__(cls, sweep=None, *args, **kwargs):
        if isinstance(sweep, list | tuple):
            from workbench.notebook.sweepcompare import CompareView

            return CompareView(sweep, *args, **kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        sweep,
        store=None,
        poll_interval: float = 0.25,
        max_rate: float = 2.0,
        model_interval: float = 5.0,
        height: int = 520,
        autostart: bool = True,
    ):
        from workbench.sweep.driver import SweepHandle

        self._live = isinstance(sweep, SweepHandle)
        self.handle = sweep if self._live else load_handle(str(sweep), store)
        self.store, self.id, self.d = self.handle.store, self.handle.id, self.handle.definition
        self.state = SweepState(self.store, self.id, self.d)
        self.poll_interval, self.max_rate, self.model_interval = (
            poll_interval,
            max_rate,
            model_interval,
        )
        self.selected: str | None = None
        self.viewer = None
        self.exported = None
        self.latencies: list[float] = []  # seconds from an observation's write to its redraw
        self.draw_times: list[tuple[int, float]] = []  # (points drawn, seconds) per redraw
        self.importance = parameter_importance(pd.DataFrame(), self.d.space)
        self.model_front = pd.DataFrame()
        # Lock order: _models_lock, then _lock or the engine's (handle.engine()), never both.
        self._lock = threading.RLock()  # the state, the score-vs-cost figure, the curves
        self._models_lock = threading.Lock()
        self._closed = threading.Event()
        self._models_due = threading.Event()
        self._models_seen = -1  # scored observations the models last saw
        self._importance_key = None  # (trials ended, sweep done) the chart last saw
        self._models_final = False  # the models saw everything the ended sweep wrote
        self._fed = 0  # observations fed to a rebuilt engine
        self._sent: dict[str, dict] = {}
        self._drawn = 0  # observations drawn (for the latency record)
        self._dirty = True
        self._last_draw = -math.inf
        self._followed: dict[str, tuple[str, int]] = {}  # run id -> (curve name, last seq)
        self._results_key = None
        self._build_widgets(height)
        self._threads: list[threading.Thread] = []
        self.refresh(force=True, models=not autostart)
        if autostart:
            self.start()

    # -- widgets --
    def _build_widgets(self, height: int) -> None:
        d = self.d
        self.cost_axis = W.ToggleButtons(
            options=[(COST_LABELS[a], a) for a in M.COST_AXES],
            value=d.cost,
            style={"button_width": "150px"},
        )
        self.status = W.HTML()
        title = f"Sweep {d.name}: {d.metric} against cost on {d.env}"
        self.fig = pareto_figure(d.metric, d.cost, title, height)
        self._traces = {t.meta: t for t in self.fig.data}
        for key, trace in self._traces.items():
            if key in CLICKABLE:
                trace.on_click(self._on_click)
        self._set_templates(d.cost)
        self.selection = W.HTML("<i>Click a point to select its trial.</i>")
        auto = W.Layout(width="auto", min_width="fit-content")
        self.watch_button = W.Button(
            description="Watch it play", icon="play", disabled=True, layout=auto
        )
        self.export_selected_button = W.Button(
            description="Export this trial", icon="download", disabled=True, layout=auto
        )
        self.watch_message = W.HTML()
        row_metric = _row_metric(d.metric)
        x = "relative time (s)" if d.cost == M.WALL_TIME else "agent steps"
        self.curves = LiveCurves(metric=row_metric, x=x, height=320, store=self.store)
        self.viewer_box = W.VBox()
        self.cap = W.Text(
            placeholder="no cap", continuous_update=False, layout=W.Layout(width="140px")
        )
        self.best_label = W.HTML()
        self.export_button = W.Button(
            description="Export best config", icon="download", button_style="primary", layout=auto
        )
        self.export_message = W.HTML()
        self.importance_fig = importance_figure(len(d.space))
        self.model_message = W.HTML()
        self.parcoords_fig = parcoords_figure(d.metric)
        self.cost_axis.observe(lambda _: self._axis_changed(), names="value")
        self.cap.observe(lambda _: self._update_best(), names="value")
        self.watch_button.on_click(lambda _: self.watch())
        self.export_button.on_click(lambda _: self._export_clicked(best=True))
        self.export_selected_button.on_click(lambda _: self._export_clicked(best=False))
        section = lambda text: W.HTML(f"<h4 style='margin:12px 0 4px'>{text}</h4>")  # noqa: E731
        self.widget = W.VBox(
            [
                W.HBox([W.HTML("<b>cost axis</b>&nbsp;"), self.cost_axis]),
                self.status,
                self.fig,
                section("Selected trial"),
                W.HBox([self.watch_button, self.export_selected_button, self.selection]),
                self.curves.widget,
                self.watch_message,
                self.viewer_box,
                section("Best under a cost cap"),
                W.HBox(
                    [W.HTML(f"max {COST_LABELS[d.cost]}&nbsp;"), self.cap, self.best_label],
                    layout=W.Layout(align_items="center", grid_gap="12px"),
                ),
                W.HBox([self.export_button, self.export_message]),
                self.importance_fig,
                self.model_message,
                self.parcoords_fig,
                FitWidth(),
            ],
            layout=W.Layout(width="100%"),
        )

    def _set_templates(self, axis: str) -> None:
        template = point_template(self.d.metric, axis)
        with self.fig.batch_update():
            for key in (*CLICKABLE, "selected"):
                if key in self._traces:  # the WebGL curve exists once there are many points
                    self._traces[key].hovertemplate = template
            self.fig.layout.xaxis.title.text = cost_title(axis)

    # -- updating --
    def start(self) -> None:
        """Poll the store and refit the models on background threads until the sweep ends."""
        if any(t.is_alive() for t in self._threads):
            return
        self._closed.clear()
        self._threads = [
            threading.Thread(target=self._poll_loop, daemon=True, name=f"wb-view-{self.id}"),
            threading.Thread(target=self._model_loop, daemon=True, name=f"wb-models-{self.id}"),
        ]
        for t in self._threads:
            t.start()

    def close(self) -> None:
        """Stop polling (and the viewer, if one plays)."""
        self._closed.set()
        self._models_due.set()
        if self.viewer is not None:
            self.viewer.stop()

    def _poll_loop(self) -> None:
        while not self._closed.is_set():
            try:
                self.refresh(models=False)
            except Exception as e:  # keep watching: a store busy for a moment is no reason to stop
                self.status.value = f"<span style='color:#b00020'>{html.escape(repr(e))}</span>"
            if self.state.done and not self._dirty:
                self._models_due.set()
                return
            self._closed.wait(self.poll_interval)

    def _model_loop(self) -> None:
        while not self._closed.is_set():
            self._models_due.wait()
            self._models_due.clear()
            if self._closed.is_set():
                return
            started = time.monotonic()
            try:
                self.update_models()
            except Exception as e:  # a model that cannot fit yet leaves the figure as it was
                self.model_message.value = f"<small>models: {html.escape(repr(e))}</small>"
            if self._models_final:
                return
            self._closed.wait(max(0.0, self.model_interval - (time.monotonic() - started)))

    def refresh(self, force: bool = False, models: bool = True) -> None:
        """Read what is new in the store and redraw what changed (``force``: redraw now,
        throttle or not; ``models``: refit the predicted front and importance here too)."""
        with self._lock:
            new, runs_changed, curves_changed = self.state.poll(force_runs=force)
            if not self._live:
                self.handle.status = self.state.sweep_status
            self._dirty |= bool(new) or runs_changed or curves_changed
            if self._dirty and (force or time.monotonic() - self._last_draw >= 1 / self.max_rate):
                self._draw_points()
            self._follow()
            if new or runs_changed or force:
                self._update_tables()
        if len(self.state.successes()) != self._models_seen:
            if models:
                self.update_models()
            else:
                self._models_due.set()

    def _draw_points(self) -> None:
        started = time.perf_counter()
        data = self.state.points(self.cost_axis.value, self.selected)
        many = len(data["curve"]["x"]) > GL_POINTS
        if many and GL_CURVE not in self._traces:
            self._traces[GL_CURVE] = add_gl_curve(self.fig, self._traces["curve"].hovertemplate)
            self._traces[GL_CURVE].on_click(self._on_click)
        if GL_CURVE in self._traces:
            data[GL_CURVE] = data["curve"] if many else _empty_trace()
            data["curve"] = _empty_trace() if many else data["curve"]
        changed = {k: v for k, v in data.items() if k not in ("band", "model")}
        changed = {k: v for k, v in changed.items() if self._sent.get(k) != v}
        if changed:
            with self.fig.batch_update():
                for key, v in changed.items():
                    self._traces[key].update(_as_arrays(v), showlegend=bool(v["x"]))
                    self._sent[key] = v
                self._fit_axes()
        now = time.time()
        self.latencies += [now - o["at"] for o in self.state.obs[self._drawn :]]
        self._drawn = len(self.state.obs)
        self._dirty, self._last_draw = False, time.monotonic()
        n = sum(len(v["x"]) for v in data.values())
        self.draw_times.append((n, time.perf_counter() - started))
        self._update_status()

    def _follow(self) -> None:
        """New metric rows of selected trials still running go on to their curves."""
        for run_id, (name, seq) in list(self._followed.items()):
            rows = self.store.curves([run_id], since_seq={run_id: seq})
            for row in rows.to_dict("records"):
                self.curves.append(name, row)
            if len(rows):
                self._followed[run_id] = (name, int(rows["seq"].iloc[-1]))
            if run_id in self.state.complete:
                self._followed.pop(run_id)

    def update_models(self) -> None:
        """Refit the predicted front on what was observed so far, and the importance chart
        when a trial has ended since it was last drawn (a small forest while the sweep runs,
        a bigger one on the final results)."""
        with self._models_lock:  # the model thread's refit and a cell's call take turns
            self._update_models()

    def _update_models(self) -> None:
        with self._lock:
            rows = self.state.successes()
            feed = self.state.obs[self._fed :]
            self._fed += len(feed)
            done = self.state.done
            ended = sum(r["status"] != "running" for r in self.state.runs.values())
        # Engine calls hold the engine's lock. So does the forest: Python 3.11's warnings
        # filters are one global list, and scikit-learn's many catch_warnings blocks would
        # undo the engine's while it fits (its silenced warnings then reach the notebook).
        with self.handle.engine() as sweeper:
            if not self._live:  # a rebuilt engine learns what the sweep's own one saw
                for o in feed:
                    sweeper.observe(
                        o["params"], o["score"], o["cost"], failed=o["failed"], error=o["error"]
                    )
            self.model_front = sweeper.predicted_front(60)
        self._models_seen = len(rows)
        self._draw_model()
        if (ended, done) == self._importance_key:
            self._models_final = done
            return
        self._importance_key = (ended, done)
        trees, repeats = (200, 8) if done else (40, 3)
        with self.handle.engine():
            table = parameter_importance(
                pd.DataFrame(rows),
                self.d.space,
                seed=self.d.seed,
                n_estimators=trees,
                repeats=repeats,
            )
        self.importance = table
        update_importance(self.importance_fig, table, self.d.metric)
        self._models_final = done

    def _draw_model(self) -> None:
        front = self.model_front
        shown = self.cost_axis.value == self.d.cost and not front.empty
        cost = list(front["cost"]) if shown else []
        with self._lock, self.fig.batch_update():
            band, model = self._traces["band"], self._traces["model"]
            band.update(
                x=cost + cost[::-1],
                y=list(front["score_hi"]) + list(front["score_lo"])[::-1] if shown else [],
                showlegend=shown,
            )
            model.update(x=cost, y=list(front["score_mean"]) if shown else [], showlegend=shown)
            self._fit_axes()

    def _fit_axes(self) -> None:
        """Ticks in 1-2-5 steps on the log cost axis (plotly labels a short log range with
        bare digits), and a score range fitting the points and the model's mean: the band
        may leave it (far from the data it is wide, and would flatten everything else)."""
        keys = [k for k in (*CLICKABLE, "model") if k in self._traces]
        xs = np.concatenate([_floats(self._traces[k].x) for k in keys])
        ys = np.concatenate([_floats(self._traces[k].y) for k in keys])
        xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
        if not len(xs) or not len(ys):
            return
        ticks, labels = log_ticks(float(xs.min()), float(xs.max()))
        low, high = float(ys.min()), float(ys.max())
        pad = 0.08 * (high - low) or 0.5 * abs(high) or 1.0
        self.fig.layout.xaxis.update(tickvals=[10**t for t in ticks], ticktext=labels)
        self.fig.layout.yaxis.range = [low - pad, high + pad]

    def _axis_changed(self) -> None:
        with self._lock:
            self._set_templates(self.cost_axis.value)
            self._sent.clear()
            self._draw_points()
        self._draw_model()

    def _update_status(self) -> None:
        d, runs = self.d, self.state.runs.values()
        counts = {s: sum(r["status"] == s for r in runs) for s in ("finished", "pruned")}
        counts.update({s: sum(r["status"] == s for r in runs) for s in ("stopped", "failed")})
        running = sum(r["status"] == "running" for r in runs)
        ended = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none yet"
        status = self.handle.status if self._live else self.state.sweep_status
        parts = [
            f"<b>{html.escape(d.name)}</b> <code>{html.escape(self.id)}</code>",
            f"<b>{status}</b>",
            f"trials ended: {ended}",
            f"{running} running",
            f"{len(self.state.obs)} observations",
            f"store <code>{html.escape(str(self.store.path))}</code>",
        ]
        guess = self.handle.next_prediction if self._live and running else None
        if guess:
            parts.append(
                f"newest trial predicted: {d.metric} {guess['score']:.3g} "
                f"[{guess['score_lo']:.3g}, {guess['score_hi']:.3g}] at "
                f"{guess['cost']:.3g}, P(success) {guess['p_success']:.2f}"
            )
        self.status.value = "<div style='line-height:1.5'>" + " &middot; ".join(parts) + "</div>"

    def _update_tables(self) -> None:
        key = tuple((i, r["status"], r["score"]) for i, r in self.state.runs.items())
        if key == self._results_key:
            return
        self._results_key = key
        from workbench.sweep.driver import trial_table

        # the view's own definition: a steered sweep's edits (a pinned parameter leaving
        # the space) must not change the columns under the charts it already drew
        results = trial_table(self.store, self.id, self.d)
        update_parcoords(self.parcoords_fig, results, self.d.space, self.d.metric)
        self._update_best(results)

    # -- best and export --
    def _cap_value(self) -> float | None:
        text = self.cap.value.strip()
        if not text:
            return None
        value = float(text.replace("_", ""))
        if not value > 0:
            raise ValueError(f"the cost cap must be > 0, got {text!r}")
        return value

    def _update_best(self, results: pd.DataFrame | None = None) -> None:
        from workbench.sweep.driver import best_trial, trial_table

        try:
            cap = self._cap_value()
        except ValueError:
            self.best_label.value = (
                f"<span style='color:#b00020'>not a number: {html.escape(self.cap.value)}</span>"
            )
            return
        if results is None:
            results = trial_table(self.store, self.id, self.d)
        best = best_trial(results, cap, self.d.space)
        if best is None:
            self.best_label.value = "<i>no finished trial" + (" under this cap" if cap else "")
            self.best_label.value += " yet</i>"
            return
        cost = COST_LABELS[self.d.cost]
        self.best_label.value = (
            f"best: <b>{html.escape(str(best['name']))}</b>, {self.d.metric} "
            f"{best['score']:.4g} at {best['cost']:.4g} {cost}"
        )

    def export(self, max_cost: float | None = None, run_id: str | None = None):
        """Write a trial's config (default: the best costing at most ``max_cost``) as a TOML
        override and show the path and the command that reruns it; returns the path."""
        path = self.handle.export(run_id=run_id, max_cost=max_cost)
        command = f"python -m workbench train {shlex.quote(self.d.env)} --config {path}"
        self.export_message.value = (
            f"wrote <code>{html.escape(str(path))}</code><br>"
            f"rerun it: <code>{html.escape(command)}</code>"
        )
        self.exported = path
        return path

    def _export_clicked(self, best: bool) -> None:
        try:
            if best:
                self.export(max_cost=self._cap_value())
            else:
                self.export(run_id=self.selected)
        except (ValueError, KeyError) as e:
            self.export_message.value = (
                f"<span style='color:#b00020'>Not exported: {html.escape(str(e))}</span>"
            )

    # -- selecting and watching --
    def _on_click(self, trace, points, _state) -> None:
        if points.point_inds:
            self.select(trace.customdata[points.point_inds[0]])

    def select(self, run_id: str) -> None:
        """Select a trial: mark it, put its curve in ``curves``, enable Watch and Export."""
        with self._lock:
            if run_id not in self.state.runs:
                self.state.poll(force_runs=True)
            record = self.state.runs[run_id]
            self.selected = run_id
            name = record["name"]
            label = run_label(name, run_id)
            rows = self.store.curves([run_id])
            started = self.store.run(run_id)["started_at"]
            self.curves.add_run(label, rows, started_at=started)
            others = [n for n in self.curves.rows if n != label]
            for old in others[: max(0, len(others) - MAX_CURVES + 1)]:
                self.curves.remove_run(old)
            if run_id not in self.state.complete:
                self._followed[run_id] = (label, int(rows["seq"].iloc[-1]) if len(rows) else -1)
            why = record["reason"] or record["error"]
            self.selection.value = (
                f"<b>{html.escape(name)}</b> ({record['status']})"
                + (f": {html.escape(why)}" if why else "")
                + "<br><small>"
                + format_params(record["params"]).replace("<br>", ", ")
                + "</small>"
            )
            self.watch_button.disabled = self.export_selected_button.disabled = False
            self._draw_points()

    def watch(self, run_id: str | None = None, fps: float = 30.0):
        """Play the selected trial's final checkpoint in a ``Viewer`` below the curves."""
        from workbench.notebook.viewer import Viewer

        run_id = run_id or self.selected
        if run_id is None:
            return None
        record = self.store.run(run_id)
        if record["status"] == "running" or not record["checkpoint"]:
            self.watch_message.value = (
                f"<i>{html.escape(record['name'])} is still running: its checkpoint is written "
                "when it ends.</i>"
            )
            return None
        if self.viewer is not None:
            self.viewer.stop()
        try:
            self.viewer = Viewer(record["checkpoint"], fps=fps, store=self.store)
        except Exception as e:  # an env that cannot render (a Gymnasium env without pygame)
            self.watch_message.value = (
                f"<span style='color:#b00020'>Cannot play {html.escape(record['name'])}: "
                f"{html.escape(str(e))}</span>"
            )
            return None
        self.watch_message.value = f"<b>{html.escape(record['name'])}</b> playing:"
        self.viewer_box.children = [self.viewer.widget]
        self.viewer.start()
        return self.viewer

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

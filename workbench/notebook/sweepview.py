"""``SweepView``: a sweep filling in its score-vs-cost front, live, in a notebook.

One plotly figure holds every observation the engine got (curve points faint, each trial's
end solid), the observed front as a step line, the model's predicted front with its
uncertainty band, trials in flight as ghost points moving along their curves, failed,
pruned and stopped trials with their own symbols and why on hover, and the newest trial
ringed. Clicking a point selects its trial: its curve goes into the ``LiveCurves`` below
and **Watch it play** opens its checkpoint in the ``Viewer``. Under it: the best trial
under a cost cap with an export button, what explains the score (random-forest Sobol
indices next to Spearman correlations) and the trials in parallel coordinates.

A :class:`SweepMonitor` reads the store (incrementally, on background threads, so the
kernel stays free and a sweep running in another process, ``SweepView(sweep_id)``, is
watched the same way) and refits the models; this view subscribes to it and only draws.
Points are redrawn at most ``max_rate`` times a second and only the traces whose data
changed are sent, as plain lists; past ``GL_POINTS`` points a trace moves to WebGL. A read
or refit that fails shows one short sentence, gone when the next one works.
"""

from __future__ import annotations

import html
import math
import shlex
import threading
import time

import ipywidgets as W
import pandas as pd

from workbench import metrics as M
from workbench.notebook.curves import FitWidth, LiveCurves, run_label
from workbench.notebook.sweepcharts import (
    COST_LABELS,
    GL_POINTS,
    GL_TWINS,
    RECENT,
    add_gl_twin,
    cost_title,
    importance_figure,
    log_ticks,
    parcoords_figure,
    pareto_figure,
    point_template,
    update_importance,
    update_parcoords,
)
from workbench.notebook.sweepdata import format_params
from workbench.notebook.sweepmonitor import SweepMonitor, load_handle
from workbench.notebook.sweepsteer import SteeringPanel

__all__ = ["SweepView", "load_handle"]

MAX_CURVES = 4  # selected trials kept in the curves view
CLICKABLE = (
    "curve",
    "front",
    "trials",
    "pruned",
    "stopped",
    "failed",
    "running",
    "newest",
    *GL_TWINS.values(),
    *RECENT.values(),
)
BIG_EVERY = 5.0  # seconds between sends of a WebGL twin while points keep coming
ERROR = "<span style='color:#b00020'>{}</span>"


def _row_metric(metric: str) -> str:
    """The metric-row key that follows a sweep's objective during training."""
    if metric in M.OUTCOMES:
        return M.env(metric)
    return M.env(metric[len(M.EVAL) :]) if metric.startswith(M.EVAL) else metric


def _empty_trace() -> dict:
    return {"x": [], "y": [], "customdata": [], "hovertext": []}


def _part(trace: dict, start: int, stop: int | None) -> dict:
    return {k: v[start:stop] for k, v in trace.items()}


def _finite(values) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


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
        max_rate: float = 4.0,
        model_interval: float = 5.0,
        height: int = 520,
        autostart: bool = True,
    ):
        self.monitor = SweepMonitor(
            sweep, store, poll_interval=poll_interval, model_interval=model_interval
        )
        self.store = self.monitor.store
        self.id, self.d = self.monitor.id, self.monitor.d
        self.max_rate = max_rate
        self.selected: str | None = None
        self.viewer = None
        self.exported = None
        self.latencies: list[float] = []  # seconds from an observation's write to its redraw
        self.draw_times: list[tuple[int, float]] = []  # (points drawn, seconds) per redraw
        self._lock = threading.RLock()  # the score-vs-cost figure and the curves view
        # the charts under them: 10,000 trials' parallel coordinates take a while to send,
        # and a new point must not wait for them
        self._charts_lock = threading.Lock()
        self._sent: dict[str, dict] = {}  # what each trace was last sent (plain lists)
        self._base: dict[str, tuple] = {}  # a WebGL twin's (points, stride, when) last sent
        self._legend: dict[str, bool] = {}  # a twin's legend entry stands for its trace
        self._drawn = 0  # observations drawn (for the latency record)
        self._dirty = True
        self._last_draw = -math.inf
        self._followed: dict[str, tuple[str, int]] = {}  # run id -> (curve name, last seq)
        self._build_widgets(height)
        self.monitor.subscribe(self._on_event)
        self.refresh(force=True, models=not autostart)
        if autostart:
            self.start()

    @property
    def handle(self):
        """The sweep's :class:`SweepHandle` (steering, export, best)."""
        return self.monitor.handle

    @property
    def state(self):
        """The monitor's :class:`SweepState` (what the figure is drawn from)."""
        return self.monitor.state

    @property
    def importance(self):
        return self.monitor.importance

    @property
    def model_front(self):
        return self.monitor.model_front

    def traced(self, key: str) -> dict:
        """The data last sent for trace ``key`` (plain lists): with its WebGL twin's and the
        recent points beside it once it moved."""
        parts = [
            self._sent.get(k, _empty_trace())
            for k in (GL_TWINS.get(key), key, RECENT.get(key))
            if k
        ]
        return {
            f: [v for p in parts for v in p.get(f, [])]
            for f in ("x", "y", "customdata", "hovertext")
        }

    # -- widgets --
    def _build_widgets(self, height: int) -> None:
        d = self.d
        self.cost_axis = W.ToggleButtons(
            options=[(COST_LABELS[a], a) for a in M.COST_AXES],
            value=d.cost,
            style={"button_width": "150px"},
        )
        self.status = W.HTML()
        title = f"Sweep {d.name}: {d.metric} against cost"
        if d.kind != "objective" and d.env.lower() not in d.name.lower():
            title += f" ({d.env})"
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
        self.selected_message = W.HTML()
        self.watch_message = W.HTML()
        row_metric = _row_metric(d.metric)
        x = "relative time (s)" if d.cost == M.WALL_TIME else "agent steps"
        self.curves = LiveCurves(metric=row_metric, x=x, height=320, store=self.store)
        self.curves.widget.layout.display = "none"  # no bare axes before a trial is picked
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
        self.steer = SteeringPanel(self.monitor)  # steering (issue 24): buttons and history
        self.widget = W.VBox(
            [
                W.HBox([W.HTML("<b>cost axis</b>&nbsp;"), self.cost_axis]),
                self.status,
                self.fig,
                section("Selected trial"),
                W.HBox([self.watch_button, self.export_selected_button, self.selection]),
                self.selected_message,
                self.curves.widget,
                self.watch_message,
                self.viewer_box,
                self.steer.trial_widget,  # steering (issue 24)
                section("Steer the sweep"),  # steering (issue 24)
                self.steer.sweep_widget,  # steering (issue 24)
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
                if key in self._traces:  # a WebGL twin exists once its trace has many points
                    self._traces[key].hovertemplate = template
            self.fig.layout.xaxis.title.text = cost_title(axis)

    # -- updating --
    def start(self) -> None:
        """Watch the sweep until it ends: the monitor polls and refits on its threads."""
        self.monitor.start()

    @property
    def _threads(self) -> list[threading.Thread]:
        return self.monitor.threads

    def close(self) -> None:
        """Stop watching (and the viewer, if one plays)."""
        self.monitor.close()
        if self.viewer is not None:
            self.viewer.stop()

    def _on_event(self, event: str) -> None:
        if event in ("data", "tick", "final"):
            self._dirty |= event == "data"
            due = time.monotonic() - self._last_draw >= 1 / self.max_rate
            if self._dirty and (due or event == "final"):
                self._draw_points()
            elif event == "data":
                self._update_status()
            self._follow()
        elif event == "models":
            self._draw_model()
        elif event == "importance":
            with self._charts_lock:
                update_importance(self.importance_fig, self.monitor.importance, self.d.metric)
        elif event == "tables":
            self._update_tables()
        elif event == "problem":
            self._update_status()
            problem = self.monitor.model_problem
            self.model_message.value = (
                f"<small><i>{html.escape(problem)}</i></small>" if problem else ""
            )

    def refresh(self, force: bool = False, models: bool = True) -> None:
        """Read what is new in the store and redraw what changed (``force``: redraw now,
        throttle or not; ``models``: refit the predicted front, importance and tables here
        too, not on the monitor's thread)."""
        self.monitor.poll(force=force)
        if force and self._dirty:
            self._draw_points()
        if models:
            self.monitor.refit(now=True)

    def update_models(self) -> None:
        """Refit the predicted front, the importance and the tables now."""
        self.monitor.refit(now=True)

    def _draw_points(self) -> None:
        started = time.perf_counter()
        with self.monitor.lock:
            data = self.state.points(self.cost_axis.value, self.selected)
            obs = self.state.obs
            fresh = [o["at"] for o in obs[self._drawn :]]
            self._drawn = len(obs)
        settled = data.pop("settled")
        for key, twin in GL_TWINS.items():
            full = data[key]
            if twin not in self._traces:
                if len(full["x"]) <= GL_POINTS:
                    continue
                with self._lock:
                    trace = add_gl_twin(self.fig, key, self._traces[key].hovertemplate)
                    trace.on_click(self._on_click)
                    self._traces[twin] = trace
            # The twin holds what had settled when it was last sent; the points since go to
            # the small recent trace, until the twin is due again.
            tag = settled["stride"] if key == "curve" else 0
            base = self._base.get(key)
            now = time.monotonic()
            if not (
                base and base[0] <= settled[key] and base[1] == tag and now - base[2] < BIG_EVERY
            ):
                base = self._base[key] = (settled[key], tag, now)
            data[twin] = _part(full, 0, base[0])
            data[RECENT[key]] = _part(full, base[0], None)
            data[key] = _empty_trace()
            self._legend[twin] = bool(full["x"])
        changed = {k: v for k, v in data.items() if k not in ("band", "model")}
        changed = {k: v for k, v in changed.items() if self._sent.get(k) != v}
        if changed:
            with self._lock, self.fig.batch_update():
                for key, v in changed.items():
                    legend = self._legend.get(key, bool(v["x"]) and key not in RECENT.values())
                    self._traces[key].update(v, showlegend=legend)
                    self._sent[key] = v
                self._fit_axes()
        now = time.time()
        self.latencies += [now - at for at in fresh]
        self._dirty, self._last_draw = False, time.monotonic()
        n = sum(len(v["x"]) for v in data.values())
        self.draw_times.append((n, time.perf_counter() - started))
        self._update_status()

    def _follow(self) -> None:
        """New metric rows of selected trials still running go on to their curves."""
        for run_id, (name, seq) in list(self._followed.items()):
            rows = self.store.curves([run_id], since_seq=seq)
            with self._lock:
                for row in rows.to_dict("records"):
                    self.curves.append(name, row)
            if len(rows):
                self._followed[run_id] = (name, int(rows["seq"].iloc[-1]))
            if run_id in self.state.complete:
                self._followed.pop(run_id)

    def _draw_model(self) -> None:
        """The model's predicted front and band, on the definition's cost axis only, once
        it spans three costs (a band over one or two is a misleading block)."""
        front = self.monitor.model_front
        shown = self.cost_axis.value == self.d.cost and not front.empty
        if shown:
            front = front.drop_duplicates("cost").sort_values("cost")
            shown = len(front) >= 3
        cost = [float(c) for c in front["cost"]] if shown else []
        mean = [float(v) for v in front["score_mean"]] if shown else []
        band = (
            [float(v) for v in front["score_hi"]] + [float(v) for v in front["score_lo"]][::-1]
            if shown
            else []
        )
        with self._lock, self.fig.batch_update():
            self._traces["band"].update(x=cost + cost[::-1], y=band, showlegend=shown)
            self._traces["model"].update(x=cost, y=mean, showlegend=shown)
            self._sent["model"] = {"x": cost, "y": mean}
            self._fit_axes()

    def _fit_axes(self) -> None:
        """Ticks in 1-2-5 steps on the log cost axis (plotly labels a short log range with
        bare digits), and a score range fitting the points and the model's mean, within the
        metric's bounds where it has some: the band may leave it (far from the data it is
        wide, and would flatten everything else)."""
        keys = [k for k in (*CLICKABLE, "model") if k in self._sent]
        xs = [x for k in keys for x in _finite(self._sent[k]["x"]) if x > 0]
        ys = [y for k in keys for y in _finite(self._sent[k]["y"])]
        if not xs or not ys:
            return
        ticks, labels = log_ticks(min(xs), max(xs))
        low, high = min(ys), max(ys)
        pad = 0.08 * (high - low) or 0.5 * abs(high) or 1.0
        low, high = low - pad, high + pad
        bounds = M.BOUNDS.get(self.d.metric)
        if bounds:  # no room above what is possible
            room = 0.03 * (bounds[1] - bounds[0])
            low, high = max(low, bounds[0] - room), min(high, bounds[1] + room)
        self.fig.layout.xaxis.update(tickvals=[10**t for t in ticks], ticktext=labels)
        self.fig.layout.yaxis.range = [low, high]

    def _axis_changed(self) -> None:
        with self._lock:
            self._set_templates(self.cost_axis.value)
            self._sent.clear()
            self._base.clear()
        self._draw_points()
        self._draw_model()

    def _update_status(self) -> None:
        d, state = self.d, self.state
        with self.monitor.lock:
            runs = list(state.runs.values())
            n_obs = len(state.obs)
        counts = {
            s: sum(r["status"] == s for r in runs)
            for s in ("finished", "pruned", "stopped", "failed")
        }
        running = sum(r["status"] == "running" for r in runs)
        ended = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none yet"
        status = self.monitor.status
        parts = [
            f"<b>{html.escape(d.name)}</b> <code>{html.escape(self.id)}</code>",
            f"<b>{html.escape(str(status))}</b>",
            f"trials ended: {ended}",
            f"{running} running",
            f"{n_obs:,} observations",
            f"store <code>{html.escape(str(self.store.path))}</code>",
        ]
        guess = self.handle.next_prediction if self.monitor.live and running else None
        if guess:
            parts.append(
                f"newest trial predicted: {d.metric} {guess['score']:.3g} "
                f"[{guess['score_lo']:.3g}, {guess['score_hi']:.3g}] at "
                f"{guess['cost']:.3g}, P(success) {guess['p_success']:.2f}"
            )
        text = "<div style='line-height:1.5'>" + " &middot; ".join(parts) + "</div>"
        if self.monitor.problem:
            text += ERROR.format(html.escape(self.monitor.problem))
        self.status.value = text

    def _update_tables(self) -> None:
        results = self.monitor.results
        if results is None:
            return
        with self._charts_lock:
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
            results = self.monitor.results
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
        override and show the path and the command that reruns it (beside the button that
        asked: the selected trial's, or the best's); returns the path."""
        path = self.handle.export(run_id=run_id, max_cost=max_cost)
        if self.d.kind == "objective":  # a Python function's arguments
            command = f"f(**json.load(open({str(path)!r}))['arguments'])"
        else:
            command = f"python -m workbench train {shlex.quote(self.d.env)} --config {path}"
        message = self.selected_message if run_id is not None else self.export_message
        message.value = (
            f"wrote <code>{html.escape(str(path))}</code><br>"
            f"rerun it: <code>{html.escape(command)}</code>"
        )
        self.exported = path
        return path

    def _export_clicked(self, best: bool) -> None:
        message = self.export_message if best else self.selected_message
        try:
            if best:
                self.export(max_cost=self._cap_value())
            else:
                self.export(run_id=self.selected)
        except (ValueError, KeyError, OSError) as e:
            text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            message.value = ERROR.format("Not exported: " + html.escape(str(text)))

    # -- selecting and watching --
    def _on_click(self, trace, points, _state) -> None:
        if points.point_inds:
            self.select(trace.customdata[points.point_inds[0]])

    def select(self, run_id: str) -> None:
        """Select a trial: mark it, put its curve in ``curves``, enable Watch and Export."""
        if run_id not in self.state.runs:
            self.monitor.poll(force=True)
        with self.monitor.lock:
            record = dict(self.state.runs[run_id])
            complete = run_id in self.state.complete
        with self._lock:
            self.selected = run_id
            name = record["name"]
            label = run_label(name, run_id)
            rows = self.store.curves([run_id])
            started = self.store.run(run_id)["started_at"]
            self.curves.add_run(label, rows, started_at=started)
            others = [n for n in self.curves.rows if n != label]
            for old in others[: max(0, len(others) - MAX_CURVES + 1)]:
                self.curves.remove_run(old)
            self.curves.widget.layout.display = None
            if not complete:
                self._followed[run_id] = (label, int(rows["seq"].iloc[-1]) if len(rows) else -1)
            why = record["reason"] or record["error"]
            self.selection.value = (
                f"<b>{html.escape(name)}</b> ({record['status']})"
                + (f": {html.escape(why)}" if why else "")
                + "<br><small>"
                + format_params(record["params"]).replace("<br>", ", ")
                + "</small>"
            )
            self.selected_message.value = ""
            self.watch_button.disabled = self.export_selected_button.disabled = False
            self.steer.select(run_id, record)  # steering (issue 24)
        self._draw_points()

    def watch(self, run_id: str | None = None, fps: float = 30.0):
        """Play the selected trial's final checkpoint in a ``Viewer`` below the curves."""
        from workbench.notebook.viewer import Viewer

        run_id = run_id or self.selected
        if run_id is None:
            return None
        record = self.store.run(run_id)
        if record["status"] == "running":
            self.watch_message.value = (
                f"<i>{html.escape(record['name'])} is still running: its checkpoint is written "
                "when it ends.</i>"
            )
            return None
        if not record["checkpoint"]:
            self.watch_message.value = (
                f"<i>{html.escape(record['name'])} left no checkpoint to play"
                + (" (a Python objective's trial)" if self.d.kind == "objective" else "")
                + ".</i>"
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

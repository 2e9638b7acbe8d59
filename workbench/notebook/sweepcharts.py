"""The sweep view's figures: score against cost, parameter importance, parallel coordinates.

Builders return plotly FigureWidgets with every trace in place; the view then only assigns
new data to the traces that changed (a restyle: re-rendering a whole figure, parallel
coordinates above all, costs the browser far more). ``FigureWidget`` is imported with this
module, not on the first figure: its imports take seconds, better spent before a sweep
competes for the interpreter than while it trains.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.graph_objs import FigureWidget
from plotly.subplots import make_subplots

from workbench import metrics as M
from workbench.notebook.sweepdata import TRACE_KEYS, format_value

# Past this many points a trace's data go to its WebGL twin: plotly.js redraws an SVG
# scatter of a thousand points in about 100 ms in Chromium, a WebGL one of 20,000 in under
# 80 ms (test-artifacts/measure_browser_render.py).
GL_POINTS = 1000
GL_TWINS = {"curve": "curve_gl", "trials": "trials_gl"}
# Beside a WebGL twin, the points that came since it was last sent: a small trace, so a new
# observation reaches the screen without re-sending tens of thousands of points.
RECENT = {"curve": "curve_recent", "trials": "trials_recent"}
COST_LABELS = {M.WALL_TIME: "wall-clock seconds", M.AGENT_STEPS: "agent steps"}
MODEL = "#e76f51"
TRACE_STYLES = {
    "band": dict(
        name="model: ±2σ band",
        mode="lines",
        fill="toself",
        fillcolor="rgba(231,111,81,0.18)",
        line=dict(width=0),
        hoverinfo="skip",
    ),
    "model": dict(
        name="model: predicted front",
        mode="lines",
        line=dict(color=MODEL, dash="dash", width=2),
        hovertemplate="model: best predicted %{y:.4g} at cost %{x:.4g}<extra></extra>",
    ),
    "curve": dict(
        name="curve points", mode="markers", marker=dict(size=5, color="rgba(31,119,180,0.28)")
    ),
    "trail": dict(
        name="running: curves so far",
        mode="lines",
        line=dict(color="rgba(148,103,189,0.55)", width=1.5, dash="dot"),
        hoverinfo="skip",
    ),
    "front": dict(name="observed front", mode="lines", line=dict(shape="hv", color="#264653")),
    "trials": dict(
        name="trials (final)",
        mode="markers",
        marker=dict(size=10, color="#1f77b4", line=dict(width=1, color="white")),
    ),
    "pruned": dict(
        name="pruned",
        mode="markers",
        marker=dict(symbol="triangle-down", size=11, color="#f4a261", line=dict(width=1)),
    ),
    "stopped": dict(
        name="stopped",
        mode="markers",
        marker=dict(symbol="square", size=9, color="#8d99ae", line=dict(width=1)),
    ),
    "failed": dict(
        name="failed (no score: on the floor)",
        mode="markers",
        marker=dict(symbol="x", size=11, color="#d62828"),
    ),
    "running": dict(
        name="running",
        mode="markers",
        marker=dict(symbol="circle-open", size=13, color="#9467bd", line=dict(width=2.5)),
    ),
    "newest": dict(
        name="newest trial",
        mode="markers",
        marker=dict(symbol="circle-open", size=20, color="#e9c46a", line=dict(width=3)),
    ),
    "selected": dict(
        name="selected",
        mode="markers",
        marker=dict(symbol="star", size=17, color="#111111", line=dict(width=1, color="white")),
    ),
}


def full_width(fig) -> FigureWidget:
    """A FigureWidget of ``fig`` with no fixed width, refitted to its output on window
    resizes (plotly.js ``responsive``; see ``curves.FitWidth``). Layout set before the
    widget exists reaches every view of it, so set it here, not after."""
    fig.update_layout(autosize=True)
    widget = FigureWidget(fig)
    widget._config = {**widget._config, "responsive": True}
    return widget


def cost_title(axis: str) -> str:
    return f"{COST_LABELS.get(axis, axis)} per trial (log scale)"


def pareto_figure(metric: str, axis: str, title: str, height: int = 520) -> FigureWidget:
    fig = go.Figure(
        layout=go.Layout(
            height=height,
            template="plotly_white",
            title=dict(text=title, x=0.01, xanchor="left"),
            margin=dict(l=70, r=20, t=50, b=60),
            xaxis=dict(type="log", title=cost_title(axis)),
            yaxis=dict(title=f"{metric} (higher is better)"),
            legend=dict(x=1.02, y=1, xanchor="left", font=dict(size=12)),
            hovermode="closest",
            hoverlabel=dict(align="left"),
            clickmode="event",
        )
    )
    for key in TRACE_KEYS:
        fig.add_scatter(x=[], y=[], meta=key, showlegend=False, **TRACE_STYLES[key])
    for key, recent in RECENT.items():
        fig.add_scatter(x=[], y=[], meta=recent, showlegend=False, **TRACE_STYLES[key])
    return full_width(fig)


def add_gl_twin(fig: FigureWidget, key: str, hovertemplate: str):
    """Add the WebGL trace that trace ``key``'s points move to once there are many;
    returns it. Added only then: a WebGL trace costs its first draw half a second, and a
    plot scrolled out of view is not drawn until it comes back."""
    fig.add_scattergl(
        x=[],
        y=[],
        meta=GL_TWINS[key],
        showlegend=False,
        hovertemplate=hovertemplate,
        **TRACE_STYLES[key],
    )
    return fig.data[-1]


def point_template(metric: str, axis: str) -> str:
    return (
        f"{metric} %{{y:.4g}}<br>{COST_LABELS.get(axis, axis)} %{{x:.4g}}<br>"
        "%{hovertext}<extra></extra>"
    )


def importance_figure(parameters: int) -> FigureWidget:
    """Bars for ``parameters`` swept parameters (the height is set once: a later height
    change would fix the width too, plotly.js turns autosize off then)."""
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.6, 0.4],
        horizontal_spacing=0.04,
        subplot_titles=(
            "importance: total effect (darker: main effect alone)",
            "Spearman rank correlation",
        ),
    )
    fig.add_bar(
        x=[], y=[], orientation="h", name="total effect", marker_color="#a8dadc", row=1, col=1
    )
    fig.add_bar(
        x=[], y=[], orientation="h", name="main effect", marker_color="#457b9d", row=1, col=1
    )
    fig.add_bar(x=[], y=[], orientation="h", name="Spearman", row=1, col=2)
    fig.update_layout(
        height=150 + 30 * max(parameters, 2),
        template="plotly_white",
        barmode="overlay",
        showlegend=False,
        margin=dict(l=130, r=20, t=70, b=50),
        title=dict(text="Which parameters explain the score", x=0.01, xanchor="left"),
    )
    fig.update_xaxes(range=[0, 1], title_text="share of the surrogate's variance", row=1, col=1)
    fig.update_xaxes(range=[-1, 1], title_text="rank correlation", row=1, col=2)
    return full_width(fig)


def update_importance(fig: FigureWidget, table: pd.DataFrame, metric: str) -> None:
    """Draw ``parameter_importance``'s table (most important on top)."""
    rows = table.iloc[::-1]  # plotly stacks bars bottom-up
    names = [str(n) for n in rows["parameter"]]
    spearman = [float(v) for v in rows["spearman"].fillna(0.0)]
    n, r2 = table.attrs.get("n", 0), table.attrs.get("r2", math.nan)
    if len(table):
        title = (
            f"What explains {metric}: random forest over {n} observations "
            f"(out-of-bag R² {r2:.2f}"
            + ("; it explains little yet: read with care)" if not r2 >= 0.3 else ")")
        )
    else:
        title = f"What explains {metric}: needs 5 scored observations ({n} so far)"
    with fig.batch_update():
        fig.data[0].update(x=[float(v) for v in rows["importance"]], y=names)
        fig.data[1].update(x=[float(v) for v in rows["main_effect"]], y=names)
        fig.data[2].update(
            x=spearman,
            y=names,
            marker_color=["#2a9d8f" if v >= 0 else "#e76f51" for v in spearman],
        )
        fig.layout.title.text = title
        # the order of the table (by total effect), not of first appearance
        fig.update_yaxes(categoryorder="array", categoryarray=names)


def short_number(value: float) -> str:
    """3 significant digits, thousands as k and millions as M: 0.003, 250, 20k, 1.5M."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick positions (log10) and labels (original units) between ``low`` and ``high``:
    1-2-5 steps per decade (1-2-3-5-7 inside a single decade, ends when still too few)."""
    lo, hi = math.floor(math.log10(low)), math.ceil(math.log10(high))
    steps = (1, 2, 5) if hi - lo > 1 else (1, 2, 3, 5, 7)
    if hi - lo > 3:
        steps = (1,)
    values = [m * 10.0**e for e in range(lo, hi + 1) for m in steps]
    values = [v for v in values if low * 0.999 <= v <= high * 1.001]
    if len(values) < 3:  # a narrow range: evenly spaced (in log) round numbers across it
        if high <= low * 1.0001:
            low, high = low / 1.5, high * 1.5
        even = np.geomspace(low, high, 4).tolist()
        for digits in range(2, 7):  # as few digits as still tell the ticks apart
            rounded = sorted({float(f"{v:.{digits}g}") for v in (*values, *even)})
            if len(rounded) >= 3:
                break
        values = rounded
    return [math.log10(v) for v in values], [short_number(v) for v in values]


def pow2_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Powers of two between ``low`` and ``high`` (every other one past eight), on log10."""
    powers = list(range(math.ceil(math.log2(low)), math.floor(math.log2(high)) + 1))
    if len(powers) > 8:
        powers = powers[:: -(-len(powers) // 8)]
    values = [2.0**p for p in powers]
    return [math.log10(v) for v in values], [f"{v:.0f}" if v >= 1 else f"{v:g}" for v in values]


def plain(values) -> list:
    """Numbers as a plain list of floats, None where not finite: what plotly is handed
    (numpy arrays come back from the browser in forms plotly's widget cannot compare)."""
    out = []
    for v in np.asarray(values, dtype=float).ravel().tolist():
        out.append(v if math.isfinite(v) else None)
    return out


def _dimension(name: str, spec: dict, values: pd.Series) -> dict:
    kind = spec.get("kind")
    v = pd.to_numeric(values, errors="coerce") if kind != "categorical" else values
    if kind in ("log", "pow2"):
        low, high = float(spec["min"]), float(spec["max"])
        low, high = min(low, float(v.min())), max(high, float(v.max()))
        ticks, text = log_ticks(low, high) if kind == "log" else pow2_ticks(low, high)
        return dict(
            label=f"{name} (log)",
            values=plain(np.log10(v.to_numpy(dtype=float))),
            range=[math.log10(low), math.log10(high)],
            tickvals=ticks,
            ticktext=text,
        )
    if kind == "logit":  # by the distance to 1: 0.9, 0.99, 0.999 equally spaced
        low, high = float(spec["min"]), float(spec["max"])
        to = lambda x: -np.log10(1.0 - np.asarray(x, dtype=float))  # noqa: E731
        ticks = [t for t in (0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999) if low <= t <= high]
        ticks = sorted({low, *ticks, high})
        return dict(
            label=name,
            values=plain(to(v)),
            range=[float(to(low)), float(to(high))],
            tickvals=plain(to(ticks)),
            ticktext=[format_value(t) for t in ticks],
        )
    if kind == "categorical":
        options = list(spec["values"])
        codes = [options.index(x) if x in options else np.nan for x in values]
        return dict(
            label=name,
            values=[None if isinstance(c, float) else int(c) for c in codes],
            range=[0, max(len(options) - 1, 1)],
            tickvals=list(range(len(options))),
            ticktext=[str(o) for o in options],
        )
    if kind == "int":  # whole-number ticks (plotly would put some at halves)
        low, high = int(spec["min"]), int(spec["max"])
        step = max(1, -(-(high - low) // 8))
        ticks = list(range(low, high + 1, step))
        return dict(
            label=name,
            values=plain(v.to_numpy(dtype=float)),
            range=[low, high],
            tickvals=ticks,
            ticktext=[f"{t:,}" for t in ticks],
        )
    return dict(label=name, values=plain(v.to_numpy(dtype=float)))


def parcoords_figure(metric: str) -> FigureWidget:
    """Parallel coordinates, the colour bar in place from the start (plotly.js does not
    draw one that a later restyle adds)."""
    fig = go.Figure(
        layout=go.Layout(
            height=380,
            template="plotly_white",
            margin=dict(l=80, r=130, t=90, b=30),
            title=dict(text="Trials in parameter space", x=0.01, xanchor="left"),
        )
    )
    fig.add_parcoords(
        dimensions=[dict(label="waiting for trials", values=[0.0])],
        line=dict(color=[0.0], colorscale="Viridis", showscale=True, colorbar=_colorbar(metric)),
    )
    return full_width(fig)


def _colorbar(metric: str) -> dict:
    return dict(title=dict(text=metric), thickness=18)


def update_parcoords(fig: FigureWidget, results: pd.DataFrame, space: dict, metric: str):
    """One line per trial with a score, coloured by it; log-scale parameters on log axes."""
    scored = results[pd.to_numeric(results["score"], errors="coerce").notna()]
    names = [k for k in space if k in scored.columns and scored[k].notna().all()]
    if scored.empty or not names:
        return
    score = plain(scored["score"].to_numpy(dtype=float))
    dims = [_dimension(k, space[k], scored[k]) for k in names]
    dims.append(dict(label=metric, values=score))
    with fig.batch_update():
        # Assigned whole: ``update`` would also send the first old dimension's fields, and
        # plotly.js refuses a restyle that sets an array and one of its items together.
        fig.data[0].dimensions = dims
        fig.data[0].line.color = score
        n = len(scored)
        fig.layout.title.text = (
            f"{n} trial{'s' if n != 1 else ''} in parameter space, coloured by {metric} "
            "(drag along an axis to filter)"
        )

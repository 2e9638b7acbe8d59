"""Runs browser: the store's runs as a table filtered by a pandas query, selected runs
overlaid in the live curves (runs that differ only by seed as one mean with a min-max band),
and how each hyperparameter correlates with the score."""

from __future__ import annotations

import html

import ipywidgets as W
import pandas as pd
import plotly.graph_objects as go

from workbench import metrics as M
from workbench.notebook.curves import run_label, seed_groups, store_line
from workbench.ppo.config import TrainConfig
from workbench.store import RunStore

TABLE_COLUMNS = ["id", "name", "env", "status", M.AGENT_STEPS, M.WALL_TIME, M.SCORE, M.PERF]


def hyperparameter_correlations(runs: pd.DataFrame, target: str = M.SCORE) -> pd.Series:
    """Spearman correlation of every numeric TrainConfig field that varies with ``target``.

    Sorted by absolute strength; fields that are constant across the runs are left out.
    """
    if target not in runs or len(runs) < 3:
        return pd.Series(dtype=float)
    fields = [f for f in TrainConfig.__dataclass_fields__ if f in runs.columns]
    out = {}
    y = pd.to_numeric(runs[target], errors="coerce")
    for f in fields:
        x = pd.to_numeric(runs[f], errors="coerce")
        ok = x.notna() & y.notna()
        if ok.sum() < 3 or x[ok].nunique() < 2 or y[ok].nunique() < 2:
            continue
        out[f] = x[ok].rank().corr(y[ok].rank())
    series = pd.Series(out, dtype=float)
    return series.reindex(series.abs().sort_values(ascending=False).index)


class RunsBrowser:
    """Filter recorded runs, overlay them in ``curves``, and chart hyperparameter effects."""

    def __init__(self, store=None, curves=None, query: str = "", target: str = M.SCORE):
        self.store = store if isinstance(store, RunStore) else RunStore(store)
        self.curves = curves
        self.target = target
        self.query = W.Text(
            value=query,
            continuous_update=False,
            placeholder="pandas query, e.g. env == 'breakout' and score >= 300",
            layout=W.Layout(width="520px"),
        )
        self.apply = W.Button(description="Filter", icon="filter")
        self.selection = W.SelectMultiple(rows=6, layout=W.Layout(width="520px"))
        self.overlay = W.Button(description="Overlay selected", icon="line-chart")
        self.group_seeds = W.Checkbox(
            value=True, description="group seeds (mean, min-max band)", indent=False
        )
        if curves is not None:  # one setting: the curves view draws the groups
            W.link((self.group_seeds, "value"), (curves.group_toggle, "value"))
            curves.show_store(self.store)
        self.table = W.HTML()
        self.message = W.HTML()
        self.chart = go.FigureWidget(
            layout=go.Layout(
                height=300,
                template="plotly_white",
                margin=dict(l=140, r=20, t=40, b=55),
                title=f"Spearman correlation with final {target}",
                xaxis=dict(range=[-1, 1], title="rank correlation (-1 to 1)"),
                autosize=True,
            )
        )
        self.chart._config = {"responsive": True}
        self.apply.on_click(lambda _: self.refresh())
        self.query.observe(lambda _: self.refresh(), names="value")  # on Enter / blur
        self.overlay.on_click(lambda _: self.overlay_selected())
        self.widget = W.VBox(
            [
                store_line(self.store),
                W.HBox([self.query, self.apply]),
                self.message,
                self.table,
                W.HBox([self.selection, W.VBox([self.overlay, self.group_seeds])]),
                self.chart,
            ]
        )
        self.runs = pd.DataFrame()
        self.refresh()

    def refresh(self) -> pd.DataFrame:
        try:
            runs = self.store.runs(self.query.value.strip() or None)
            self.message.value = ""
        except Exception as e:  # a bad query is the user's typo: say so, keep the old view
            self.message.value = (
                f"<span style='color:#b00020'>Query failed: {html.escape(str(e))}</span>"
            )
            return self.runs
        self.runs = runs
        cols = [c for c in TABLE_COLUMNS if c in runs.columns]
        self.table.value = (
            runs[cols].to_html(
                index=False, float_format=lambda v: f"{v:.4g}", classes="wb-runs", border=0
            )
            if len(runs)
            else "<i>no runs match</i>"
        )
        self.selection.options = [(f"{r['name']} ({r['id']})", r["id"]) for _, r in runs.iterrows()]
        corr = hyperparameter_correlations(runs, self.target)
        with self.chart.batch_update():
            self.chart.data = []
            # an empty chart says why instead of showing bare axes
            why = (
                "" if len(corr) else "needs 3 or more runs with a score and a parameter that varies"
            )
            self.chart.layout.annotations = (
                [dict(text=why, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)]
                if why
                else []
            )
            self.chart.layout.yaxis.visible = bool(len(corr))
            if len(corr):
                colors = ["#2a9d8f" if v >= 0 else "#e76f51" for v in corr.to_numpy()[::-1]]
                self.chart.add_bar(
                    x=corr.to_numpy()[::-1],
                    y=list(corr.index[::-1]),
                    orientation="h",
                    marker_color=colors,
                )
        return runs

    def overlay_selected(self) -> None:
        if self.curves is None:
            return
        rows = {}
        for run_id in self.selection.value:
            rows[run_id] = self.runs[self.runs["id"] == run_id].iloc[0]
        names = {run_id: row["name"] for run_id, row in rows.items()}
        groups = seed_groups({i: self.store.run(i)["config"] for i in rows}, names)
        for run_id, row in rows.items():
            self.curves.add_run(
                run_label(row["name"], run_id),
                self.store.curve(run_id),
                started_at=float(row["started_at"]),
                group=groups.get(run_id),
            )

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

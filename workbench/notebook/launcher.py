"""A form that starts and stops training runs in the kernel, built from the registry and
TrainConfig. It talks to the trainer only through ``launch()`` and its handles. Below it,
:class:`SweepForm` starts and stops a sweep from a definition in ``sweeps/`` and shows
it in a :class:`~workbench.notebook.sweepview.SweepView`."""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path

import ipywidgets as W

from workbench import metrics as M
from workbench.envs import names
from workbench.notebook.curves import run_label, store_line
from workbench.ppo.config import ConfigError, field_docs, make_config
from workbench.ppo.run import RunHandle, launch
from workbench.store import RunStore

# The hyperparameters the form exposes, with their widgets.
FIELDS = {
    "total_steps": lambda: W.IntText(step=100_000),
    "num_envs": lambda: W.IntText(),
    "bptt_horizon": lambda: W.IntText(),
    "minibatch_size": lambda: W.IntText(step=256),
    "learning_rate": lambda: W.FloatLogSlider(
        base=10, min=-5, max=-0.5, step=0.05, readout_format=".2e"
    ),
    "gamma": lambda: W.BoundedFloatText(min=0.0, max=1.0, step=0.001),
    "gae_lambda": lambda: W.BoundedFloatText(min=0.0, max=1.0, step=0.01),
    "ent_coef": lambda: W.FloatText(step=0.001),
    "update_epochs": lambda: W.IntText(),
    "optimizer": lambda: W.Dropdown(options=["muon", "adam"]),
    "rnn": lambda: W.Checkbox(indent=False),
}


class RunCard:
    """A run's card that stays current: name and id, status, steps of the total, speed,
    score, and a Stop button that is disabled once the run has ended.

    ``watch=True`` refreshes it on a background thread (twice a second) until the run ends;
    a :class:`Launcher` refreshes its cards itself, also on each metric row."""

    STATUS_COLORS = {
        "running": "#1565c0",
        "finished": "#2e7d32",
        "stopped": "#ef6c00",
        "pruned": "#6d4c41",
        "failed": "#b00020",
    }

    def __init__(self, handle: RunHandle, name: str | None = None, watch: bool = True):
        self.handle = handle
        self.name = name or handle.store.run(handle.run_id)["name"]
        self.stop_button = W.Button(description="Stop", icon="stop", layout=W.Layout(width="80px"))
        self.stop_button.on_click(lambda _: handle.stop())
        self.line = W.HTML()
        self.widget = W.HBox([self.stop_button, self.line], layout=W.Layout(align_items="center"))
        self.update()
        if watch and not handle.done:
            threading.Thread(target=self._watch, daemon=True, name="wb-card").start()

    def update(self, row: dict | None = None) -> None:
        """Redraw from ``row`` (else the handle's newest); disable Stop once the run ended."""
        h = self.handle
        row = row or h.latest()
        status = h.status
        color = self.STATUS_COLORS.get(status, "#333")
        text = (
            f"<b>{html.escape(self.name)}</b> <code>{html.escape(h.run_id)}</code> "
            f"<span style='color:{color}'>[{status}]</span>"
        )
        if row:
            text += (
                f" &nbsp;{row[M.AGENT_STEPS]:,} / {h.config.total_steps:,} steps, "
                f"{row.get(M.SPS, 0) / 1e3:,.0f}k steps/s, {row.get(M.WALL_TIME, 0):.0f} s"
            )
            score = row.get(M.env(M.SCORE))
            if score is not None:
                text += f", score {score:.2f}"
        elif status == "running":
            text += " &nbsp;starting (no epoch finished yet)"
        if h.error is not None and status == "failed":
            text += f" <span style='color:#b00020'>{html.escape(str(h.error))[:200]}</span>"
        self.line.value = text
        self.stop_button.disabled = h.done

    def _watch(self) -> None:
        while not self.handle.done:
            self.update()
            time.sleep(0.5)
        self.update()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class Launcher:
    """Start several runs, each with a live :class:`RunCard` (its own Stop button)."""

    def __init__(self, curves=None, store=None, env: str = "breakout", envs=None, sweeps=None):
        self.curves = curves
        self.store = store if isinstance(store, RunStore) else RunStore(store)
        if curves is not None:
            curves.show_store(self.store)
        self.handles: list[RunHandle] = []
        self.cards: dict[str, RunCard] = {}  # run id -> its live card
        self._labels: dict[str, str] = {}
        docs = field_docs()
        self.env = W.Dropdown(options=list(envs or names()), value=env, description="env")
        self.name = W.Text(placeholder="run name (optional)", description="name")
        self.inputs = {}
        for key, build in FIELDS.items():
            widget = build()
            widget.description = key
            widget.tooltip = docs.get(key, "")
            widget.style = {"description_width": "110px"}
            self.inputs[key] = widget
        self.start_button = W.Button(description="Start", button_style="success", icon="play")
        self.stop_button = W.Button(
            description="Stop all", button_style="danger", icon="stop", disabled=True
        )
        self.message = W.HTML()
        self.runs_box = W.VBox()
        self.sweep = SweepForm(store=self.store, directory=sweeps)
        sweep_section = W.Accordion([self.sweep.widget], titles=("Sweep",), selected_index=None)
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop_all())
        self.env.observe(lambda change: self.load_defaults(change["new"]), names="value")
        self.load_defaults(env)
        grid = W.GridBox(
            list(self.inputs.values()), layout=W.Layout(grid_template_columns="repeat(3, 330px)")
        )
        self.widget = W.VBox(
            [
                store_line(self.store, "runs are recorded in"),
                W.HBox([self.env, self.name]),
                grid,
                W.HBox([self.start_button, self.stop_button]),
                self.message,
                self.runs_box,
                sweep_section,
            ]
        )
        self._watcher: threading.Thread | None = None

    def load_defaults(self, env: str) -> None:
        """Fill the form with the env's configuration (TrainConfig + its env.toml)."""
        cfg = make_config(env)
        for key, widget in self.inputs.items():
            widget.value = getattr(cfg, key)

    def overrides(self) -> dict:
        return {key: widget.value for key, widget in self.inputs.items()}

    def start(self) -> RunHandle | None:
        """Validate the form and launch a run; on a bad value, say so and start nothing."""
        try:
            handle = launch(
                self.env.value,
                store=self.store,
                name=self.name.value or None,
                on_log=self._on_log,
                **self.overrides(),
            )
        except (ConfigError, ValueError, TypeError) as e:
            self.message.value = (
                f"<span style='color:#b00020'>Not started: {html.escape(str(e))}</span>"
            )
            return None
        self.message.value = ""
        self._attach(handle)
        return handle

    def _on_log(self, run_id: str, row: dict) -> None:
        # Rows can arrive before launch() returns: the card catches up from handle.latest()
        # once it exists, and the curve needs only the run id. The card first: one line of
        # text, where a curve redraw can take a while.
        card = self.cards.get(run_id)
        if card is not None:
            card.update(row)
        if self.curves is not None:
            self.curves.append(run_label(self._label(run_id), run_id), row)

    def _label(self, run_id: str) -> str:
        if run_id not in self._labels:
            self._labels[run_id] = self.store.run(run_id)["name"]
        return self._labels[run_id]

    def _attach(self, handle: RunHandle) -> None:
        self.handles.append(handle)
        card = RunCard(handle, name=self._label(handle.run_id), watch=False)
        self.cards[handle.run_id] = card
        self.runs_box.children = (*self.runs_box.children, card.widget)
        self.stop_button.disabled = False
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._watch, daemon=True)
            self._watcher.start()

    def card(self, handle: RunHandle) -> RunCard:
        """The live card of a run this launcher started (the same widget as in the form)."""
        return self.cards[handle.run_id]

    def _watch(self) -> None:
        # Refresh the cards until every run has ended (final statuses included).
        while True:
            running = [h for h in self.handles if not h.done]
            for card in list(self.cards.values()):
                card.update()
            if not running:
                self.stop_button.disabled = True  # nothing left to stop
                return
            time.sleep(0.5)

    def stop_all(self) -> None:
        for handle in self.handles:
            handle.stop()

    def wait(self, timeout: float | None = None) -> None:
        for handle in self.handles:
            handle.wait(timeout)
        if self._watcher is not None:
            self._watcher.join(timeout)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def sweep_files(directory=None) -> dict[str, Path]:
    """Sweep definitions (``*.toml``) by file name, from ``directory``, else from the first
    of ``./sweeps``, ``../sweeps`` (a notebook in ``notebooks/``) and the checkout's."""
    import workbench

    places = [Path(directory)] if directory else []
    places += [
        Path("sweeps"),
        Path("..") / "sweeps",
        Path(workbench.__file__).parents[1] / "sweeps",
    ]
    for place in places:
        if place.is_dir() and any(place.glob("*.toml")):
            return {p.name: p for p in sorted(place.glob("*.toml"))}
    return {}


class SweepForm:
    """Start a sweep from a definition file with a budget in trials or minutes, watch it in
    a ``SweepView``, stop it."""

    def __init__(self, store=None, directory=None):
        self.store = store if isinstance(store, RunStore) else RunStore(store)
        self.files = sweep_files(directory)
        self.handle = None
        self.view = None
        self.definition = W.Dropdown(options=list(self.files), description="definition")
        self.unit = W.ToggleButtons(options=["trials", "minutes"], style={"button_width": "80px"})
        self.budget = W.BoundedFloatText(value=10, min=0, max=1e6, description="budget")
        self.start_button = W.Button(description="Start sweep", button_style="success", icon="play")
        self.stop_button = W.Button(
            description="Stop sweep", button_style="danger", icon="stop", disabled=True
        )
        self.message = W.HTML(
            "" if self.files else "<i>no sweep definitions found (a sweeps/ folder)</i>"
        )
        self.view_box = W.VBox()
        self.definition.observe(lambda change: self.load_budget(change["new"]), names="value")
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        if self.definition.value:
            self.load_budget(self.definition.value)
        self.widget = W.VBox(
            [
                W.HBox([self.definition, self.budget, self.unit]),
                W.HBox([self.start_button, self.stop_button]),
                self.message,
                self.view_box,
            ]
        )

    def load_budget(self, name: str) -> None:
        """Fill the budget with the definition's (trials, else its hours in minutes)."""
        from workbench.sweep.definition import load

        try:
            d = load(self.files[name])
        except ValueError as e:
            self.message.value = f"<span style='color:#b00020'>{html.escape(str(e))}</span>"
            return
        if d.trials:
            self.unit.value, self.budget.value = "trials", d.trials
        elif d.hours:
            self.unit.value, self.budget.value = "minutes", round(d.hours * 60, 2)

    def start(self):
        """Start the chosen sweep in the background; on a bad definition, say so."""
        from workbench.notebook.sweepview import SweepView
        from workbench.sweep import sweep

        if self.handle is not None and not self.handle.done:
            self.message.value = "<i>a sweep is running: stop it first</i>"
            return None
        if not self.definition.value or self.budget.value <= 0:
            self.message.value = "<i>choose a definition and a budget above 0</i>"
            return None
        if self.unit.value == "trials":
            budget = {"trials": max(1, round(self.budget.value))}
        else:
            budget = {"hours": self.budget.value / 60}
        try:
            handle = sweep(self.files[self.definition.value], store=self.store, **budget)
        except ValueError as e:  # a definition the loader refused: its message names the field
            self.message.value = (
                f"<span style='color:#b00020'>Not started: {html.escape(str(e))}</span>"
            )
            return None
        self.handle = handle
        self.view = SweepView(handle)
        self.view_box.children = [self.view.widget]
        self.stop_button.disabled = False
        threading.Thread(target=self._watch, args=(handle,), daemon=True).start()
        return handle

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.stop()

    def _watch(self, handle) -> None:
        while True:
            name = html.escape(handle.definition.name)
            self.message.value = f"sweep <b>{name}</b> [{handle.status}]"
            if handle.done:
                self.stop_button.disabled = True
                return
            time.sleep(0.3)

"""A form that starts and stops training runs in the kernel, built from the registry and
TrainConfig. It talks to the trainer only through ``launch()`` and its handles."""

from __future__ import annotations

import html
import threading
import time

import ipywidgets as W

from workbench import metrics as M
from workbench.envs import names
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


class Launcher:
    """Start several runs, each with a live status line and its own Stop button."""

    def __init__(self, curves=None, store=None, env: str = "breakout", envs=None):
        self.curves = curves
        self.store = store if isinstance(store, RunStore) else RunStore(store)
        self.handles: list[RunHandle] = []
        self._lines: dict[str, W.HTML] = {}
        self._labels: dict[str, str] = {}
        self._handles: dict[str, RunHandle] = {}
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
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop")
        self.message = W.HTML()
        self.runs_box = W.VBox()
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop_all())
        self.env.observe(lambda change: self.load_defaults(change["new"]), names="value")
        self.load_defaults(env)
        grid = W.GridBox(
            list(self.inputs.values()), layout=W.Layout(grid_template_columns="repeat(3, 330px)")
        )
        self.widget = W.VBox(
            [
                W.HBox([self.env, self.name]),
                grid,
                W.HBox([self.start_button, self.stop_button]),
                self.message,
                self.runs_box,
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
        # Rows can arrive before launch() returns: the curve needs only the run id, and the
        # status line catches up from handle.latest() once the handle is attached.
        if self.curves is not None:
            self.curves.append(self._label(run_id), row)
        handle = self._handles.get(run_id)
        if handle is not None:
            self._status(handle, row)

    def _label(self, run_id: str) -> str:
        if run_id not in self._labels:
            self._labels[run_id] = self.store.run(run_id)["name"]
        return self._labels[run_id]

    def _attach(self, handle: RunHandle) -> None:
        self.handles.append(handle)
        line = W.HTML()
        stop = W.Button(description="Stop", icon="stop", layout=W.Layout(width="80px"))
        stop.on_click(lambda _: handle.stop())
        self._lines[handle.run_id] = line
        self._handles[handle.run_id] = handle
        self.runs_box.children = (*self.runs_box.children, W.HBox([stop, line]))
        self._status(handle, None)
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._watch, daemon=True)
            self._watcher.start()

    def _status(self, handle: RunHandle, row: dict | None) -> None:
        line = self._lines.get(handle.run_id)
        if line is None:
            return
        row = row or handle.latest()
        label = html.escape(self._label(handle.run_id))
        text = f"<b>{label}</b> [{handle.status}]"
        if row:
            score = row.get(M.env(M.SCORE))
            text += (
                f" &nbsp;{row[M.AGENT_STEPS]:,} / {handle.config.total_steps:,} steps, "
                f"{row[M.SPS] / 1e3:,.0f}k steps/s"
            )
            if score is not None:
                text += f", score {score:.2f}"
        if handle.error is not None and handle.status == "failed":
            text += f" <span style='color:#b00020'>{html.escape(str(handle.error))[:200]}</span>"
        line.value = text

    def _watch(self) -> None:
        # Refresh status lines until every run has ended (final statuses included).
        while True:
            running = [h for h in self.handles if not h.done]
            for h in self.handles:
                self._status(h, None)
            if not running:
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

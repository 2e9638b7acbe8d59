"""``SteeringPanel``: buttons that steer a sweep from its view, through its handle.

Two widgets. ``trial_widget`` acts on the selected trial: Stop it (while it runs), Re-run
its config on N seeds, Queue a copy with parameters edited in a small form pre-filled with
its own. ``sweep_widget`` acts on the sweep: Pause / Resume, Extend (+N trials, +H hours),
Reseed the best k configs on s seeds, and Edit space (narrow or widen a range, pin a
parameter, add a constraint) above the sweep's steering history.

Every button calls one of the ``SweepHandle``'s steering methods, which checks the request
and writes it to the store; the sweep's driver, here or in another process, applies it
before its next suggestion. A refused request shows the handle's one-line reason in red;
the history shows when each request was applied, or why the driver refused it.

The panel is built on the view's ``SweepMonitor``: it re-reads the sweep's status and
history from the store at most every second as the monitor polls, takes the handle from it
when a button is first clicked (a recorded sweep's is rebuilt then, not before), and after
a request that may start an ended sweep again (Extend) it wakes the monitor. The view calls
``select(run_id, record)`` / ``clear()``; ``refresh()`` reads the store now.
"""

from __future__ import annotations

import ast
import html
import math
import sqlite3
import threading
import time

import ipywidgets as W
import pandas as pd

from workbench.notebook.sweepdata import format_value
from workbench.store import FINAL_STATUSES
from workbench.sweep.space import Space
from workbench.sweep.steering import allowed_values

NUMBER = W.Layout(width="110px")
NAME = W.Layout(width="150px")
RANGE = W.Layout(width="150px")
RED = "#b00020"
HISTORY_ROWS = 12  # newest requests shown under Edit space


def ok(text: str) -> str:
    return f"<span style='color:#1b5e20'>{html.escape(text)}</span>"


def refused(text: str) -> str:
    return f"<span style='color:{RED}'>{html.escape(text)}</span>"


def reason(e: BaseException) -> str:
    """A refused request's sentence: the error's own words (a KeyError's without quotes)."""
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    return str(e)


def parse_value(text: str):
    """A value typed in a box: a Python literal (0.9, 64, 'relu', True), else the text."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def summary(kind: str, payload: dict) -> str:
    """One line saying what a steering request asked for."""
    if kind == "edit":
        parts = []
        for name, spec in (payload.get("space") or {}).items():
            if not isinstance(spec, dict):
                parts.append(f"pin {name} = {format_value(spec)}")
            elif spec.get("kind") == "categorical":
                parts.append(f"{name} in {[format_value(v) for v in spec['values']]}")
            else:
                low, high = format_value(spec.get("min")), format_value(spec.get("max"))
                parts.append(f"{name} {low} .. {high}")
        for name, value in (payload.get("fixed") or {}).items():
            parts.append(f"fixed {name} = {format_value(value)}")
        constraints = payload.get("constraints")
        if constraints:
            parts.append(f"constraints {constraints}")
        for key in ("trials", "hours", "max_cost"):
            if payload.get(key) is not None:
                parts.append(f"{key} = {format_value(payload[key])}")
        return "; ".join(parts)
    if kind == "enqueue":
        params = ", ".join(f"{k} = {format_value(v)}" for k, v in payload["params"].items())
        seeds = payload.get("seeds", 1)
        return params + (f" on {seeds} seeds" if seeds > 1 else "")
    if kind == "reseed":
        return f"best {payload['k']} on {payload['seeds']} seeds each"
    if kind == "extend":
        more = [f"+{payload['trials']} trials"] if payload.get("trials") else []
        more += [f"+{format_value(payload['hours'])} h"] if payload.get("hours") else []
        return ", ".join(more)
    if kind == "stop_trial":
        why = payload.get("reason") or "by hand"
        return f"{payload['run_id']} ({why})" + ("" if payload.get("stopped", True) else ", ended")
    return ""


def history_html(history, running: bool) -> str:
    """The steering history as a small table, newest first."""
    if history is None or history.empty:
        return "<small><i>No steering requests yet.</i></small>"
    rows = []
    for ev in history.to_dict("records")[::-1][:HISTORY_ROWS]:
        if isinstance(ev["error"], str) and ev["error"]:
            state = f"<span style='color:{RED}'>refused: {html.escape(ev['error'])}</span>"
        elif not pd.isna(ev["applied_at"]):
            state = "applied " + time.strftime("%H:%M:%S", time.localtime(ev["applied_at"]))
        else:
            state = "<i>pending</i>" if running else "<i>pending: runs when extended</i>"
        asked = time.strftime("%H:%M:%S", time.localtime(ev["requested_at"]))
        rows.append(
            f"<tr><td>{int(ev['seq'])}</td><td>{asked}</td><td><b>{ev['kind']}</b></td>"
            f"<td>{html.escape(summary(ev['kind'], ev['payload']))}</td><td>{state}</td></tr>"
        )
    more = len(history) - HISTORY_ROWS
    head = "<tr><th>#</th><th>asked</th><th>request</th><th>what</th><th>result</th></tr>"
    return (
        "<style>.wb-steer-history td, .wb-steer-history th "
        "{padding: 1px 8px; text-align: left; vertical-align: top}</style>"
        "<table class='wb-steer-history' style='font-size:12px'>"
        + head
        + "".join(rows)
        + "</table>"
        + (f"<small><i>{more} older requests not shown</i></small>" if more > 0 else "")
    )


def paused_state(history) -> tuple[bool, bool]:
    """(paused, still pending) from the last pause or resume request not refused."""
    if history is None or history.empty:
        return False, False
    asks = history[history["kind"].isin(["pause", "resume"]) & history["error"].isna()]
    if asks.empty:
        return False, False
    last = asks.iloc[-1]
    return last["kind"] == "pause", bool(pd.isna(last["applied_at"]))


class _ParamRow:
    """One swept parameter in the Edit space form: its range (or values) and a pin."""

    def __init__(self, name: str, spec: dict, definition):
        self.name, self.spec, self.kind = name, spec, spec["kind"]
        whole = isinstance(definition.coerce({name: 1.5})[name], int)
        label = W.HTML(f"<code>{html.escape(name)}</code> <small>{self.kind}</small>", layout=NAME)
        self.pin = W.Checkbox(
            value=False, description="pin", indent=False, layout=W.Layout(width="50px")
        )
        if self.kind == "categorical":
            self.values = allowed_values(definition, name)
            self.range = W.Text(
                value=", ".join(repr(v) if isinstance(v, str) else str(v) for v in self.values),
                description="values",
                style={"description_width": "48px"},
                layout=W.Layout(width="300px"),
            )
            self.pin_value = W.Dropdown(
                options=[(format_value(v), v) for v in self.values], layout=NUMBER
            )
            boxes = [self.range]
        else:
            box = W.IntText if whole else W.FloatText
            tight = {"description_width": "32px"}
            self.low = box(value=spec["min"], description="min", style=tight, layout=RANGE)
            self.high = box(value=spec["max"], description="max", style=tight, layout=RANGE)
            center = Space({name: spec}).center()[name]  # a pin starts at the search's start
            self.pin_value = box(value=round(center) if whole else center, layout=NUMBER)
            boxes = [self.low, self.high]
        self.pin_value.disabled = True
        self.pin.observe(lambda c: setattr(self.pin_value, "disabled", not c["new"]), "value")
        self.widget = W.HBox([label, *boxes, self.pin, self.pin_value])

    def edit(self):
        """This parameter's part of an edit: a new spec, a pinned value, or None."""
        if self.pin.value:
            return self.pin_value.value
        if self.kind == "categorical":
            values = [parse_value(v) for v in self.range.value.split(",") if v.strip()]
            if values == self.values:
                return None
            spec = {**self.spec, "values": values}
            if spec.get("center") not in values:
                spec.pop("center", None)
            return spec
        low, high = self.low.value, self.high.value
        if (low, high) == (self.spec["min"], self.spec["max"]):
            return None
        spec = {**self.spec, "min": low, "max": high}
        if "center" in spec and not low <= spec["center"] <= high:
            spec.pop("center")  # a narrowed range starts from its own centre
        return spec


class SteeringPanel:
    """Steering buttons for the sweep a ``SweepMonitor`` watches (see the module doc):
    ``trial_widget`` for the selected trial, ``sweep_widget`` for the sweep, ``widget``
    both."""

    def __init__(self, monitor, every: float = 1.0):
        self.monitor = monitor
        self.store, self.id = monitor.store, monitor.id
        self.every = every  # seconds between reads of the store as the monitor polls
        self._read_at = -math.inf
        self.run_id: str | None = None
        self.record: dict | None = None
        self.history = None
        self._lock = threading.RLock()  # the monitor's thread refreshes, clicks come here
        self._applied = 0  # applied edits and extends the definition has seen
        self.definition = monitor.d  # the definition the sweep runs with now
        self._build()
        self.refresh()
        monitor.subscribe(self._on_event)

    @property
    def handle(self):
        """The sweep's handle, its definition brought up to date (see ``_follow``)."""
        h = self.monitor.handle
        if not self.monitor.live and h.thread is None:
            h.definition = self.definition  # its checks then match what the driver applies
        return h

    def _on_event(self, event: str) -> None:
        if event in ("data", "tick", "final"):
            self.poll()

    # -- widgets --
    def _build(self) -> None:
        auto = W.Layout(width="auto", min_width="fit-content")
        small = W.Layout(width="70px")
        self.stop_button = W.Button(
            description="Stop trial", icon="stop", disabled=True, layout=auto
        )
        self.seeds = W.BoundedIntText(value=3, min=1, max=100, layout=small)
        self.rerun_button = W.Button(
            description="Re-run on", icon="repeat", disabled=True, layout=auto
        )
        self.copy_form = W.VBox()
        self.queue_button = W.Button(
            description="Queue a copy", icon="plus", disabled=True, layout=auto
        )
        self.trial_message = W.HTML()
        self.stop_button.on_click(lambda _: self.stop_trial())
        self.rerun_button.on_click(lambda _: self.rerun())
        self.queue_button.on_click(lambda _: self.queue_copy())
        self.trial_widget = W.VBox(
            [
                W.HBox(
                    [self.stop_button, self.rerun_button, self.seeds, W.HTML("&nbsp;seeds")],
                    layout=W.Layout(align_items="center", grid_gap="8px"),
                ),
                self.copy_form,
                W.HBox([self.queue_button]),
                self.trial_message,
            ]
        )

        self.pause_button = W.Button(description="Pause", icon="pause", layout=auto)
        self.more_trials = W.BoundedIntText(value=0, min=0, max=10**6, layout=small)
        self.more_hours = W.BoundedFloatText(value=0.0, min=0.0, max=10**4, layout=small)
        self.extend_button = W.Button(description="Extend", icon="forward", layout=auto)
        self.reseed_k = W.BoundedIntText(value=3, min=1, max=100, layout=small)
        self.reseed_seeds = W.BoundedIntText(value=2, min=1, max=100, layout=small)
        self.reseed_button = W.Button(description="Reseed best", icon="random", layout=auto)
        self.sweep_status = W.HTML()
        self.sweep_message = W.HTML()
        self.space_form = W.VBox()
        self.constraint = W.Text(
            placeholder="e.g. learning_rate <= 0.01",
            description="add constraint",
            style={"description_width": "initial"},
            layout=W.Layout(width="420px"),
        )
        self.apply_button = W.Button(
            description="Apply edit", icon="check", button_style="warning", layout=auto
        )
        self.edit_message = W.HTML()
        self.history_html = W.HTML()
        self.pause_button.on_click(lambda _: self.toggle_pause())
        self.extend_button.on_click(lambda _: self.extend())
        self.reseed_button.on_click(lambda _: self.reseed())
        self.apply_button.on_click(lambda _: self.apply_edit())
        row = W.Layout(align_items="center", grid_gap="8px", flex_flow="row wrap")
        label = lambda text: W.HTML(f"&nbsp;{text}&nbsp;")  # noqa: E731
        self.sweep_widget = W.VBox(
            [
                W.HBox(
                    [
                        self.pause_button,
                        self.extend_button,
                        label("+"),
                        self.more_trials,
                        label("trials +"),
                        self.more_hours,
                        label("hours"),
                        self.reseed_button,
                        self.reseed_k,
                        label("configs on"),
                        self.reseed_seeds,
                        label("seeds"),
                    ],
                    layout=row,
                ),
                self.sweep_status,
                self.sweep_message,
                W.HTML("<b>Edit space</b> <small>(narrow or widen a range, pin a value)</small>"),
                self.space_form,
                W.HBox([self.constraint, self.apply_button], layout=row),
                self.edit_message,
                W.HTML("<b>Steering history</b>"),
                self.history_html,
            ]
        )
        self.widget = W.VBox([self.trial_widget, self.sweep_widget])

    def _build_space_form(self) -> None:
        d = self.definition
        self.param_rows = {n: _ParamRow(n, spec, d) for n, spec in d.space.items()}
        self.space_form.children = [r.widget for r in self.param_rows.values()]

    def _build_copy_form(self) -> None:
        """One box per swept parameter, filled with the selected trial's values."""
        self.copy_fields = {}
        if self.run_id is None:
            self.copy_form.children = []
            return
        d = self.definition
        values = {**Space(d.space).center(), **self._trial_params()}
        for name, spec in d.space.items():
            value = values[name]
            if spec["kind"] == "categorical":
                options = allowed_values(d, name)
                options = options if value in options else [*options, value]
                box = W.Dropdown(options=[(format_value(v), v) for v in options], value=value)
            elif isinstance(d.coerce({name: 1.5})[name], int):
                box = W.IntText(value=round(value))
            else:
                box = W.FloatText(value=float(value))
            box.description = name
            box.style = {"description_width": "140px"}
            box.layout = W.Layout(width="300px")
            self.copy_fields[name] = box
        note = W.HTML("<small>A copy of it, with these parameters:</small>")
        self.copy_form.children = [note, *self.copy_fields.values()]

    # -- what the view calls --
    def select(self, run_id: str, record: dict) -> None:
        """Act on this trial (``record``: its status, name and parameters, as the view
        read them)."""
        with self._lock:
            self.run_id, self.record = run_id, dict(record)
            self.trial_message.value = ""
            self._build_copy_form()
            self.rerun_button.disabled = self.queue_button.disabled = False
            self._update_trial()

    def clear(self) -> None:
        """No trial selected: its buttons are off."""
        with self._lock:
            self.run_id = self.record = None
            self._build_copy_form()
            self.trial_message.value = ""
            self.stop_button.disabled = self.rerun_button.disabled = True
            self.queue_button.disabled = True

    def poll(self, force: bool = False) -> None:
        """``refresh()`` if ``every`` seconds have passed since the last (or ``force``): a
        view calls this each time it polls the store."""
        if force or time.monotonic() - self._read_at >= self.every:
            self.refresh()

    def refresh(self) -> None:
        """Read the sweep's status and steering history from the store and redraw them
        (and the forms, once an edit changed the space)."""
        with self._lock:
            self._read_at = time.monotonic()
            self.history = self.store.events(self.id)
            self._follow()
            running = self.store.sweep(self.id)["status"] == "running"
            paused, pending = paused_state(self.history)
            self.pause_button.description = "Resume" if paused else "Pause"
            self.pause_button.icon = "play" if paused else "pause"
            state = "paused" if paused else "running"
            if not running:
                state = "ended: Extend runs it again"
            if pending:
                state += f"; {'pause' if paused else 'resume'} requested"
            d = self.definition
            budget = [f"{d.trials} trials"] if d.trials else []
            budget += [f"{format_value(d.hours)} hours"] if d.hours else []
            self.sweep_status.value = (
                f"<small>sweep <b>{html.escape(state)}</b>"
                + (f", budget {' and '.join(budget)}" if budget else "")
                + f"; swept: {html.escape(', '.join(d.space))}</small>"
            )
            self.history_html.value = history_html(self.history, running)
            if self.run_id is not None:
                self._update_trial()

    # -- actions (the buttons call these) --
    def stop_trial(self) -> bool | None:
        """Stop the selected trial (recorded ``stopped``); True if it was running, None if
        refused."""
        name = self._name()
        done, stopped = self._act(
            self.trial_message,
            lambda: self.handle.stop_trial(self.run_id, "stopped from the sweep view"),
            lambda stopped: (
                f"stopping {name}: it ends at its next check"
                if stopped
                else f"{name} had already ended"
            ),
        )
        self._update_trial()
        return stopped if done else None

    def rerun(self, seeds: int | None = None) -> list | None:
        """Queue the selected trial's config again on ``seeds`` fresh seeds (default: the
        box's N); the queued trials, or None if refused."""
        n = self.seeds.value if seeds is None else seeds
        _, trials = self._act(
            self.trial_message,
            lambda: self.handle.enqueue(self._trial_params(), seeds=n),
            lambda _: (
                f"queued {self._name()}'s config on {n} seed{'s' * (n > 1)}: "
                "it runs before the next suggestion"
            ),
        )
        self.refresh()
        return trials

    def queue_copy(self) -> list | None:
        """Queue one trial with the parameters in the copy form."""

        def queued(trials):
            params = ", ".join(f"{k} = {format_value(v)}" for k, v in trials[0]["params"].items())
            return f"queued a copy of {self._name()}: {params}"

        params = {name: box.value for name, box in self.copy_fields.items()}
        _, trials = self._act(
            self.trial_message, lambda: self.handle.enqueue(params, seeds=1), queued
        )
        self.refresh()
        return trials

    def toggle_pause(self) -> None:
        """Pause the sweep, or resume it if it is paused (or a pause is pending)."""
        paused, _ = paused_state(self.store.events(self.id))
        if paused:
            self._act(self.sweep_message, self.handle.resume, "resume requested")
        else:
            self._act(
                self.sweep_message,
                self.handle.pause,
                "pause requested: trials in flight finish, no new one starts",
            )
        self.refresh()

    def extend(self, trials: int | None = None, hours: float | None = None) -> None:
        """More budget: ``trials`` and ``hours`` (default: the boxes' values; 0 is none)."""
        trials = trials if trials is not None else (self.more_trials.value or None)
        hours = hours if hours is not None else (self.more_hours.value or None)
        again = ": the sweep runs again" if self.handle.done else ""
        more = summary("extend", {"trials": trials, "hours": hours})
        self._act(
            self.sweep_message,
            lambda: self.handle.extend(trials, hours),
            f"extend requested: {more}{again}",
        )
        self.refresh()

    def reseed(self) -> None:
        """Run the best k configs of the front again, each on s fresh seeds."""
        k, s = self.reseed_k.value, self.reseed_seeds.value
        self._act(
            self.sweep_message,
            lambda: self.handle.reseed(k, s),
            f"reseed requested: the best {k} config{'s' * (k > 1)} on {s} fresh "
            f"seed{'s' * (s > 1)} each",
        )
        self.refresh()

    def apply_edit(self):
        """Send the Edit space form's changes as one edit; returns the definition the sweep
        will run with, or None if refused."""
        before = self.definition

        def edit():
            space = {}
            for name, row in self.param_rows.items():
                change = row.edit()
                if isinstance(change, dict):
                    space[name] = change
                elif change is not None:  # a pin, in the trainer's type
                    space[name] = before.coerce({name: change})[name]
            extra = self.constraint.value.strip()
            if not space and not extra:
                raise ValueError(
                    "nothing to apply: change a range, pin a value or add a constraint"
                )
            return self.handle.edit(space=space or None, constraints=[extra] if extra else None)

        def requested(after):
            pinned = [n for n in before.space if n not in after.space]
            return f"edit requested: swept {', '.join(after.space)}" + (
                f"; pinned {', '.join(pinned)}" if pinned else ""
            )

        done, after = self._act(self.edit_message, edit, requested)
        if done:
            self.constraint.value = ""
        self.refresh()
        return after

    # -- helpers --
    def _act(self, message: W.HTML, call, sentence) -> tuple[bool, object]:
        """Run a steering call and say how it went: ``sentence`` (a string, or a function
        of the call's result) in green, or the refusal's own words in red."""
        try:  # not under the panel's lock: the call may wait for the engine's
            result = call()
        except (ValueError, KeyError) as e:
            message.value = refused(f"Refused: {reason(e)}")
            return False, None
        except sqlite3.OperationalError as e:  # a store busy past its timeout, say
            message.value = refused(f"Not sent, the store said: {e}. Try again.")
            return False, None
        message.value = ok(sentence(result) if callable(sentence) else sentence)
        self._wake()
        return True, result

    def _wake(self) -> None:
        """A request may start an ended sweep again (Extend): a monitor that stopped
        polling reads the store now and polls again (unless never started, or closed)."""
        m = self.monitor
        if m.threads and not m.closed:
            m.poll(force=True)
            m.start()

    def _name(self) -> str:
        return str(self.record["name"]) if self.record else str(self.run_id)

    def _trial_params(self) -> dict:
        """The selected trial's values of every parameter swept now (a parameter swept
        since it ran takes the value it ran with)."""
        config = self.store.run(self.run_id)["config"] or {}
        values = {**config, **config.get("env_params", {}), **self.record.get("params", {})}
        return {n: values[n] for n in self.definition.space if n in values}

    def _update_trial(self) -> None:
        status = self.store.run(self.run_id)["status"]
        self.stop_button.disabled = status in FINAL_STATUSES

    def _follow(self) -> None:
        """Keep the definition the sweep runs with now: a live handle's driver keeps it; a
        recorded sweep's (another process may run it) is read again from the store when an
        edit or extend was applied there."""
        history = self.history
        applied = 0
        if history is not None and not history.empty:
            changes = history[history["kind"].isin(["edit", "extend"])]
            applied = int(changes["applied_at"].notna().sum())
        old = self.definition
        if self.monitor.live:
            self.definition = self.monitor.handle.definition
        elif applied != self._applied:
            from workbench.sweep.driver import recorded_definition

            self.definition = recorded_definition(self.id, self.store)
        self._applied = applied
        d = self.definition
        if (old.space, old.constraints) != (d.space, d.constraints) or not self.space_form.children:
            self._build_space_form()
            if self.run_id is not None:
                self._build_copy_form()

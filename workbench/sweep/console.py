"""The terminal view of a sweep (``python -m workbench sweep``), on rich like the training
dashboard: a live panel on a terminal (trials, the running trial, the front, the next
suggestion's prediction), one plain line per trial otherwise."""

from __future__ import annotations

import signal
import threading
import time

from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from workbench import metrics as M
from workbench.dashboard import STATUS_STYLES, clock, console_for, number, si

SHOWN_TRIALS = 12
SHOWN_FRONT = 8


class SweepConsole:
    """Draws a :class:`~workbench.sweep.driver.SweepHandle`; call ``run()`` until it ends,
    or feed it trial records (``on_trial``) for plain lines."""

    def __init__(self, handle, stream=None, live: bool | None = None, refresh: float = 0.5):
        self.h = handle
        self.console = console_for(stream, live)
        self.live = self.console.is_terminal
        self.refresh = refresh
        self.started = time.time()

    def on_trial(self, record: dict) -> None:
        """A plain line for a trial that ended (off a terminal)."""
        if self.live:
            return
        d = self.h.definition
        params = " ".join(f"{k}={number(v, 3)}" for k, v in record["params"].items())
        why = record.get("reason") or record.get("error") or ""
        self.console.print(
            f"trial {record['index']:3d} {record['run_id'] or '-'} {record['status']:8s} "
            f"{d.metric} {number(record['score'], 4)} {d.cost} {number(record['cost'], 4)} "
            f"| {params}" + (f" | {why}" if why else ""),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    def run(self) -> None:
        """Redraw until the sweep ends (on a terminal); otherwise just wait for it."""
        if not self.live:
            while not self.h.done:
                self.h.wait(self.refresh)
            return
        with Live(console=self.console, auto_refresh=False) as live:
            while not self.h.done:
                self._draw(live)
                self.h.wait(self.refresh)
            self._draw(live)

    def _draw(self, live) -> None:
        """One frame, whole: Ctrl-C or SIGTERM arriving mid-frame waits for its end (a
        frame cut short left the cursor inside it, and the last frame, drawn from there,
        showed the panel's top border twice)."""
        panel = self.panel()
        signals = {signal.SIGINT, signal.SIGTERM}
        main = threading.current_thread() is threading.main_thread()
        if main:
            signal.pthread_sigmask(signal.SIG_BLOCK, signals)
        try:
            live.update(panel, refresh=True)
        finally:
            if main:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)

    # -- the panel --
    def panel(self) -> Panel:
        d = self.h.definition
        budget = []
        if d.trials:
            budget.append(f"{len(self.h.trials)} / {d.trials} trials")
        else:
            budget.append(f"{len(self.h.trials)} trials")
        if d.hours:
            budget.append(f"{clock(time.time() - self.started)} / {clock(d.hours * 3600)}")
        header = Text.assemble(
            (f"{d.name} ", "bold"),
            (f"{self.h.id}  ", "dim"),
            (self.h.status, STATUS_STYLES.get(self.h.status, "")),
            " (resumed)" if self.h.resumed else "",
            "  paused" if self.h.paused and not self.h.done else "",
            "  " + "  ".join(budget),
            f"  optimising {d.metric} against {d.cost}",
        )
        parts = [header, self._trials(), *self._running(), self._front(), self._next()]
        return Panel(Group(*[p for p in parts if p is not None]), title="workbench sweep")

    def _trials(self) -> Table:
        d = self.h.definition
        names = list(d.space)[:6]
        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("#", "run", "status", d.metric, d.cost, *names):
            table.add_column(col, no_wrap=True)  # an id or a figure reads on one line
        table.add_column("why", overflow="fold")  # in full, folded when long
        for r in self.h.trials[-SHOWN_TRIALS:]:
            if "index" not in r:  # trials of an earlier session of a resumed sweep
                continue
            table.add_row(
                str(r["index"]),
                r["run_id"] or "-",
                Text(r["status"], STATUS_STYLES.get(r["status"], "")),
                number(r["score"], 4),
                number(r["cost"], 4),
                *(number(r["params"].get(k), 3) for k in names),
                r.get("reason") or r.get("error") or "",
            )
        return table

    def _running(self) -> list:
        d = self.h.definition
        lines = []
        for index, point in list(self.h.running.items()):
            lines.append(
                Text(
                    f"running #{index} {point.get('run_id') or ''}: "
                    f"{si(point.get(M.AGENT_STEPS, 0))} steps, {d.metric} "
                    f"{number(point.get('score'), 4)} at {d.cost} {number(point.get('cost'), 4)}",
                    style="blue",
                )
            )
        return lines

    def _front(self) -> Table | None:
        try:
            front = self.h.front()
        except Exception:  # the model may not be fit yet
            return None
        if front.empty:
            return None
        table = Table(title="front (observed)", box=None, title_justify="left", pad_edge=False)
        table.add_column(self.h.definition.cost)
        table.add_column(self.h.definition.metric)
        for row in front.tail(SHOWN_FRONT).itertuples():
            table.add_row(number(row.cost, 4), number(row.score, 4))
        return table

    def _next(self) -> Text | None:
        guess = getattr(self.h, "next_prediction", None)
        if not guess or self.h.done:  # an ended sweep suggests nothing more
            return None
        return Text(
            f"next suggestion: predicted {self.h.definition.metric} {number(guess['score'], 3)}"
            f" ± {number(guess['score_std'], 2)} at {self.h.definition.cost}"
            f" {number(guess['cost'], 3)}",
            style="dim",
        )

"""Terminal views on rich: the training dashboard of ``python -m workbench train``, and the
pieces the sweep view shares with it. On a terminal they redraw one panel in place; off
one (pipes, log files, CI) they print a plain line every few seconds instead.
"""

from __future__ import annotations

import sys
import time
from math import nan

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from workbench import metrics as M

STATUS_STYLES = {
    "running": "bold blue",
    "finished": "green",
    "stopped": "yellow",
    "pruned": "magenta",
    "failed": "bold red",
}


def si(x: float) -> str:
    """3.2M, 120k, 7: counts at a glance."""
    if x is None or x != x:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:.0f}"


def clock(seconds: float) -> str:
    """0:05:07: durations for people."""
    if seconds is None or seconds != seconds:
        return "-"
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def number(x, digits: int = 3) -> str:
    """A figure with ``digits`` significant digits (a whole number in full, so 1024 never
    reads 1.02e+03), ``-`` when missing."""
    if x is None or x != x:
        return "-"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15):
        return f"{int(x):d}"
    return f"{x:.{digits}g}"


def console_for(stream=None, live: bool | None = None) -> Console:
    stream = stream or sys.stdout
    terminal = stream.isatty() if live is None else live
    return Console(file=stream, force_terminal=terminal, width=None if terminal else 160)


class Dashboard:
    """Call with each metric row. ``live``: redraw in place (default: stream is a terminal)."""

    def __init__(
        self,
        total_steps: int,
        title: str = "",
        stream=None,
        live: bool | None = None,
        plain_every: float = 5.0,
        redraw_every: float = 0.25,
        run_id: str | None = None,
    ):
        self.total = total_steps
        self.title = title
        self.run_id = run_id
        self.console = console_for(stream, live)
        self.live = self.console.is_terminal
        self.every = redraw_every if self.live else plain_every
        self.last_draw = 0.0
        self.env: dict = {}
        self._live: Live | None = None

    def __call__(self, row: dict, force: bool = False) -> None:
        self.env.update({k[len(M.ENV) :]: v for k, v in row.items() if k.startswith(M.ENV)})
        now = time.monotonic()
        if not force and now - self.last_draw < self.every:
            return
        self.last_draw = now
        if self.live:
            if self._live is None:
                self._live = Live(console=self.console, auto_refresh=False, transient=False)
                self._live.start()
            self._live.update(self.panel(row), refresh=True)
        else:
            self.console.print(self.line(row), markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _eta(self, row) -> str:
        steps, wall = row[M.AGENT_STEPS], row[M.WALL_TIME]
        rate = steps / wall if wall > 0 else 0
        return clock((self.total - steps) / rate) if rate else "?"

    def line(self, row) -> str:
        env = self.env
        return (
            f"{clock(row[M.WALL_TIME])} steps {si(row[M.AGENT_STEPS])}/{si(self.total)} "
            f"sps {si(row[M.SPS])} eta {self._eta(row)} | "
            f"score {env.get(M.SCORE, nan):.1f} perf {env.get(M.PERF, nan):.3f} "
            f"return {env.get(M.EPISODE_RETURN, nan):.1f} | "
            f"pg {row[M.loss('policy')]:.3f} v {row[M.loss('value')]:.3f} "
            f"ent {row[M.loss('entropy')]:.3f} kl {row[M.loss('approx_kl')]:.4f}"
        )

    def panel(self, row) -> Panel:
        env = self.env
        frac = min(1.0, row[M.AGENT_STEPS] / self.total) if self.total else 0.0
        progress = Table.grid(padding=(0, 1))
        progress.add_row(
            ProgressBar(total=1.0, completed=frac, width=40),
            f"{frac:6.1%}",
            f"steps {si(row[M.AGENT_STEPS])} / {si(self.total)}",
        )
        figures = Table.grid(padding=(0, 3))
        figures.add_row(
            f"elapsed {clock(row[M.WALL_TIME])}",
            f"eta {self._eta(row)}",
            f"sps {si(row[M.SPS])}",
            f"epoch {row[M.EPOCH]}",
        )
        figures.add_row(
            f"score {env.get(M.SCORE, nan):8.2f}",
            f"perf {env.get(M.PERF, nan):.3f}",
            f"return {env.get(M.EPISODE_RETURN, nan):8.2f}",
            f"length {env.get(M.EPISODE_LENGTH, nan):8.1f}",
        )
        losses = Text(
            "losses  "
            + "  ".join(
                f"{k} {row[M.loss(k)]:.4f}"
                for k in ("policy", "value", "entropy", "approx_kl", "clipfrac")
            )
            + f"  explained variance {row[M.loss('explained_variance')]:.3f}"
        )
        timing = {k: row.get(M.timing(k), 0.0) or 0.0 for k in M.TIMING_KEYS}
        total = sum(timing.values()) or 1.0
        shares = Text("time    " + "  ".join(f"{k} {v / total:5.1%}" for k, v in timing.items()))
        title = f"workbench {self.title}" + (f"  run {self.run_id}" if self.run_id else "")
        return Panel(Group(progress, figures, losses, shares), title=title, title_align="left")

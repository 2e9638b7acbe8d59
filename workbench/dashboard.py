"""Terminal dashboard for ``python -m workbench train``: a live panel on a terminal,
periodic plain lines otherwise (pipes, log files, CI)."""

from __future__ import annotations

import sys
import time
from math import nan

from workbench import metrics as M


def _si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:.0f}"


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


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
    ):
        self.total = total_steps
        self.title = title
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.every = redraw_every if self.live else plain_every
        self.last_draw = 0.0
        self.lines_drawn = 0
        self.env: dict = {}

    def __call__(self, row: dict, force: bool = False) -> None:
        self.env.update({k[len(M.ENV) :]: v for k, v in row.items() if k.startswith(M.ENV)})
        now = time.monotonic()
        if not force and now - self.last_draw < self.every:
            return
        self.last_draw = now
        if self.live:
            self._panel(row)
        else:
            self._line(row)

    def _eta(self, row) -> str:
        steps, wall = row[M.AGENT_STEPS], row[M.WALL_TIME]
        rate = steps / wall if wall > 0 else 0
        return _clock((self.total - steps) / rate) if rate else "?"

    def _line(self, row) -> None:
        env = self.env
        print(
            f"{_clock(row[M.WALL_TIME])} steps {_si(row[M.AGENT_STEPS])}/{_si(self.total)} "
            f"sps {_si(row[M.SPS])} eta {self._eta(row)} | "
            f"score {env.get(M.SCORE, nan):.1f} perf {env.get(M.PERF, nan):.3f} "
            f"return {env.get(M.EPISODE_RETURN, nan):.1f} | "
            f"pg {row[M.loss('policy')]:.3f} v {row[M.loss('value')]:.3f} "
            f"ent {row[M.loss('entropy')]:.3f} kl {row[M.loss('approx_kl')]:.4f}",
            file=self.stream,
            flush=True,
        )

    def _panel(self, row) -> None:
        env = self.env
        timing = {k: row.get(M.timing(k), 0.0) for k in M.TIMING_KEYS}
        total = sum(timing.values()) or 1.0
        frac = row[M.AGENT_STEPS] / self.total if self.total else 0
        bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
        lines = [
            f"\x1b[1m workbench {self.title}\x1b[0m",
            f" [{bar}] {frac:6.1%}  steps {_si(row[M.AGENT_STEPS])} / {_si(self.total)}",
            f" elapsed {_clock(row[M.WALL_TIME])}  eta {self._eta(row)}  "
            f"sps {_si(row[M.SPS])}  epoch {row[M.EPOCH]}",
            f" score {env.get(M.SCORE, nan):8.2f}"
            f"   perf {env.get(M.PERF, nan):.3f}"
            f"   return {env.get(M.EPISODE_RETURN, nan):8.2f}"
            f"   length {env.get(M.EPISODE_LENGTH, nan):8.1f}",
            " losses  "
            + "  ".join(
                f"{k} {row[M.loss(k)]:.4f}"
                for k in ("policy", "value", "entropy", "approx_kl", "clipfrac")
            ),
            f"         explained variance {row[M.loss('explained_variance')]:.3f}",
            " time    " + "  ".join(f"{k} {v / total:5.1%}" for k, v in timing.items()),
        ]
        up = f"\x1b[{self.lines_drawn}F" if self.lines_drawn else ""
        self.stream.write(up + "".join(f"\x1b[2K{line}\n" for line in lines))
        self.stream.flush()
        self.lines_drawn = len(lines)

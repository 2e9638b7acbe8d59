"""What every benchmark shares: machine description, table printing, JSON results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

RECORD = False  # set by ``bench --record``: results go to the tracked record
RECORD_DIR = Path("benchmarks/results")


def results_dir() -> Path:
    """``$WORKBENCH_BENCH_DIR``; with ``--record``, ``benchmarks/results/`` (the tracked
    record); otherwise ``bench/`` beside the run store, so a user's run never dirties
    the checkout."""
    if os.environ.get("WORKBENCH_BENCH_DIR"):
        return Path(os.environ["WORKBENCH_BENCH_DIR"])
    if RECORD:
        return RECORD_DIR
    from workbench.store import default_path

    return default_path().parent / "bench"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    import numpy as np

    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def summarize(values: list[float]) -> dict:
    """Median with its spread: (max - min) / median over the repeats."""
    med = statistics.median(values)
    return {
        "median": med,
        "min": min(values),
        "max": max(values),
        "spread": (max(values) - min(values)) / med if med else 0.0,
        "repeats": values,
    }


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))


def _fmt(value) -> str:
    if isinstance(value, float):
        if abs(value) >= 1e5:
            return f"{value / 1e6:.2f}M"
        return f"{value:.3g}"
    return str(value)


def write_result(name: str, payload: dict) -> Path:
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name.replace(':', '_').replace('/', '_')}.json"
    payload = {"benchmark": name, "machine": machine(), **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")
    return path

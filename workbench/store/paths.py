"""Where the run store lives, and which code wrote a run."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

DEFAULT_DB = "runs/workbench.db"


def default_path(start: str | os.PathLike | None = None) -> Path:
    """``$WORKBENCH_DB``, else the store a command started anywhere inside a project shares:
    walking up from ``start`` (the current folder), the first ``runs/workbench.db`` found,
    or, at the first folder that holds ``.git`` or ``pyproject.toml`` (the project's
    root), the one to create there; outside any project, ``runs/workbench.db`` here."""
    if os.environ.get("WORKBENCH_DB"):
        return Path(os.environ["WORKBENCH_DB"])
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_DB).exists():
            return folder / DEFAULT_DB
        if (folder / ".git").exists() or (folder / "pyproject.toml").exists():
            return folder / DEFAULT_DB
    return here / DEFAULT_DB


@cache
def git_commit() -> str | None:
    """The package's git commit, read once per process."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None

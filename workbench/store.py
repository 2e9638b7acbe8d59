"""The run store: every run and its metric rows in one SQLite file, read back as DataFrames.

``runs/workbench.db`` by default, or ``$WORKBENCH_DB``, or the path given. WAL mode lets
several processes (and threads, each with its own connection) write at once. A run whose
process died without closing it is marked failed the next time a store is opened.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pandas as pd

DEFAULT_DB = "runs/workbench.db"
STATUSES = ("running", "finished", "failed", "stopped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    env TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    heartbeat REAL,
    git_commit TEXT,
    host TEXT,
    pid INTEGER,
    summary TEXT,
    checkpoint TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    agent_steps INTEGER NOT NULL,
    wall_time REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
"""


def default_path() -> Path:
    return Path(os.environ.get("WORKBENCH_DB") or DEFAULT_DB)


def git_commit() -> str | None:
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean(value):
    # JSON has no NaN/inf: store them as None.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunStore:
    """Runs and metric rows in SQLite. Safe to share across threads (a connection each)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conn().conn.executescript(_SCHEMA)
        self.reap_dead()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return _Tx(conn)

    # -- writing --
    def create_run(self, name: str, env: str, config: dict) -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        now = time.time()
        with self._conn() as db:
            db.execute(
                "INSERT INTO runs (id, name, env, config, status, started_at, heartbeat,"
                " git_commit, host, pid) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (
                    run_id,
                    name,
                    env,
                    json.dumps(config),
                    now,
                    now,
                    git_commit(),
                    socket.gethostname(),
                    os.getpid(),
                ),
            )
        return run_id

    def log(self, run_id: str, seq: int, row: dict) -> None:
        data = json.dumps({k: _clean(v) for k, v in row.items()})
        with self._conn() as db:
            db.execute(
                "INSERT INTO metrics (run_id, seq, agent_steps, wall_time, data)"
                " VALUES (?, ?, ?, ?, ?)",
                (run_id, seq, int(row["agent_steps"]), float(row["wall_time"]), data),
            )
            db.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), run_id))

    def set_checkpoint(self, run_id: str, path: str) -> None:
        with self._conn() as db:
            db.execute("UPDATE runs SET checkpoint = ? WHERE id = ?", (str(path), run_id))

    def finish(
        self, run_id: str, status: str, summary: dict | None = None, error: str | None = None
    ) -> None:
        if status not in STATUSES[1:]:
            raise ValueError(f"final status must be one of {STATUSES[1:]}, got {status!r}")
        summary_json = json.dumps({k: _clean(v) for k, v in (summary or {}).items()})
        with self._conn() as db:
            db.execute(
                "UPDATE runs SET status = ?, summary = ?, error = ?, ended_at = ? WHERE id = ?",
                (status, summary_json, error, time.time(), run_id),
            )

    def reap_dead(self) -> int:
        """Mark runs whose process on this host is gone as failed; returns how many."""
        host = socket.gethostname()
        with self._conn() as db:
            rows = db.execute(
                "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", (host,)
            ).fetchall()
            dead = [(rid, pid) for rid, pid in rows if pid is None or not _pid_alive(pid)]
            for rid, pid in dead:
                db.execute(
                    "UPDATE runs SET status = 'failed', ended_at = heartbeat, error = ?"
                    " WHERE id = ? AND status = 'running'",
                    (f"killed: process {pid} on {host} ended without closing the run", rid),
                )
        return len(dead)

    # -- reading --
    def run(self, run_id: str) -> dict:
        with self._conn() as db:
            cur = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
            row = cur.fetchone()
            if row is None:
                raise KeyError(f"no run {run_id!r} in {self.path}")
            names = [d[0] for d in cur.description]
        out = dict(zip(names, row, strict=True))
        out["config"] = json.loads(out["config"])
        out["summary"] = json.loads(out["summary"]) if out["summary"] else {}
        return out

    def runs(self, query: str | None = None) -> pd.DataFrame:
        """One row per run, config and summary flattened to columns; optional pandas query.

        Summary columns keep their plain names (``score``, ``perf``...); config fields too,
        unless they clash with a run column, in which case they are prefixed ``config.``.
        """
        with self._conn() as db:
            cur = db.execute("SELECT * FROM runs ORDER BY started_at")
            names = [d[0] for d in cur.description]
            records = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        rows = []
        for r in records:
            config = json.loads(r.pop("config"))
            raw = r.pop("summary")
            summary = json.loads(raw) if raw else {}
            flat = dict(r)
            for k, v in summary.items():
                flat[k.split("/")[-1] if k.startswith("env/") else k] = v
            for k, v in config.items():
                if isinstance(v, dict):
                    for kk, vv in v.items():
                        flat.setdefault(kk, vv)
                else:
                    flat[k if k not in flat else f"config.{k}"] = v
            rows.append(flat)
        df = pd.DataFrame(rows)
        if query:
            if df.empty:
                return df
            df = df.query(query)
        return df.reset_index(drop=True)

    def curve(self, run_id: str) -> pd.DataFrame:
        """The run's metric rows in order, one column per metric."""
        with self._conn() as db:
            rows = db.execute(
                "SELECT data FROM metrics WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
        return pd.DataFrame([json.loads(d) for (d,) in rows])

    def delete(self, run_id: str) -> None:
        with self._conn() as db:
            db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class _Tx:
    """``with`` block = one transaction (BEGIN IMMEDIATE so writers queue, never deadlock)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")

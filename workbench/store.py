"""The run store: runs, their metric rows and sweeps in one SQLite file, read as DataFrames.

``runs/workbench.db`` by default, or ``$WORKBENCH_DB``, or the path given. WAL mode lets
several processes (and threads, each with its own connection) write at once. The schema
carries a version (``PRAGMA user_version``); opening an older file upgrades it in place
and keeps every run and row. Opening a current store writes nothing, except to mark a
run whose process died without closing it as failed.

Runs can be stopped from any process that opens the store (:meth:`RunStore.request_stop`):
the run reads the request when it writes its next metric row and ends as ``stopped`` or
``pruned`` with the reason given.
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
from functools import cache
from pathlib import Path

import pandas as pd

from workbench import metrics as M

DEFAULT_DB = "runs/workbench.db"
STATUSES = ("running", "finished", "failed", "stopped", "pruned")
FINAL_STATUSES = STATUSES[1:]
SWEEP_STATUSES = ("running", "finished", "failed", "stopped")

# Migration k brings a store from user_version k to k + 1. Version 0 is both a new file
# and the first released layout (which had no version), so migration 0 only creates.
_MIGRATIONS: list = [
    """
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
    """,
    """
    ALTER TABLE runs ADD COLUMN sweep_id TEXT;
    ALTER TABLE runs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE runs ADD COLUMN stop_requested TEXT;
    ALTER TABLE runs ADD COLUMN reason TEXT;
    CREATE TABLE sweeps (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        created_at REAL NOT NULL,
        ended_at REAL,
        heartbeat REAL,
        host TEXT,
        pid INTEGER
    );
    CREATE INDEX metrics_by_steps ON metrics (run_id, agent_steps);
    CREATE INDEX runs_by_sweep ON runs (sweep_id);
    """,
    """
    CREATE TABLE sweep_observations (
        sweep_id TEXT NOT NULL REFERENCES sweeps(id),
        seq INTEGER NOT NULL,
        run_id TEXT,
        params TEXT NOT NULL,
        score REAL,
        cost REAL,
        failed INTEGER NOT NULL,
        error TEXT,
        at REAL NOT NULL,
        PRIMARY KEY (sweep_id, seq)
    );
    """,
    """
    ALTER TABLE runs ADD COLUMN resumed_from TEXT;
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)


def _upgrade_summaries_v1(db: sqlite3.Connection) -> None:
    """Version 1 summaries held ``score``, ``train/score`` and ``eval/score`` for one figure:
    keep ``env/score`` (training) and ``eval/score`` (evaluation) only."""
    rows = db.execute("SELECT id, summary FROM runs WHERE summary IS NOT NULL").fetchall()
    for run_id, raw in rows:
        old = json.loads(raw)
        new = {k: v for k, v in old.items() if k not in M.EPISODE_KEYS}
        for key in M.EPISODE_KEYS:
            trained = new.pop(f"train/{key}", None)
            if trained is not None:
                new[M.env(key)] = trained
            elif key in old and M.evaluation(key) not in old:  # a bare figure, source unknown
                new[M.env(key)] = old[key]
        db.execute("UPDATE runs SET summary = ? WHERE id = ?", (json.dumps(new), run_id))


# Python steps run after migration k's SQL.
_DATA_MIGRATIONS = {1: _upgrade_summaries_v1}


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


def _dumps(mapping: dict | None) -> str:
    return json.dumps({k: _clean(v) for k, v in (mapping or {}).items()})


def new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def run_tag(run_id: str) -> str:
    """The short part of a run id that tells it from runs started the same second: the hex
    digits after its last dash. ``RunStore.resolve`` accepts it when unique."""
    return run_id.rsplit("-", 1)[-1]


def _is_tag(ref: str) -> bool:
    return 4 <= len(ref) <= 12 and all(c in "0123456789abcdef" for c in ref)


class RunStore:
    """Runs, metric rows and sweeps in SQLite. Safe to share across threads (a connection
    each). ``create=False`` refuses to create a missing file (read-only commands)."""

    def __init__(self, path: str | os.PathLike | None = None, create: bool = True):
        self.path = Path(path) if path is not None else default_path()
        if not self.path.exists():
            if not create:
                raise FileNotFoundError(f"no run store at {str(self.path)!r}")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._migrate()
        self.reap_dead()

    def _conn(self) -> _Tx:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=60000")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return _Tx(conn)

    def _migrate(self) -> None:
        raw = self._conn().conn
        version = raw.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has schema version {version}, newer than this workbench "
                f"({SCHEMA_VERSION}): upgrade workbench to read it"
            )
        if version == SCHEMA_VERSION:
            return
        with self._conn() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # another process?
            for k in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[k].split(";"):
                    if statement.strip():
                        db.execute(statement)
                if k in _DATA_MIGRATIONS:
                    _DATA_MIGRATIONS[k](db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        return self._conn().conn.execute("PRAGMA user_version").fetchone()[0]

    # -- runs: writing --
    def create_run(
        self,
        name: str,
        env: str,
        config: dict,
        sweep_id: str | None = None,
        tags: tuple | list = (),
        run_id: str | None = None,
        host: str | None = None,
        pid: int | None = None,
        resumed_from: str | None = None,
    ) -> str:
        """Record a new running run; ``run_id``, ``host`` and ``pid`` mirror a run that
        trains elsewhere (a sweep worker's), default: a new id in this process."""
        run_id = run_id or new_id()
        now = time.time()
        with self._conn() as db:
            db.execute(
                "INSERT INTO runs (id, name, env, config, status, started_at, heartbeat,"
                " git_commit, host, pid, sweep_id, tags, resumed_from)"
                " VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    name,
                    env,
                    json.dumps(config),
                    now,
                    now,
                    git_commit(),
                    host or socket.gethostname(),
                    pid if pid is not None else os.getpid(),
                    sweep_id,
                    json.dumps(list(tags)),
                    resumed_from,
                ),
            )
        return run_id

    def log(self, run_id: str, seq: int, row: dict) -> tuple[str, str | None] | None:
        """Append a metric row; returns a pending stop request ``(status, reason)`` or None."""
        data = json.dumps({k: _clean(v) for k, v in row.items()})
        with self._conn() as db:
            db.execute(
                "INSERT INTO metrics (run_id, seq, agent_steps, wall_time, data)"
                " VALUES (?, ?, ?, ?, ?)",
                (run_id, seq, int(row[M.AGENT_STEPS]), float(row[M.WALL_TIME]), data),
            )
            db.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), run_id))
            found = db.execute(
                "SELECT stop_requested, reason FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
        return (found[0], found[1]) if found and found[0] else None

    def request_stop(self, run_id: str, status: str = "stopped", reason: str | None = None) -> bool:
        """Ask run ``run_id`` (in any process that shares this file) to end as ``status``
        (``stopped`` or ``pruned``) at its next epoch. False if it has already ended."""
        if status not in ("stopped", "pruned"):
            raise ValueError(f"a stop request ends a run as 'stopped' or 'pruned', not {status!r}")
        with self._conn() as db:
            cur = db.execute(
                "UPDATE runs SET stop_requested = ?, reason = ?"
                " WHERE id = ? AND status = 'running'",
                (status, reason, run_id),
            )
            if cur.rowcount:
                return True
            if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise KeyError(f"no run {run_id!r} in {self.path}")
        return False

    def stop_request(self, run_id: str) -> tuple[str, str | None] | None:
        """The pending stop request of a run: ``(status, reason)``, or None."""
        found = self._read(
            "SELECT stop_requested, reason FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        return (found[0], found[1]) if found and found[0] else None

    def set_checkpoint(self, run_id: str, path: str) -> None:
        with self._conn() as db:
            db.execute("UPDATE runs SET checkpoint = ? WHERE id = ?", (str(path), run_id))

    def finish(
        self,
        run_id: str,
        status: str,
        summary: dict | None = None,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        if status not in FINAL_STATUSES:
            raise ValueError(f"final status must be one of {FINAL_STATUSES}, got {status!r}")
        with self._conn() as db:
            db.execute(
                "UPDATE runs SET status = ?, summary = ?, error = ?, ended_at = ?,"
                " reason = COALESCE(?, reason) WHERE id = ?",
                (status, _dumps(summary), error, time.time(), reason, run_id),
            )

    def reap_dead(self) -> int:
        """Mark runs and sweeps whose process on this host is gone as failed; how many."""
        host = socket.gethostname()
        found = 0
        for table in ("runs", "sweeps"):
            rows = self._read(
                f"SELECT id, pid FROM {table} WHERE status = 'running' AND host = ?", (host,)
            ).fetchall()
            dead = [(rid, pid) for rid, pid in rows if pid is None or not _pid_alive(pid)]
            if not dead:
                continue
            for rid, pid in dead:
                error = f"killed: process {pid} on {host} ended without closing it"
                if table == "runs":  # the summary it never wrote, rebuilt from its curve
                    summary = _dumps(self.summary_from_curve(rid))
                    sql = "summary = COALESCE(summary, ?), ended_at = heartbeat"
                    args: tuple = (summary,)
                else:
                    sql, args = "ended_at = ?", (time.time(),)
                with self._conn() as db:
                    db.execute(
                        f"UPDATE {table} SET status = 'failed', {sql}, error = ?"
                        " WHERE id = ? AND status = 'running'",
                        (*args, error, rid),
                    )
            found += len(dead)
        return found

    def summary_from_curve(self, run_id: str) -> dict:
        """A run's summary rebuilt from its metric rows (its latest figures), for a run
        that never wrote one: killed, or mirrored from a worker that died."""
        summary: dict = {}
        for (data,) in self._read(
            "SELECT data FROM metrics WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall():
            row = {k: v for k, v in json.loads(data).items() if v is not None}
            M.summarize_row(summary, row)
        return summary

    def resolve(self, ref: str) -> str:
        """The id of the run ``ref`` names: an id, a unique id prefix, a unique name, or the
        id's tag (its last part, the hex digits legends show: ``run_tag``)."""
        if not isinstance(ref, str) or not ref:
            raise KeyError(f"a run is named by its id, an id prefix or its name, got {ref!r}")
        tag = "-" + ref if _is_tag(ref) else None  # a tag matches the end of an id
        rows = self._read(
            "SELECT id, name FROM runs"
            " WHERE substr(id, 1, ?) = ? OR name = ? OR (? IS NOT NULL AND substr(id, -?) = ?)",
            (len(ref), ref, ref, tag, len(ref) + 1, tag),
        ).fetchall()
        ids = {rid for rid, _ in rows}
        if ref in ids:
            return ref
        named = {rid for rid, name in rows if name == ref}
        if len(named) == 1:
            return named.pop()
        if len(ids) == 1:
            return ids.pop()
        if len(ids) > 1:
            shown = ", ".join(sorted(ids)[:5])
            raise KeyError(f"{ref!r} names {len(ids)} runs in {self.path} ({shown}): be more exact")
        import difflib

        known = [r for row in self._read("SELECT id, name FROM runs").fetchall() for r in row]
        close = difflib.get_close_matches(ref, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"no run {ref!r} in {self.path}{hint}")

    # -- runs: reading --
    def _read(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        return self._conn().conn.execute(sql, args)

    def _record(self, table: str, key: str) -> dict:
        cur = self._read(f"SELECT * FROM {table} WHERE id = ?", (key,))
        row = cur.fetchone()
        if row is None:
            raise KeyError(f"no {table[:-1]} {key!r} in {self.path}")
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def run(self, run_id: str) -> dict:
        out = self._record("runs", run_id)
        out["config"] = json.loads(out["config"])
        out["summary"] = json.loads(out["summary"]) if out["summary"] else {}
        out["tags"] = json.loads(out["tags"]) if out["tags"] else []
        return out

    def runs(self, query: str | None = None, sweep: str | None = None) -> pd.DataFrame:
        """One row per run (optionally of one sweep), with a pandas ``query`` filter.

        Columns: the run's record; its summary keys (``agent_steps``, ``env/score``,
        ``eval/score``...); each outcome's final value (``score``, ``perf``,
        ``episode_return``, ``episode_length``: see :func:`workbench.metrics.final`); and
        its config fields (``env_params`` spread out), prefixed ``config.`` on a clash.
        """
        sql = "SELECT * FROM runs"
        args: tuple = ()
        if sweep is not None:
            sql, args = sql + " WHERE sweep_id = ?", (sweep,)
        cur = self._read(sql + " ORDER BY started_at, rowid", args)
        names = [d[0] for d in cur.description]
        base = pd.DataFrame.from_records(cur.fetchall(), columns=names)
        if base.empty:
            return base.drop(columns=["config", "summary"])
        summaries = [json.loads(s) if isinstance(s, str) else {} for s in base.pop("summary")]
        configs = [json.loads(c) for c in base.pop("config")]
        base["tags"] = [json.loads(t) if isinstance(t, str) else [] for t in base["tags"]]
        summary = pd.DataFrame.from_records(summaries, index=base.index)
        finals = pd.DataFrame.from_records(
            [M.final_outcomes(s) for s in summaries], index=base.index
        )
        flat_cfg = []
        for c in configs:
            params = c.pop("env_params", {}) or {}
            flat_cfg.append({**c, **{k: v for k, v in params.items() if k not in c}})
        config = pd.DataFrame.from_records(flat_cfg, index=base.index)
        taken = set(base.columns)
        summary = summary[[c for c in summary.columns if c not in taken]]
        taken |= set(summary.columns)
        finals = finals[[c for c in finals.columns if c not in taken]]
        taken |= set(finals.columns)
        config.columns = [f"config.{c}" if c in taken else c for c in config.columns]
        df = pd.concat([base, summary, finals, config], axis=1)
        if query:
            df = df.query(query)
        return df.reset_index(drop=True)

    def curve(self, run_id: str, stitched: bool = False) -> pd.DataFrame:
        """The run's metric rows in order, one column per metric. ``stitched``: with the
        rows of the runs it was resumed from first (up to where each was continued), and a
        ``run_id`` column, so a resumed run reads as one curve."""
        if not stitched:
            rows = self._read(
                "SELECT data FROM metrics WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
            return pd.DataFrame([json.loads(d) for (d,) in rows])
        parts, upto = [], None
        for rid in reversed(self.lineage(run_id)):
            part = self.curve(rid)
            if part.empty:
                continue
            if upto is not None:
                part = part[part[M.AGENT_STEPS] < upto]
            upto = part[M.AGENT_STEPS].iloc[0] if len(part) else upto
            parts.append(part.assign(run_id=rid))
        return pd.concat(parts[::-1], ignore_index=True) if parts else pd.DataFrame()

    def lineage(self, run_id: str) -> list[str]:
        """The run and those it was resumed from, oldest first."""
        chain, seen = [], set()
        current: str | None = run_id
        while current is not None and current not in seen:
            seen.add(current)
            chain.append(current)
            found = self._read("SELECT resumed_from FROM runs WHERE id = ?", (current,)).fetchone()
            current = found[0] if found else None
        return chain[::-1]

    def curves(self, run_ids, since_seq: int | dict | None = None) -> pd.DataFrame:
        """Metric rows of several runs, with ``run_id`` and ``seq`` columns, in order.

        ``since_seq``: only rows after this seq (an int for every run, or a dict
        ``{run_id: last seq seen}``), which is what a live view polls with.
        """
        ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
        records = []
        for run_id in ids:
            since = since_seq.get(run_id, -1) if isinstance(since_seq, dict) else since_seq
            rows = self._read(
                "SELECT seq, data FROM metrics WHERE run_id = ? AND seq > ? ORDER BY seq",
                (run_id, -1 if since is None else since),
            ).fetchall()
            records.extend({"run_id": run_id, "seq": s, **json.loads(d)} for s, d in rows)
        return pd.DataFrame.from_records(records)

    def delete(self, run_id: str) -> None:
        with self._conn() as db:
            db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    # -- sweeps --
    def create_sweep(self, name: str, definition: dict) -> str:
        sweep_id = "sweep-" + new_id()
        now = time.time()
        with self._conn() as db:
            db.execute(
                "INSERT INTO sweeps (id, name, definition, status, created_at, heartbeat,"
                " host, pid) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
                (
                    sweep_id,
                    name,
                    json.dumps(definition),
                    now,
                    now,
                    socket.gethostname(),
                    os.getpid(),
                ),
            )
        return sweep_id

    def claim_sweep(self, sweep_id: str) -> None:
        """Mark a sweep as running in this process again (resume)."""
        with self._conn() as db:
            cur = db.execute(
                "UPDATE sweeps SET status = 'running', ended_at = NULL, error = NULL,"
                " heartbeat = ?, host = ?, pid = ? WHERE id = ?",
                (time.time(), socket.gethostname(), os.getpid(), sweep_id),
            )
            if not cur.rowcount:
                raise KeyError(f"no sweep {sweep_id!r} in {self.path}")

    def finish_sweep(self, sweep_id: str, status: str, error: str | None = None) -> None:
        if status not in SWEEP_STATUSES[1:]:
            raise ValueError(f"final status must be one of {SWEEP_STATUSES[1:]}, got {status!r}")
        with self._conn() as db:
            db.execute(
                "UPDATE sweeps SET status = ?, error = ?, ended_at = ? WHERE id = ?",
                (status, error, time.time(), sweep_id),
            )

    def sweep(self, sweep_id: str) -> dict:
        out = self._record("sweeps", sweep_id)
        out["definition"] = json.loads(out["definition"])
        return out

    def add_observation(
        self,
        sweep_id: str,
        run_id: str | None,
        params: dict,
        score: float | None,
        cost: float | None,
        failed: bool = False,
        error: str | None = None,
    ) -> int:
        """Record one observation the sweep's engine received, in order; returns its seq."""
        with self._conn() as db:
            (seq,) = db.execute(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM sweep_observations WHERE sweep_id = ?",
                (sweep_id,),
            ).fetchone()
            db.execute(
                "INSERT INTO sweep_observations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sweep_id,
                    seq,
                    run_id,
                    json.dumps(params),
                    _clean(None if score is None else float(score)),
                    _clean(None if cost is None else float(cost)),
                    int(bool(failed)),
                    error,
                    time.time(),
                ),
            )
            db.execute("UPDATE sweeps SET heartbeat = ? WHERE id = ?", (time.time(), sweep_id))
        return seq

    def observations(self, sweep_id: str, since_seq: int = -1) -> pd.DataFrame:
        """A sweep's observations in order (seq, run_id, params, score, cost, failed, error)."""
        cur = self._read(
            "SELECT seq, run_id, params, score, cost, failed, error, at FROM sweep_observations"
            " WHERE sweep_id = ? AND seq > ? ORDER BY seq",
            (sweep_id, since_seq),
        )
        df = pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])
        if not df.empty:
            df["params"] = [json.loads(p) for p in df["params"]]
            df["failed"] = df["failed"].astype(bool)
        return df

    def sweeps(self) -> pd.DataFrame:
        cur = self._read(
            "SELECT s.id, s.name, s.status, s.error, s.created_at, s.ended_at,"
            " (SELECT COUNT(*) FROM runs r WHERE r.sweep_id = s.id) AS trials"
            " FROM sweeps s ORDER BY s.created_at, s.rowid"
        )
        return pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])

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

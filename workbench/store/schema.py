"""The store's schema: migration k brings a file from ``PRAGMA user_version`` k to k + 1,
so opening an older file upgrades it in place and keeps every run and row."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from workbench import metrics as M

# Migration k brings a store from user_version k to k + 1. Version 0 is both a new file
# and the first released layout (which had no version), so migration 0 only creates.
MIGRATIONS: list[str] = [
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
    """
    ALTER TABLE runs ADD COLUMN cause TEXT;
    ALTER TABLE sweeps ADD COLUMN ended_because TEXT;
    UPDATE runs SET cause = 'killed' WHERE status = 'failed' AND error LIKE 'killed:%';
    UPDATE runs SET cause = 'config' WHERE status = 'failed' AND cause IS NULL;
    ALTER TABLE sweeps ADD COLUMN spent_s REAL NOT NULL DEFAULT 0;
    CREATE TABLE sweep_events (
        sweep_id TEXT NOT NULL REFERENCES sweeps(id),
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        requested_at REAL NOT NULL,
        applied_at REAL,
        error TEXT,
        PRIMARY KEY (sweep_id, seq)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


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
DATA_MIGRATIONS = {1: _upgrade_summaries_v1}


def migrate(conn: sqlite3.Connection, path: Path, transaction) -> None:
    """Bring the database on ``conn`` to :data:`SCHEMA_VERSION` (``transaction()``: a
    ``with`` block holding the write lock, so two processes never both upgrade)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"{path} has schema version {version}, newer than this workbench "
            f"({SCHEMA_VERSION}): upgrade workbench to read it"
        )
    if version == SCHEMA_VERSION:
        return
    with transaction() as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]  # another process?
        for k in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[k].split(";"):
                if statement.strip():
                    db.execute(statement)
            if k in DATA_MIGRATIONS:
                DATA_MIGRATIONS[k](db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

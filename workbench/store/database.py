"""The SQLite file behind the store: one connection per thread, WAL mode, transactions that
queue writers, and the schema brought up to date when the file is opened."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from workbench.store.paths import default_path
from workbench.store.schema import migrate


def clean(value):
    """A value JSON can hold: NaN and infinities become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(mapping: dict | None) -> str:
    return json.dumps({k: clean(v) for k, v in (mapping or {}).items()})


def new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


class Database:
    """The file at ``path`` (default: :func:`default_path`), upgraded to the current schema.
    ``create=False`` refuses to create a missing file (read-only commands). Opening writes
    nothing to a current file."""

    def __init__(self, path: str | os.PathLike | None = None, create: bool = True):
        self.path = Path(path) if path is not None else default_path()
        if not self.path.exists():
            if not create:
                raise FileNotFoundError(f"no run store at {str(self.path)!r}")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        migrate(self._conn().conn, self.path, self._conn)

    def _conn(self) -> Transaction:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=60000")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return Transaction(conn)

    def _read(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        return self._conn().conn.execute(sql, args)

    def _record(self, table: str, key: str) -> dict:
        cur = self._read(f"SELECT * FROM {table} WHERE id = ?", (key,))
        row = cur.fetchone()
        if row is None:
            raise KeyError(f"no {table[:-1]} {key!r} in {self.path}")
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    @property
    def schema_version(self) -> int:
        return self._conn().conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


class Transaction:
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

"""Sweep records: a sweep's definition and status, and every observation its engine
received, in order (what a resumed sweep replays)."""

from __future__ import annotations

import json
import os
import socket
import time

import pandas as pd

from workbench.store.database import Database, clean, new_id
from workbench.store.reaping import shown_as_ended

SWEEP_STATUSES = ("running", "finished", "failed", "stopped")


class SweepRecords(Database):
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
                " ended_because = NULL,"
                " heartbeat = ?, host = ?, pid = ? WHERE id = ?",
                (time.time(), socket.gethostname(), os.getpid(), sweep_id),
            )
            if not cur.rowcount:
                raise KeyError(f"no sweep {sweep_id!r} in {self.path}")

    def finish_sweep(
        self,
        sweep_id: str,
        status: str,
        error: str | None = None,
        ended_because: str | None = None,
    ) -> None:
        """Record how a sweep ended and why no more trials started (``ended_because``)."""
        if status not in SWEEP_STATUSES[1:]:
            raise ValueError(f"final status must be one of {SWEEP_STATUSES[1:]}, got {status!r}")
        with self._conn() as db:
            db.execute(
                "UPDATE sweeps SET status = ?, error = ?, ended_at = ?, ended_because = ?"
                " WHERE id = ?",
                (status, error, time.time(), ended_because, sweep_id),
            )

    def sweep(self, sweep_id: str) -> dict:
        """A sweep's record, its definition decoded as stored (rebuild a definition with
        ``workbench.sweep.load_recorded``). A sweep whose process died reads as failed."""
        out = shown_as_ended(self._record("sweeps", sweep_id))
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
                    clean(None if score is None else float(score)),
                    clean(None if cost is None else float(cost)),
                    int(bool(failed)),
                    error,
                    time.time(),
                ),
            )
            db.execute("UPDATE sweeps SET heartbeat = ? WHERE id = ?", (time.time(), sweep_id))
        return seq

    def observations(
        self, sweep_id: str, since_seq: int = -1, params: bool = True, every: int = 1
    ) -> pd.DataFrame:
        """A sweep's observations in order (seq, run_id, params, score, cost, failed, error,
        at). ``params=False`` leaves the parameters out (a view drawing 100,000 points needs
        each trial's, not each point's); ``every=k``: only those whose seq is a multiple of
        k (an even share, for models that need the shape of many results)."""
        columns = (
            "seq, run_id, " + ("params, " if params else "") + "score, cost, failed, error, at"
        )
        cur = self._read(
            f"SELECT {columns} FROM sweep_observations WHERE sweep_id = ? AND seq > ?"
            " AND seq % ? = 0 ORDER BY seq",
            (sweep_id, since_seq, int(every)),
        )
        df = pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])
        if not df.empty:
            if params:
                df["params"] = [json.loads(p) for p in df["params"]]
            df["failed"] = df["failed"].astype(bool)
        return df

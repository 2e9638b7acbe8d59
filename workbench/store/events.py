"""Requests to steer a sweep, and their history: edits, queued trials, reseeds, pause and
resume, extensions, stopped trials. Any process sharing the file may write one; the
sweep's driver applies pending requests in order, before its next suggestion, and marks
each applied (or refused, with why). A resumed sweep replays the applied ones."""

from __future__ import annotations

import json
import time

import pandas as pd

from workbench.store.database import Database

EVENT_KINDS = ("edit", "enqueue", "reseed", "pause", "resume", "extend", "stop_trial")


class SweepEvents(Database):
    def request(self, sweep_id: str, kind: str, payload: dict | None = None) -> int:
        """Record a request for sweep ``sweep_id``; returns its seq."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"event kind must be one of {EVENT_KINDS}, got {kind!r}")
        self._record("sweeps", sweep_id)  # a KeyError naming the store if there is none
        with self._conn() as db:
            (seq,) = db.execute(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM sweep_events WHERE sweep_id = ?",
                (sweep_id,),
            ).fetchone()
            db.execute(
                "INSERT INTO sweep_events (sweep_id, seq, kind, payload, requested_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (sweep_id, seq, kind, json.dumps(payload or {}), time.time()),
            )
        return seq

    def pending_events(self, sweep_id: str) -> list[dict]:
        """Requests not yet applied nor refused, in order."""
        rows = self._read(
            "SELECT seq, kind, payload FROM sweep_events WHERE sweep_id = ?"
            " AND applied_at IS NULL AND error IS NULL ORDER BY seq",
            (sweep_id,),
        ).fetchall()
        return [{"seq": s, "kind": k, "payload": json.loads(p)} for s, k, p in rows]

    def settle_event(
        self, sweep_id: str, seq: int, error: str | None = None, payload: dict | None = None
    ) -> None:
        """Mark request ``seq`` applied (or refused with ``error``); ``payload`` replaces the
        stored one (what was applied, e.g. the queued trials with their seeds)."""
        with self._conn() as db:
            db.execute(
                "UPDATE sweep_events SET applied_at = ?, error = ?,"
                " payload = COALESCE(?, payload) WHERE sweep_id = ? AND seq = ?",
                (
                    None if error else time.time(),
                    error,
                    None if payload is None else json.dumps(payload),
                    sweep_id,
                    seq,
                ),
            )

    def events(self, sweep_id: str) -> pd.DataFrame:
        """A sweep's history of requests: seq, kind, payload, when asked and applied, error."""
        cur = self._read(
            "SELECT seq, kind, payload, requested_at, applied_at, error FROM sweep_events"
            " WHERE sweep_id = ? ORDER BY seq",
            (sweep_id,),
        )
        df = pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])
        if not df.empty:
            df["payload"] = [json.loads(p) for p in df["payload"]]
        return df

    def add_spent(self, sweep_id: str, seconds: float) -> None:
        """Add wall-clock seconds the sweep has run (its time budget goes on across resumes)."""
        with self._conn() as db:
            db.execute(
                "UPDATE sweeps SET spent_s = spent_s + ?, heartbeat = ? WHERE id = ?",
                (max(0.0, float(seconds)), time.time(), sweep_id),
            )

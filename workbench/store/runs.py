"""Run records: create a run, append its metric rows, stop it from any process, record how
it ended and whose doing that was, and name it by id, prefix, name or tag."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time

from workbench import metrics as M
from workbench.store.database import Database, clean, dumps, new_id
from workbench.store.paths import git_commit
from workbench.store.reaping import shown_as_ended

STATUSES = ("running", "finished", "failed", "stopped", "pruned")
FINAL_STATUSES = STATUSES[1:]
# Whose doing a run's end was: a typed field, so no reader parses error texts.
CAUSES = {
    "config": "the run's own error: its config, env or code raised",
    "killed": "its process ended without closing it",
    "lost": "its worker process, actor or node was lost",
    "exit": "the interpreter it ran in exited",
}
INFRASTRUCTURE = frozenset(CAUSES) - {"config"}


def configs_fault(cause: str | None) -> bool:
    """Whether a failure with ``cause`` says anything about its config (a sweep's success
    model learns from these only)."""
    return cause not in INFRASTRUCTURE


def run_tag(run_id: str) -> str:
    """The short part of a run id that tells it from runs started the same second: the hex
    digits after its last dash. ``RunStore.resolve`` accepts it when unique."""
    return run_id.rsplit("-", 1)[-1]


def is_tag(ref: str) -> bool:
    return 4 <= len(ref) <= 12 and all(c in "0123456789abcdef" for c in ref)


class RunRecords(Database):
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
        for attempt in range(8):  # an id is a second's time and 24 random bits: a sweep
            try:  # starting thousands of trials a second can draw one twice
                return self._insert_run(
                    run_id or new_id(), name, env, config, sweep_id, tags, host, pid, resumed_from
                )
            except sqlite3.IntegrityError:
                if run_id is not None or attempt == 7:
                    raise
        raise AssertionError("unreachable")

    def _insert_run(
        self, run_id, name, env, config, sweep_id, tags, host, pid, resumed_from
    ) -> str:
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
        data = json.dumps({k: clean(v) for k, v in row.items()})
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
        cause: str | None = None,
    ) -> None:
        """Record how a run ended. ``cause``: whose doing the end was (see :data:`CAUSES`);
        by default ``config`` for a failure, none otherwise."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"final status must be one of {FINAL_STATUSES}, got {status!r}")
        if cause is None and status == "failed":
            cause = "config"
        if cause is not None and cause not in CAUSES:
            raise ValueError(f"cause must be one of {sorted(CAUSES)}, got {cause!r}")
        with self._conn() as db:
            db.execute(
                "UPDATE runs SET status = ?, summary = ?, error = ?, ended_at = ?,"
                " reason = COALESCE(?, reason), cause = ? WHERE id = ?",
                (status, dumps(summary), error, time.time(), reason, cause, run_id),
            )

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
        tag = "-" + ref if is_tag(ref) else None  # a tag matches the end of an id
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

    def run(self, run_id: str) -> dict:
        """A run's record (config, summary and tags decoded). A run whose process died
        without closing it reads as failed (cause ``killed``), though nothing is written."""
        out = shown_as_ended(self._record("runs", run_id))
        out["config"] = json.loads(out["config"])
        out["summary"] = json.loads(out["summary"]) if out["summary"] else {}
        out["tags"] = json.loads(out["tags"]) if out["tags"] else []
        return out

    def sweep_runs(self, sweep_id: str, touched_since: float | None = None) -> list[dict]:
        """The records of sweep ``sweep_id``'s runs (decoded as :meth:`run` does), in start
        order. ``touched_since`` (a time): only runs started, written to or ended since
        then, and every run still recorded running (whose process may have died since): what
        a live view polls with, so a sweep of 10,000 trials is not read whole each time."""
        sql = (
            "SELECT id, name, status, reason, error, cause, started_at, ended_at, heartbeat,"
            " host, pid, config, summary, checkpoint, resumed_from FROM runs WHERE sweep_id = ?"
        )
        args: tuple = (sweep_id,)
        if touched_since is not None:
            sql += " AND (status = 'running' OR heartbeat >= ? OR ended_at >= ? OR started_at >= ?)"
            args += (touched_since,) * 3
        cur = self._read(sql + " ORDER BY started_at, rowid", args)
        names = [d[0] for d in cur.description]
        out = []
        for row in cur.fetchall():
            record = shown_as_ended(dict(zip(names, row, strict=True)))
            record["config"] = json.loads(record["config"])
            record["summary"] = json.loads(record["summary"]) if record["summary"] else {}
            out.append(record)
        return out

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

    def delete(self, run_id: str) -> None:
        with self._conn() as db:
            db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

"""Runs and sweeps whose process died without closing them.

A process that dies (``kill -9``, a crash of the interpreter, a lost machine) leaves its
record ``running``. Readers show such a record as it really is (failed, its process gone)
without writing; writers (a new run, a sweep starting or resuming) mark it in the file,
with its cause, as an explicit step (:meth:`Reaping.reap_dead`).
"""

from __future__ import annotations

import os
import socket
import time

from workbench.store.database import Database, dumps


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` on this host exists (a zombie counts as gone)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited: only its parent has not collected it yet
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def dead_error(pid, host) -> str:
    return f"process {pid} on {host} ended without closing it"


def is_dead(status, host, pid, here: str | None = None) -> bool:
    """Whether a record says ``running`` but its process, on this host, is gone."""
    here = here or socket.gethostname()
    return status == "running" and host == here and not pid_alive(pid)


def shown_as_ended(record: dict) -> dict:
    """A run or sweep record as readers show it: one whose process is gone reads as failed
    with that error (and, for a run, cause ``killed``). Nothing is written."""
    if is_dead(record.get("status"), record.get("host"), record.get("pid")):
        record = {**record, "status": "failed", "error": dead_error(record["pid"], record["host"])}
        if "cause" in record:
            record["cause"] = "killed"
    return record


class Reaping(Database):
    """A writer's step (the final ``RunStore`` also has the run records it calls)."""

    def reap_dead(self) -> int:
        """Mark runs and sweeps whose process on this host is gone as failed (cause
        ``killed``); how many. A writer's explicit step: reading never writes."""
        host = socket.gethostname()
        found = 0
        for table in ("runs", "sweeps"):
            rows = self._read(
                f"SELECT id, pid FROM {table} WHERE status = 'running' AND host = ?", (host,)
            ).fetchall()
            dead = [(rid, pid) for rid, pid in rows if not pid_alive(pid)]
            for rid, pid in dead:
                error = dead_error(pid, host)
                if table == "runs":  # the summary it never wrote, rebuilt from its curve
                    summary = dumps(self.summary_from_curve(rid))
                    sql = "summary = COALESCE(summary, ?), ended_at = heartbeat, cause = 'killed'"
                    args: tuple = (summary,)
                else:
                    sql, args = "ended_at = ?, ended_because = ?", (time.time(), error)
                with self._conn() as db:
                    db.execute(
                        f"UPDATE {table} SET status = 'failed', {sql}, error = ?"
                        " WHERE id = ? AND status = 'running'",
                        (*args, error, rid),
                    )
            found += len(dead)
        return found

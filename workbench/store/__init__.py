"""The run store: runs, their metric rows and sweeps in one SQLite file, read as DataFrames.

``runs/workbench.db`` by default, or ``$WORKBENCH_DB``, or the path given. WAL mode lets
several processes (and threads, each with its own connection) write at once. The schema
carries a version (``PRAGMA user_version``); opening an older file upgrades it in place
and keeps every run and row. Opening a current store writes nothing, and neither does any
read: a run whose process died without closing it reads as failed, and a writer marks it so
in the file with :meth:`RunStore.reap_dead`.

Runs can be stopped from any process that opens the store (:meth:`RunStore.request_stop`):
the run reads the request when it writes its next metric row and ends as ``stopped`` or
``pruned`` with the reason given. How a run ended carries a typed ``cause`` (:data:`CAUSES`).

By concern: ``schema`` (migrations), ``database`` (the file and its connections), ``runs``
and ``sweeps`` (records), ``events`` (requests that steer a sweep, and their history),
``frames`` (DataFrames), ``reaping`` (dead writers), ``paths``.
"""

from __future__ import annotations

from workbench.store.database import new_id
from workbench.store.events import EVENT_KINDS, SweepEvents
from workbench.store.frames import Frames
from workbench.store.paths import DEFAULT_DB, default_path, git_commit
from workbench.store.reaping import Reaping
from workbench.store.runs import (
    CAUSES,
    FINAL_STATUSES,
    STATUSES,
    RunRecords,
    configs_fault,
    run_tag,
)
from workbench.store.schema import SCHEMA_VERSION
from workbench.store.sweeps import SWEEP_STATUSES, SweepRecords


class RunStore(RunRecords, SweepRecords, SweepEvents, Frames, Reaping):
    """Runs, metric rows and sweeps in SQLite. Safe to share across threads (a connection
    each). ``create=False`` refuses to create a missing file (read-only commands)."""


__all__ = [
    "CAUSES",
    "DEFAULT_DB",
    "EVENT_KINDS",
    "FINAL_STATUSES",
    "SCHEMA_VERSION",
    "STATUSES",
    "SWEEP_STATUSES",
    "RunStore",
    "configs_fault",
    "default_path",
    "git_commit",
    "new_id",
    "run_tag",
]

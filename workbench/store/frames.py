"""The store read as pandas DataFrames: runs with their config and outcomes spread into
columns, curves (incrementally, for live views), sweeps. Reading never writes."""

from __future__ import annotations

import json

import pandas as pd

from workbench import metrics as M
from workbench.store.database import Database
from workbench.store.reaping import shown_as_ended


def json_path(key: str) -> str:
    """SQLite's JSON path of a top-level key (quoted: metric keys hold slashes)."""
    return '$."' + key.replace('"', '\\"') + '"'


class Frames(Database):
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
        rows = [shown_as_ended(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
        base = pd.DataFrame.from_records(rows, columns=names)
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
            df = pd.DataFrame([json.loads(d) for (d,) in rows])
            started = self._read("SELECT started_at FROM runs WHERE id = ?", (run_id,)).fetchone()
            # when its wall_time counts from: a view placing it on a clock needs this
            df.attrs["started_at"] = started[0] if started else None
            return df
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

    def sweep_curves(self, sweep_id: str, keys=(), since_rowid: int = -1) -> pd.DataFrame:
        """Every metric row the runs of sweep ``sweep_id`` wrote after row ``since_rowid``,
        in the order written: ``rowid``, ``run_id``, ``seq``, ``agent_steps``,
        ``wall_time`` and one column per key of ``keys`` (None where a row lacks it). What a
        live view polls with: rows are numbered as they are committed, so reading from the
        last rowid seen misses none and reads none twice, however many runs the sweep has."""
        keys = list(keys)
        values = "".join(", json_extract(m.data, ?)" for _ in keys)
        cur = self._read(
            f"SELECT m.rowid, m.run_id, m.seq, m.agent_steps, m.wall_time{values}"
            " FROM metrics m WHERE m.rowid > ?"  # a range of rowids: what is new, not
            # every run's index entry (the unary + keeps SQLite off the run_id index)
            " AND +m.run_id IN (SELECT id FROM runs WHERE sweep_id = ?) ORDER BY m.rowid",
            (*(json_path(k) for k in keys), since_rowid, sweep_id),
        )
        columns = ["rowid", "run_id", "seq", M.AGENT_STEPS, M.WALL_TIME, *keys]
        return pd.DataFrame.from_records(cur.fetchall(), columns=columns)

    def sweeps(self) -> pd.DataFrame:
        """One row per sweep: id, name, status, error, times, why it ended, trials."""
        cur = self._read(
            "SELECT s.id, s.name, s.status, s.error, s.created_at, s.ended_at,"
            " s.ended_because, s.host, s.pid,"
            " (SELECT COUNT(*) FROM runs r WHERE r.sweep_id = s.id) AS trials"
            " FROM sweeps s ORDER BY s.created_at, s.rowid"
        )
        names = [d[0] for d in cur.description]
        rows = [shown_as_ended(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
        return pd.DataFrame.from_records(rows, columns=names).drop(columns=["host", "pid"])

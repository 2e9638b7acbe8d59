"""Runs that leave the lab: metric rows into real TensorBoard event files and W&B offline
runs, read back with each library's own reader."""

import json
import struct
import time

import pytest

import workbench
from workbench.sinks import TensorBoardSink, WandbSink

FAST = dict(num_envs=32, bptt_horizon=16, minibatch_size=256, eval_episodes=0)


def test_rows_reach_a_tensorboard_event_file(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sink = TensorBoardSink(tmp_path / "tb")
    run = workbench.train("bandit", store=tmp_path / "wb.db", total_steps=2048, on_log=sink, **FAST)
    sink.close()
    events = EventAccumulator(str(tmp_path / "tb" / run.id))
    events.Reload()
    perf = events.Scalars("env/perf")
    curve = run.curve()
    assert [e.step for e in perf] == list(curve["agent_steps"])
    assert [e.value for e in perf] == pytest.approx(list(curve["env/perf"]))
    assert "losses/entropy" in events.Tags()["scalars"]


def _wandb_history(run_dir):
    """The history records of an offline W&B run, read from its .wandb log file (a LevelDB
    style log of protobuf records: 32 KiB blocks, 7-byte record headers)."""
    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = run_dir.glob("*.wandb")
    data, block = path.read_bytes(), 32768
    assert data[:4] == b":W&B"
    pos, records, buf = 7, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if left < 7 or (length == 0 and kind == 0):
            pos += left
            continue
        buf += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            records.append(buf)
            buf = b""
    rows = []
    for raw in records:
        record = pb.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "history":
            items = record.history.item
            rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items})
    return rows


def test_rows_reach_an_offline_wandb_run(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    sink = WandbSink("workbench-test", mode="offline", dir=tmp_path)
    run = workbench.train("bandit", store=tmp_path / "wb.db", total_steps=2048, on_log=sink, **FAST)
    sink.close()
    (run_dir,) = (tmp_path / "wandb").glob(f"offline-run-*-{run.id}")
    curve = run.curve()
    # finish() can return before W&B's writer process has flushed the log file (seen under
    # load): read it until the records are there, for at most 30 s
    deadline = time.monotonic() + 30
    while True:
        history = [h for h in _wandb_history(run_dir) if "agent_steps" in h]
        if len(history) >= len(curve) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [h["agent_steps"] for h in history] == list(curve["agent_steps"])
    assert [h["env/perf"] for h in history] == pytest.approx(list(curve["env/perf"]))

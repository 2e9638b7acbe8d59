"""Checkpoints hold tensors and plain data only; loading one never runs code; a trainer owns
its clock."""

import os
import subprocess
import sys

import pytest
import torch

import workbench
from workbench.ppo.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from workbench.ppo.config import make_config
from workbench.ppo.run import load_policy
from workbench.ppo.trainer import Trainer
from workbench.store import RunStore

FAST = dict(num_envs=32, bptt_horizon=16, minibatch_size=256, eval_episodes=0)


class _Payload:
    """Pickles as a call that creates a file: proof that loading ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _planted(tmp_path):
    """A real checkpoint with a code-running object planted in it (written with torch.save
    directly: our writer refuses such objects)."""
    run = workbench.train("bandit", store=tmp_path / "wb.db", total_steps=1024, **FAST)
    ckpt = torch.load(run.checkpoint, weights_only=True)
    marker = tmp_path / "ran"
    ckpt["extra"] = _Payload(marker)
    path = tmp_path / "evil.pt"
    torch.save(ckpt, path)
    return path, marker


def test_a_planted_payload_never_runs(tmp_path):
    path, marker = _planted(tmp_path)
    with pytest.raises(CheckpointError, match=r"evil\.pt.*posix\.system.*trust"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError):
        load_policy(str(path))
    with pytest.raises(CheckpointError):
        workbench.train("bandit", store=tmp_path / "wb.db", resume=str(path), **FAST)
    assert not marker.exists()
    # the refused resume recorded no run: only the first one is in the store
    assert len(RunStore(tmp_path / "wb.db").runs()) == 1
    # the CLI: one line, exit code 2, nothing ran
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "eval", str(path), "--db", str(tmp_path / "wb.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "--trust-checkpoint" in out.stderr
    assert not marker.exists()


def test_trust_loads_a_file_you_made(tmp_path):
    path, marker = _planted(tmp_path)
    ckpt = load_checkpoint(path, trust=True)
    assert marker.exists()  # the payload ran: trust means what it says
    assert "policy" in ckpt


def test_a_file_that_is_no_checkpoint_is_refused_in_a_line(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file at all")
    with pytest.raises(CheckpointError, match=r"junk\.pt"):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not a workbench checkpoint"):
        load_checkpoint(other)


def test_the_writer_refuses_anything_but_plain_data(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint\['config'\]\['f'\] is a builtin_function"):
        save_checkpoint(tmp_path / "x.pt", {"policy": {}, "config": {"f": len}})
    assert not (tmp_path / "x.pt").exists()


def test_a_fresh_trainer_saves_and_loads(tmp_path):
    cfg = make_config("bandit", **FAST)
    first = Trainer(cfg)
    assert first.elapsed() == 0.0
    first.save(tmp_path / "fresh.pt")  # raised AttributeError (no wall_time) before
    first.train_epoch()
    first.wall_time = 12.5  # as a resumed run's clock would read
    path = first.save(tmp_path / "one.pt")
    second = Trainer(cfg)
    second.load(path)
    assert second.epoch == first.epoch and second.agent_steps == first.agent_steps
    assert second.elapsed() == 12.5
    for a, b in zip(first.policy.parameters(), second.policy.parameters(), strict=True):
        assert torch.equal(a, b)
    # the clock goes on from the loaded time
    second.start_clock()
    assert second.elapsed() >= 12.5
    # what we write loads under the safe loader, with plain data only
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt["config"], dict) and ckpt["epoch"] == first.epoch

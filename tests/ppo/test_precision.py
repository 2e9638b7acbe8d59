"""The training precision: chosen by entry points (AMX detected then, once), never at import."""

import subprocess
import sys

import pytest

from workbench.ppo import precision
from workbench.ppo.precision import choose_precision

IMPORTS_LEAVE_THE_PROCESS_ALONE = """
import sys, torch
def state():
    return (
        torch.get_num_threads(),
        torch.get_num_interop_threads(),
        torch.get_default_dtype(),
        torch.is_autocast_cpu_enabled() if hasattr(torch, "is_autocast_cpu_enabled")
        else torch.is_autocast_enabled("cpu"),
        torch.get_autocast_dtype("cpu"),
        torch.backends.mkldnn.enabled,
        torch.get_float32_matmul_precision(),
    )
before = state()
import workbench, workbench.cli.commands, workbench.ppo.trainer, workbench.bench.train
from workbench.ppo import precision
assert precision.cpu_has_amx_bf16.cache_info().currsize == 0, "detected at import"
assert state() == before, (state(), before)
p = precision.choose_precision("cpu")
assert precision.cpu_has_amx_bf16.cache_info().currsize == 1  # detected now, once
precision.choose_precision("cpu")
assert precision.cpu_has_amx_bf16.cache_info().hits >= 1
assert state() == before, (state(), before)
print(p.name, p.reason)
"""


def test_detection_happens_only_when_an_entry_point_asks_and_changes_nothing():
    proc = subprocess.run(
        [sys.executable, "-c", IMPORTS_LEAVE_THE_PROCESS_ALONE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    name, reason = proc.stdout.split(" ", 1)
    assert name in ("fp32", "bf16") and reason.startswith(name + ":")


@pytest.fixture
def cpu(monkeypatch):
    """Pretend this CPU has (True), lacks (False) or hides (None) AMX-bf16."""

    def set_amx(value):
        monkeypatch.setattr(precision, "cpu_has_amx_bf16", lambda: value)

    return set_amx


def test_default_is_fp32_everywhere_until_bf16_is_measured(cpu, monkeypatch):
    assert precision.BF16_ON_AMX is False  # flip only with bench learn evidence (#26)
    cpu(True)
    p = choose_precision("cpu")
    assert not p.bf16 and "AMX-bf16 present" in p.reason and "--bf16 true" in p.reason
    cpu(False)
    assert choose_precision("cpu") == precision.Precision(False, "fp32: no AMX-bf16 on this CPU")
    cpu(None)
    assert not choose_precision("cpu").bf16
    assert "cannot read" in choose_precision("cpu").reason
    assert not choose_precision("cuda").bf16


def test_the_policy_switch_turns_bf16_on_only_where_amx_is(cpu, monkeypatch):
    monkeypatch.setattr(precision, "BF16_ON_AMX", True)
    cpu(True)
    p = choose_precision("cpu")
    assert p.bf16 and p.name == "bf16"
    assert p.reason == "bf16: AMX-bf16 present and measured to learn as well"
    cpu(False)
    assert not choose_precision("cpu").bf16
    assert not choose_precision("cuda:0").bf16


def test_the_flag_wins_and_says_so(cpu):
    cpu(True)
    assert choose_precision("cpu", False).reason == "fp32: set by --bf16 false"
    assert choose_precision("cpu", True).reason == "bf16: set by --bf16 true"
    cpu(False)
    p = choose_precision("cpu", True)
    assert p.bf16 and "no AMX-bf16" in p.reason
    assert choose_precision("cuda", True).reason == "bf16: set by --bf16 true"


def test_train_prints_its_precision_and_trains_in_it(tmp_path):
    from workbench.store import RunStore

    common = ["--total-steps", "512", "--num-envs", "16", "--bptt-horizon", "16"]
    common += ["--minibatch-size", "256", "--rnn", "false", "--quiet"]
    for flag, expect in ((None, None), ("true", True), ("false", False)):
        db = tmp_path / f"{flag}.db"
        args = [sys.executable, "-m", "workbench", "train", "bandit", *common, "--db", str(db)]
        proc = subprocess.run(
            args + ([] if flag is None else ["--bf16", flag]),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        line = next(x for x in proc.stderr.splitlines() if x.startswith("precision "))
        if flag is not None:
            assert f"set by --bf16 {flag}" in line
        else:
            assert line == f"precision {choose_precision('cpu')}"
        run = RunStore(db).runs().iloc[0]
        want = choose_precision("cpu").bf16 if expect is None else expect
        assert bool(run["bf16"]) is want

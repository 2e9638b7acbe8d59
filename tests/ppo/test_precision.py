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
assert precision.cpu_bf16_unit.cache_info().currsize == 0, "detected at import"
assert state() == before, (state(), before)
p = precision.choose_precision("cpu")
assert precision.cpu_bf16_unit.cache_info().currsize == 1  # detected now, once
precision.choose_precision("cpu")
assert precision.cpu_bf16_unit.cache_info().hits >= 1
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
    """Pretend this CPU's bf16 unit is a flag ("amx_bf16"), none (""), or unknown (None)."""

    def set_unit(value):
        monkeypatch.setattr(precision, "cpu_bf16_unit", lambda: value)

    return set_unit


def test_default_is_fp32_everywhere_until_bf16_is_measured(cpu):
    assert precision.BF16_DEFAULT_ON == ()  # change only with bench learn evidence (#26)
    for unit, name in (("amx_bf16", "AMX-bf16"), ("avx512_bf16", "AVX512-bf16")):
        cpu(unit)
        p = choose_precision("cpu")
        assert not p.bf16 and f"{name} present" in p.reason and "--bf16 true" in p.reason
    cpu("")
    want = precision.Precision(False, "fp32: no AMX-bf16 or AVX512-bf16 on this CPU")
    assert choose_precision("cpu") == want
    cpu(None)
    assert not choose_precision("cpu").bf16
    assert "cannot read" in choose_precision("cpu").reason
    assert not choose_precision("cuda").bf16


def test_the_policy_switch_turns_bf16_on_only_on_the_units_it_names(cpu, monkeypatch):
    monkeypatch.setattr(precision, "BF16_DEFAULT_ON", ("amx_bf16",))
    cpu("amx_bf16")
    p = choose_precision("cpu")
    assert p.bf16 and p.name == "bf16"
    assert p.reason == "bf16: AMX-bf16 present and measured to learn as well"
    for unit in ("avx512_bf16", ""):
        cpu(unit)
        assert not choose_precision("cpu").bf16
    cpu("amx_bf16")
    assert not choose_precision("cuda:0").bf16


def test_the_flag_wins_and_says_so(cpu):
    cpu("amx_bf16")
    assert choose_precision("cpu", False).reason == "fp32: set by --bf16 false"
    assert choose_precision("cpu", True).reason == "bf16: set by --bf16 true"
    cpu("")
    p = choose_precision("cpu", True)
    assert p.bf16 and "no bf16 matrix unit" in p.reason
    assert choose_precision("cuda", True).reason == "bf16: set by --bf16 true"


def test_this_cpus_unit_is_read_from_its_flags():
    unit = precision.cpu_bf16_unit()
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(x for x in f if x.startswith("flags")).split()
    except (OSError, StopIteration):
        assert unit is None
        return
    assert unit == next((u for u in ("amx_bf16", "avx512_bf16") if u in flags), "")


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

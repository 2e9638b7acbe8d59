"""Process state belongs to entry points: runs never change it, benchmarks restore it."""

import os

import pytest
import torch

import workbench
from workbench.runtime import pinned_to_one_core, torch_threads

FAST = dict(num_envs=32, bptt_horizon=16, minibatch_size=256, eval_episodes=0)


def test_two_runs_in_one_process_leave_the_thread_count_alone(tmp_path):
    before = torch.get_num_threads()
    a = workbench.launch(
        "bandit", store=tmp_path / "wb.db", total_steps=4096, torch_threads=1, **FAST
    )
    b = workbench.launch(
        "bandit", store=tmp_path / "wb.db", total_steps=4096, torch_threads=3, **FAST
    )
    assert a.wait(60).status == b.wait(60).status == "finished"
    assert a.config.torch_threads == 1 and b.config.torch_threads == 3  # each keeps its own
    assert torch.get_num_threads() == before


def test_torch_threads_is_restored_after_the_block():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(0):  # 0: leave it alone
        assert torch.get_num_threads() == before


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_bench_env_restores_the_cpu_affinity(tmp_path, monkeypatch):
    from workbench.bench import env as bench_env

    monkeypatch.setenv("WORKBENCH_BENCH_DIR", str(tmp_path))
    before = os.sched_getaffinity(0)
    with pinned_to_one_core():
        assert len(os.sched_getaffinity(0)) == 1
    assert os.sched_getaffinity(0) == before
    bench_env.run("bandit", sizes=(4,), seconds=0.05, repeats=1)
    assert os.sched_getaffinity(0) == before
    assert (tmp_path / "env_bandit.json").exists()


def test_benchmarks_write_outside_the_checkout_unless_recording(tmp_path, monkeypatch):
    from workbench.bench import common

    monkeypatch.delenv("WORKBENCH_BENCH_DIR", raising=False)
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "store" / "wb.db"))
    assert common.results_dir() == tmp_path / "store" / "bench"
    monkeypatch.setattr(common, "RECORD", True)
    assert common.results_dir() == common.RECORD_DIR


_RETAIN_CHILD = """
import ctypes, os, sys
from workbench.runtime import retain_freed_memory

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
page = os.sysconf("SC_PAGE_SIZE")

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page

def dropped_after_free(megabytes=16):
    # resident bytes handed back by freeing a touched block of 16 MiB
    size = megabytes << 20
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    held = rss()
    libc.free(block)
    return held - rss()

before = dropped_after_free()
with retain_freed_memory():
    inside = dropped_after_free()
after = dropped_after_free()
print(before, inside, after)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_retained_memory_is_kept_inside_the_block_and_handed_back_after():
    # In a fresh process: what a heap hands back depends on everything it holds.
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _RETAIN_CHILD], capture_output=True, text=True, check=True
    )
    before, inside, after = (int(x) for x in out.stdout.split())
    mib = 1 << 20
    assert before > 8 * mib, "glibc hands freed blocks back by default"
    assert inside < 8 * mib, "freed pages were handed back inside the block"
    assert after > 8 * mib, "glibc's thresholds were not restored"

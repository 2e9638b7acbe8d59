"""``bench gpu`` without a GPU: one line and exit code 2; its phases run on the CPU at tiny
sizes (the figures are the GPU's business, not asserted here)."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.bench import gpu

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(minibatch_size=256, bptt_horizon=16, env_threads=1)


def test_without_a_cuda_device_it_says_so_in_one_line_and_exits_2():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", "gpu"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = (proc.stdout + proc.stderr).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("bench gpu: no CUDA device here")
    for what in ("tests/cuda", "rollout-only", "learner-only", "score 400", "4 trials"):
        assert what in lines[0]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--budget", "0"], "--budget must be > 0 seconds, got 0 (default: 480)"),
        (
            ["--phases", "kernels,learning"],
            "phases must be some of kernels,throughput,learn,trials, got 'kernels,learning'",
        ),
    ],
)
def test_bad_flags_are_one_line(flags, message):
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", "gpu", *flags],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr == f"error: {message}\n"


def test_the_kernel_phase_counts_native_test_outcomes(tmp_path):
    tests = tmp_path / "tests" / "cuda"
    tests.mkdir(parents=True)
    (tests / "test_k.py").write_text(
        textwrap.dedent(
            """
            import os
            import pytest

            def test_interpreter_is_off():
                assert "TRITON_INTERPRET" not in os.environ

            def test_fails():
                assert False

            @pytest.mark.skip("no GPU")
            def test_skipped():
                pass
            """
        )
    )
    phase = gpu.Phase("kernels", 60)
    out = gpu.kernel_tests(phase, tmp_path)
    assert (out["tests"], out["failures"], out["skipped"], out["errors"]) == (3, 1, 1, 0)
    assert out["exit_code"] == 1
    assert gpu.kernel_tests(phase, tmp_path / "nowhere") == {"ran": False}
    assert phase.notes == [f"no {tmp_path / 'nowhere' / 'tests' / 'cuda'}: run from a checkout"]


def test_the_advantage_kernel_is_timed_with_the_trainers_backend():
    out = gpu.kernel_time(gpu.torch.device("cpu"), repeats=2)
    assert out["backend"] == "cpu" and out["shape"] == [16384, 64]
    assert out["seconds"] > 0


def test_throughput_measures_every_variant_and_names_the_graph_fallback(monkeypatch):
    variants = {k: gpu.VARIANTS[k] for k in ("threads", "all")}  # two of five: time
    monkeypatch.setattr(gpu, "VARIANTS", variants)
    phase = gpu.Phase("throughput", 600)
    rows = gpu.throughput(phase, "cpu", (32,), TINY, epochs=1)
    assert [(r["policy"], r["variant"]) for r in rows] == [
        (policy, variant) for policy in ("MLP", "MLP+LSTM") for variant in variants
    ]
    for r in rows:
        assert "error" not in r, r
        for key in ("end_to_end_sps", "rollout_only_sps", "learner_only_sps", "env_only_sps"):
            assert r[key] > 0, key
        graphs = r["variant"] in ("cuda_graphs", "all")
        assert r["config"]["cuda_graphs"] is graphs
        assert bool(r["graph_fallbacks"]) is graphs
        if graphs:
            assert r["graph_fallbacks"]["update"] == "needs a CUDA device, got device='cpu'"


def test_a_phase_out_of_time_skips_the_rest_with_a_note():
    phase = gpu.Phase("throughput", 0.0)
    assert gpu.throughput(phase, "cpu", (32,), TINY) == []
    assert len(phase.notes) == 2 * len(gpu.VARIANTS)
    assert phase.notes[0].startswith("skipped MLP 32 threads: ")
    phase = gpu.Phase("learn", -1.0)
    assert gpu.learn(phase, "cpu", (0, 1), dict(num_envs=32, **TINY), 400.0) == []
    assert phase.notes[0] == "skipped seed 0: -1s left of -1s"


def test_learn_reports_time_to_target_with_compile_and_capture_apart():
    phase = gpu.Phase("learn", 60)
    config = dict(num_envs=32, **TINY)
    (r,) = gpu.learn(phase, "cpu", (0,), config, target=float("-inf"), min_episodes=0)
    # The first epoch in which an episode ended (its mean score is the metric).
    assert r["reached"] and r["seconds_to_target"] > 0 and r["steps_to_target"] % (32 * 16) == 0
    assert r["steps_to_target"] == r["agent_steps"] and r["best_epoch_score"] is not None
    assert r["kernel_compile_s"] > 0 and r["capture_s"] == 0.0
    assert r["seconds_to_target_less_capture"] == r["seconds_to_target"]


def test_concurrent_trials_report_the_aggregate_over_their_common_window():
    kwargs = dict(device="cpu", num_envs=32, eval_episodes=0, checkpoint_interval=0, **TINY)
    out = gpu.concurrent_trials(2, kwargs, seconds=10.0, limit=120)
    assert out["statuses"] == ["pruned", "pruned"], out  # the wall-time cap ended both
    assert out["window_s"] > 0 and out["aggregate_sps"] > 0


def test_a_failing_phase_is_reported_and_the_rest_still_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_BENCH_DIR", str(tmp_path / "out"))
    tests = tmp_path / "tests" / "cuda"
    tests.mkdir(parents=True)
    (tests / "test_k.py").write_text("def test_ok():\n    pass\n")
    report = gpu.run(
        budget=300,  # the kernels phase's share must hold a pytest start on a loaded machine
        phases=("learn", "kernels"),  # run in the check's order
        device="cpu",
        config=dict(num_envs=-1),
        root=tmp_path,
    )
    saved = json.loads(Path(report["path"]).read_text())
    assert saved["phases"] == ["kernels", "learn"]
    assert saved["kernel_tests"]["tests"] == 1 and saved["kernel_tests"]["exit_code"] == 0
    assert saved["learn_error"] == "ConfigError: num_envs must be > 0, got -1"
    assert "throughput" not in saved and "trials" not in saved
    assert "learn: failed: ConfigError: num_envs must be > 0, got -1" in capsys.readouterr().out


@pytest.mark.slow
def test_the_whole_check_writes_one_json(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_BENCH_DIR", str(tmp_path))
    report = gpu.run(
        budget=240,
        device="cpu",
        sizes=(32,),
        seeds=(0,),
        base=TINY,
        config=dict(num_envs=32, **TINY),
        target=float("-inf"),
        concurrent=2,
        min_episodes=0,
    )
    saved = json.loads(Path(report["path"]).read_text())
    assert saved["kernel_tests"]["ran"] and len(saved["throughput"]) == 10
    assert saved["learn"][0]["reached"] and saved["trials"]["ratio"] > 0


@pytest.mark.slow
def test_the_pack_holds_every_requirement_within_the_limit(tmp_path):
    from workbench.bench import gpu_pack

    out = gpu_pack.pack(tmp_path / "wheels")  # downloads: needs PyPI
    assert out["mib"] <= gpu_pack.LIMIT_MIB
    names = {w.split("-")[0].lower().replace("_", "-") for w in out["wheels"]}
    for req in (*gpu_pack.PURE, *gpu_pack.COMPILED):
        assert re.split(r"[<>=]", req)[0].lower() in names, req
    pythons = {w.split("-")[2] for w in out["wheels"] if w.lower().startswith("pyyaml")}
    assert pythons == {f"cp{v.replace('.', '')}" for v in gpu_pack.PYTHONS}
    assert (tmp_path / "wheels" / "requirements.txt").read_text().split() == list(
        gpu_pack.REQUIREMENTS
    )

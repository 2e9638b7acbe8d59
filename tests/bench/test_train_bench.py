"""bench train: the bound in both precisions, each ratio against its own precision's bound."""

import json

import pytest

from workbench.bench import train as bench_train

SMALL = dict(sizes=(16,), bptt_horizon=16, minibatch_size=128, torch_threads=1)


@pytest.mark.parametrize("bf16", [None, True], ids=["default", "bf16"])
def test_bench_train_reports_the_bound_in_both_precisions(tmp_path, monkeypatch, capsys, bf16):
    monkeypatch.setenv("WORKBENCH_BENCH_DIR", str(tmp_path))
    flags = {} if bf16 is None else {"bf16": bf16}
    bench_train.run("bandit", epochs=1, **SMALL, **flags)
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "train_bandit.json").read_text())
    assert data["machine"]["cpu_model"]  # the processor is named in the record
    want = "bf16" if bf16 else "fp32"  # this CPU's policy default is fp32 (BF16_ON_AMX off)
    assert data["precision"]["trainer"] == want
    assert data["precision"]["reason"].startswith(want + ":")
    assert f"precision {data['precision']['reason']}" in out
    assert "bound fp32" in out and "bound bf16" in out
    for r in data["results"]:
        assert r["precision"] == want and r["config"]["bf16"] == (want == "bf16")
        assert set(r["bounds"]) == {"fp32", "bf16"}
        assert r["bound_sps"] == r["bounds"][want]["sps"]  # the ratio's bound: its own
        for b in r["bounds"].values():
            assert b["sps"]["median"] > 0 and b["update_seconds"] > 0
        if want == "fp32":
            assert r["ratio"] == r["ratio_fp32"]

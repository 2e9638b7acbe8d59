"""The tables ``bench gpu`` prints from its report (``workbench.bench.gpu``)."""

from __future__ import annotations

from workbench.bench.common import print_table


def _fmt_s(value) -> str:
    return "-" if value is None else f"{value:.1f}s"


def print_report(report: dict) -> None:
    print(f"bench gpu on {report['device']} ({report['device_model']}), torch {report['torch']}")
    kt, k = report.get("kernel_tests", {}), report.get("kernel_time")
    if "tests" in kt:
        print(
            f"tests/cuda natively: {kt['tests']} tests, {kt['failures']} failed, "
            f"{kt['errors']} errors, {kt['skipped']} skipped (exit code {kt['exit_code']})"
        )
    if k:
        share = k.get("share_of_mlp_epoch")
        print(
            f"advantage kernel ({k['backend']}) over {k['shape'][1]} x {k['shape'][0]}: "
            f"{k['seconds'] * 1e3:.3f} ms"
            + (f", {share:.2%} of an MLP epoch at {k['shape'][0]} agents" if share else "")
        )
    if report.get("throughput"):
        _print_throughput(report["throughput"])
    if report.get("learn"):
        _print_learn(report["learn"], report["target_score"])
    if report.get("trials"):
        _print_trials(report["trials"])
    for name in report["phases"]:
        if f"{name}_error" in report:
            print(f"{name}: failed: {report[f'{name}_error']}")
        for note in report["phase_notes"].get(name, []):
            print(f"{name}: {note}")


def _print_throughput(results: list[dict]) -> None:
    headers = ["policy", "agents", "variant", "end-to-end", "rollout-only", "learner-only"]
    headers += ["env-only", "rollout/env", "capture s"]
    rows = []
    for r in results:
        row = [r["policy"], r["agents"], r["variant"]]
        if "error" in r:
            row += [r["error"][:60]] + [""] * 5
        else:
            row += [r["end_to_end_sps"], r["rollout_only_sps"], r["learner_only_sps"]]
            row += [r.get("env_only_sps", float("nan"))]
            row += [f"{r.get('rollout_over_env', float('nan')):.2f}", f"{r['capture_s']:.2f}"]
        rows.append(row)
    print("Breakout agent steps/s, median of epochs (rollout-only and learner-only: the same")
    print("trainer's rollout() and update() timed apart, between its end-to-end epochs)")
    print_table(headers, rows)


def _print_learn(results: list[dict], target: float) -> None:
    rows = [
        [
            r["seed"],
            "yes" if r["reached"] else "no",
            _fmt_s(r["seconds_to_target"]),
            _fmt_s(r["seconds_to_target_less_capture"]),
            r["steps_to_target"] or "-",
            _fmt_s(r["kernel_compile_s"]),
            _fmt_s(r["capture_s"]),
            r["best_epoch_score"] if r["best_epoch_score"] is not None else "-",
        ]
        for r in results
    ]
    print(f"time to mean score {target:g} (an epoch's mean over its ended episodes)")
    headers = ["seed", "reached", "train time", "less capture", "steps", "compile", "capture"]
    print_table([*headers, "best"], rows)


def _print_trials(tr: dict) -> None:
    rows = [
        [tr[key]["trials"], tr[key].get("aggregate_sps", tr[key].get("note", "-"))]
        for key in ("one", "many")
        if key in tr
    ]
    if rows:
        print("trials at once on one device (processes executor): aggregate steps/s")
        print_table(["trials", "aggregate steps/s"], rows)
    if "ratio" in tr:
        print(f"{tr['many']['trials']} trials / 1 trial: {tr['ratio']:.2f}x")

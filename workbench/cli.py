"""Command line: ``python -m workbench {train,eval,runs,bench} ...``.

Training flags are generated from TrainConfig (``learning_rate`` -> ``--learning-rate``)
and from the env's own parameters (``--frameskip``), so the same keys work everywhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from workbench import metrics as M


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _int(text: str) -> int:
    """An integer, also written the way researchers type step counts: 1e6, 20e6, 1_000_000."""
    try:
        return int(text.replace("_", ""))
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r} (= {value:g})")
    return int(value)


def _add_config_flags(parser: argparse.ArgumentParser, env: str | None) -> None:
    from workbench.envs.registry import COMMON_PARAMS, env_params
    from workbench.ppo.config import TrainConfig, field_docs

    docs = field_docs()
    group = parser.add_argument_group("training (TrainConfig fields)")
    for f in dataclasses.fields(TrainConfig):
        if f.name in ("env", "env_params"):
            continue
        kind = {"int": _int, "float": float, "str": str, "bool": _bool}[str(f.type)]
        group.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            type=kind,
            default=argparse.SUPPRESS,
            help=docs.get(f.name, ""),
        )
    if env:
        try:
            params = env_params(env)
        except ValueError:
            return
        group = parser.add_argument_group(f"{env} parameters")
        for name, p in params.items():
            if name in COMMON_PARAMS:
                continue
            kind = {bool: _bool, int: _int}.get(p.type, p.type)
            group.add_argument(
                f"--{name.replace('_', '-')}",
                dest=f"env.{name}",
                type=kind,
                metavar=name.upper(),
                default=argparse.SUPPRESS,
                help=f"{p.doc} ({p.valid_text()})",
            )


def _overrides(args: argparse.Namespace) -> dict:
    skip = {"command", "func", "env", "db", "resume", "quiet", "what", "config"}
    out, env_params = {}, {}
    for key, value in vars(args).items():
        if key.startswith("env."):
            env_params[key[4:]] = value
        elif key not in skip:
            out[key] = value
    if env_params:
        out["env_params"] = env_params
    return out


def _train(args) -> None:
    import workbench
    from workbench.dashboard import Dashboard
    from workbench.ppo.config import make_config
    from workbench.runtime import stop_on_signals, torch_threads

    overrides = _overrides(args)
    if args.config:
        from workbench.ppo.config import read_config_file

        layered = read_config_file(args.config)
        params = {**layered.pop("env_params", {}), **overrides.pop("env_params", {})}
        overrides = {**layered, **overrides, **({"env_params": params} if params else {})}
    cfg = make_config(args.env, **overrides)
    board = Dashboard(cfg.total_steps, title=f"{cfg.env}")
    last = {}

    def on_log(run_id, row):
        board.run_id = run_id
        last.update(row)
        if not args.quiet:
            board(row)

    try:
        with torch_threads(cfg.torch_threads), stop_on_signals():
            run = workbench.train(cfg, store=args.db, on_log=on_log, resume=args.resume)
        if last and not args.quiet:
            board(last, force=True)  # the final state stays on screen
    except KeyboardInterrupt as e:
        board.close()
        why = str(e) or "Ctrl-C"
        print(
            f"\n{why}: run {board.run_id or ''} is recorded as stopped, with its checkpoint "
            f"(resume with --resume {board.run_id})",
            file=sys.stderr,
        )
        sys.exit(143 if why == "SIGTERM" else 130)
    finally:
        board.close()
    s, nan = run.summary, float("nan")
    print(
        f"run {run.id} {run.status}: {s.get(M.AGENT_STEPS, 0):,} steps in "
        f"{s.get(M.WALL_TIME, 0):.1f}s; score {M.final(s, M.SCORE, nan):.2f}, "
        f"perf {M.final(s, M.PERF, nan):.3f}; checkpoint {run.checkpoint}"
    )


def _eval(args) -> None:
    from pathlib import Path

    from workbench.ppo.run import load_policy, resolve_checkpoint, run_eval
    from workbench.store import RunStore

    ckpt = args.target
    if not Path(ckpt).exists():
        ckpt = resolve_checkpoint(args.target, RunStore(args.db, create=False))[0]
    policy, cfg = load_policy(ckpt)
    result = run_eval(policy, cfg, args.episodes, seed=args.seed)
    print(
        f"{cfg.env} checkpoint {ckpt}: "
        + ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()
        )
    )


def _runs(args) -> None:
    import pandas as pd

    from workbench.store import RunStore

    df = RunStore(args.db).runs(args.query)
    if df.empty:
        print("no runs" + (f" match {args.query!r}" if args.query else ""))
        return
    cols = [c for c in args.columns.split(",") if c in df.columns]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))


def _sweep(args) -> None:
    from workbench.runtime import stop_on_signals, torch_threads
    from workbench.sweep.console import SweepConsole
    from workbench.sweep.driver import sweep

    console = None
    handle = sweep(
        args.definition,
        trials=args.trials,
        hours=args.hours,
        store=args.db,
        resume=args.resume,
        seed=args.seed,
        executor=args.executor,
        workers=args.workers,
        on_trial=lambda record: console.on_trial(record) if console else None,
        background=True,
    )
    console = SweepConsole(handle)
    print(f"sweep {handle.id} ({handle.definition.name}) started", file=sys.stderr)
    try:
        with torch_threads(args.torch_threads), stop_on_signals():
            console.run()
    except KeyboardInterrupt as e:
        handle.stop()
        handle.wait()
        print(
            f"\n{e or 'Ctrl-C'}: sweep {handle.id} stopped; resume with --resume {handle.id}",
            file=sys.stderr,
        )
        sys.exit(143 if str(e) == "SIGTERM" else 130)
    best = handle.best()
    d = handle.definition
    print(f"sweep {handle.id} {handle.status}: {len(handle.trials)} trials")
    if best:
        print(
            f"best {d.metric} {best['score']:.4g} at {d.cost} {best['cost']:.4g}: run "
            f"{best['run_id']} ({', '.join(f'{k}={best[k]}' for k in d.space)})"
        )
    if handle.status == "failed":
        print(f"error: {handle.error}", file=sys.stderr)
        sys.exit(1)


def _sweeps(args) -> None:
    import pandas as pd

    from workbench.store import RunStore

    df = RunStore(args.db, create=False).sweeps()
    if df.empty:
        print("no sweeps")
        return
    df["created_at"] = pd.to_datetime(df["created_at"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
    df["error"] = [
        e.strip().splitlines()[-1][:60] if isinstance(e, str) else "" for e in df["error"]
    ]
    print(df[["id", "name", "status", "trials", "created_at", "error"]].to_string(index=False))


def _bench_env(args) -> None:
    from workbench.bench import env as bench_env

    sizes = tuple(int(s) for s in args.sizes.split(","))
    bench_env.run(
        args.name,
        sizes=sizes,
        seconds=args.seconds,
        repeats=args.repeats,
        pin=not args.no_pin,
        threads=args.threads,
    )


def _bench_adapter(args) -> None:
    from workbench.bench import env as bench_env

    bench_env.run_adapter(
        args.env_id, num_envs=args.num_envs, seconds=args.seconds, repeats=args.repeats
    )


def _bench_train(args) -> None:
    from workbench.bench import train as bench_train

    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else None
    flags = {
        "env_threads": args.env_threads,
        "minibatch_size": args.minibatch_size,
        "double_buffer": args.double_buffer or None,
        "bf16": args.bf16 or None,
        "compile_rollout": args.compile or None,
        "profile": args.profile or None,
    }
    overrides = {k: v for k, v in flags.items() if v is not None}
    bench_train.run(args.name, epochs=args.epochs, device=args.device, sizes=sizes, **overrides)


def _bench_learn(args) -> None:
    from workbench.bench import learn as bench_learn

    seeds = tuple(int(s) for s in args.seeds.split(","))
    env_params = {}
    for item in args.env_param:
        key, _, value = item.partition("=")
        env_params[key] = _literal(value)
    overrides = {"env_params": env_params} if env_params else {}
    bench_learn.run(args.name, seconds=args.seconds, seeds=seeds, **overrides)


def _bench_sweep(args) -> None:
    from workbench.bench import sweep as bench_sweep

    split = lambda text: tuple(t for t in text.split(",") if t)  # noqa: E731
    bench_sweep.run(
        problems=split(args.problems),
        budgets=tuple(float(b) for b in split(args.budgets)),
        seeds=args.seeds,
        methods=split(args.methods) or None,
        protein=args.protein,
        quick=args.quick,
        workers=args.workers,
    )


def _bench_sweep_executors(args) -> None:
    from workbench.bench import sweep_executors

    sweep_executors.run(trials=args.trials, workers=args.workers)


def _literal(text: str):
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workbench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    env_name = argv[1] if len(argv) > 1 and argv[0] == "train" else None
    train = sub.add_parser("train", help="train an env with PPO, live dashboard")
    train.add_argument("env", help="registered env name, e.g. breakout")
    train.add_argument(
        "--db", default=None, help="run store path (default $WORKBENCH_DB or runs/workbench.db)"
    )
    train.add_argument("--resume", default=None, help="checkpoint path or run id")
    train.add_argument(
        "--config",
        default=None,
        help="TOML with [train] and [env] tables over the env's defaults (flags win), e.g. "
        "a config exported from a sweep",
    )
    train.add_argument("--quiet", action="store_true", help="no dashboard")
    _add_config_flags(train, env_name)
    train.set_defaults(func=_train)

    ev = sub.add_parser("eval", help="evaluate a checkpoint on fresh episodes")
    ev.add_argument("target", help="checkpoint path or run id")
    ev.add_argument("--episodes", type=int, default=64)
    ev.add_argument("--seed", type=int, default=12345)
    ev.add_argument("--db", default=None)
    ev.set_defaults(func=_eval)

    runs = sub.add_parser("runs", help="table of the run store")
    runs.add_argument("--query", default=None, help='pandas query, e.g. "score >= 300"')
    runs.add_argument("--db", default=None)
    runs.add_argument(
        "--columns",
        default=",".join(
            ("id", "name", "env", "status", M.AGENT_STEPS, M.WALL_TIME, M.SCORE, M.PERF)
        ),
    )
    runs.set_defaults(func=_runs)

    sw = sub.add_parser("sweep", help="run a sweep definition (sweeps/*.toml), live view")
    sw.add_argument("definition", nargs="?", help="sweep definition TOML, e.g. sweeps/pong.toml")
    sw.add_argument("--trials", type=int, default=None, help="trial budget (overrides the file)")
    sw.add_argument("--hours", type=float, default=None, help="time budget (overrides the file)")
    sw.add_argument("--resume", default=None, help="id of a sweep in the store to continue")
    sw.add_argument("--seed", type=int, default=None, help="the engine's seed")
    sw.add_argument(
        "--executor", choices=("inline", "processes", "ray"), default=None, help="where trials run"
    )
    sw.add_argument("--workers", type=int, default=None, help="trials at once (processes, ray)")
    sw.add_argument("--torch-threads", type=int, default=0, help="torch threads (0: default)")
    sw.add_argument("--db", default=None)
    sw.set_defaults(func=_sweep)
    sws = sub.add_parser("sweeps", help="list the sweeps in the store")
    sws.add_argument("--db", default=None)
    sws.set_defaults(func=_sweeps)

    bench = sub.add_parser("bench", help="benchmarks (print a table, write benchmarks/results/)")
    bench_sub = bench.add_subparsers(dest="what", required=True)
    env = bench_sub.add_parser("env", help="env.step() throughput for 1 and 1024 copies")
    env.add_argument("name", help="registered env name, e.g. breakout")
    env.add_argument("--sizes", default="1,1024", help="comma-separated num_envs values")
    env.add_argument("--seconds", type=float, default=2.0, help="seconds per repeat")
    env.add_argument("--repeats", type=int, default=5, help="repeats (median reported)")
    env.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    env.add_argument(
        "--threads", type=int, default=1, help="threads stepping slices of the copies (unpinned)"
    )
    env.set_defaults(func=_bench_env)
    tr = bench_sub.add_parser("train", help="end-to-end training steps/s vs the policy bound")
    tr.add_argument("name", help="registered env name, e.g. breakout")
    tr.add_argument("--epochs", type=int, default=8, help="timed epochs per policy and size")
    tr.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    tr.add_argument(
        "--sizes", default=None, help="comma-separated num_envs (default: the env's, or GPU sizes)"
    )
    tr.add_argument("--env-threads", type=int, default=None, help="TrainConfig.env_threads")
    tr.add_argument("--minibatch-size", type=int, default=None, help="TrainConfig.minibatch_size")
    tr.add_argument("--double-buffer", action="store_true", help="TrainConfig.double_buffer")
    tr.add_argument("--bf16", action="store_true", help="TrainConfig.bf16 (GPU)")
    tr.add_argument("--compile", action="store_true", help="TrainConfig.compile_rollout (GPU)")
    tr.add_argument("--profile", action="store_true", help="TrainConfig.profile: wall-clock phases")
    tr.set_defaults(func=_bench_train)
    ad = bench_sub.add_parser("adapter", help="Gymnasium adapter overhead vs raw Gymnasium")
    ad.add_argument("env_id", help="Gymnasium id, e.g. CartPole-v1")
    ad.add_argument("--num-envs", type=int, default=64)
    ad.add_argument("--seconds", type=float, default=2.0)
    ad.add_argument("--repeats", type=int, default=5)
    ad.set_defaults(func=_bench_adapter)
    le = bench_sub.add_parser("learn", help="time and steps to score thresholds, final eval")
    le.add_argument("name", help="registered env name, e.g. breakout")
    le.add_argument("--seconds", type=float, default=None, help="wall-clock budget per seed")
    le.add_argument("--seeds", default="0", help="comma-separated seeds")
    le.add_argument(
        "--env-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="env parameter over the env's config, e.g. difficulty=1 (repeatable)",
    )
    le.set_defaults(func=_bench_learn)
    bs = bench_sub.add_parser(
        "sweep", help="this sweeper vs random, Optuna, scikit-optimize, BoTorch at equal cost"
    )
    bs.add_argument("--problems", default="rl,zdt1", help="comma-separated: rl, zdt1")
    bs.add_argument("--budgets", default="10,30", help="budgets in full default runs")
    bs.add_argument("--seeds", type=int, default=5, help="seeds per method (median reported)")
    bs.add_argument(
        "--methods",
        default="",
        help="comma-separated subset of: ours, random, tpe, optuna_gp, skopt, botorch, protein",
    )
    bs.add_argument("--protein", default=None, help="path to PufferLib's sweep.py (optional)")
    bs.add_argument("--quick", action="store_true", help="a small smoke run")
    bs.add_argument("--workers", type=int, default=None, help="processes (default 2)")
    bs.set_defaults(func=_bench_sweep)
    be = bench_sub.add_parser(
        "sweep-executors", help="trials per hour: inline, processes and ray executors"
    )
    be.add_argument("--trials", type=int, default=12, help="trials per executor")
    be.add_argument("--workers", type=int, default=2, help="workers for processes and ray")
    be.set_defaults(func=_bench_sweep_executors)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        args.func(args)
    except (ValueError, TypeError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)

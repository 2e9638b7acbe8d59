"""``python -m workbench bench ...``: the benchmark commands. Each prints a table and
writes JSON: under the run store's folder (``runs/bench/``) by default, so a user's run
never dirties the checkout, or under ``benchmarks/results/`` with ``--record``."""

from __future__ import annotations

from workbench.cli.flags import literal


def bench_env(args) -> None:
    from workbench.bench import env as bench_env

    sizes = tuple(int(s) for s in args.sizes.split(","))
    bench_env.run(
        args.name,
        sizes=sizes,
        seconds=args.seconds,
        repeats=args.repeats,
        pin=not args.no_pin,
        slices=args.slices,
    )


def bench_adapter(args) -> None:
    from workbench.bench import env as bench_env

    bench_env.run_adapter(
        args.env_id, num_envs=args.num_envs, seconds=args.seconds, repeats=args.repeats
    )


def bench_train(args) -> None:
    from workbench.bench import train as bench_train

    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else None
    flags = {
        "env_threads": args.env_threads,
        "minibatch_size": args.minibatch_size,
        "double_buffer": args.double_buffer or None,
        "bf16": args.bf16 or None,
        "bf16_rollout": args.bf16_rollout or None,
        "compile_rollout": args.compile or None,
        "profile": args.profile or None,
    }
    overrides = {k: v for k, v in flags.items() if v is not None}
    bench_train.run(args.name, epochs=args.epochs, device=args.device, sizes=sizes, **overrides)


def bench_learn(args) -> None:
    from workbench.bench import learn as bench_learn

    seeds = tuple(int(s) for s in args.seeds.split(","))
    env_params = {}
    for item in args.env_param:
        key, _, value = item.partition("=")
        env_params[key] = literal(value)
    overrides = {"env_params": env_params} if env_params else {}
    precisions = tuple(p for p in args.precisions.split(",") if p)
    bad = [p for p in precisions if p not in ("fp32", "bf16")]
    if bad:
        from workbench.cli.commands import CommandError

        raise CommandError(f"--precisions takes fp32 and/or bf16, got {bad[0]!r}: e.g. fp32,bf16")
    bench_learn.run(
        args.name, seconds=args.seconds, seeds=seeds, precisions=precisions, **overrides
    )


def bench_sweep(args) -> None:
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
        name=args.name,
    )


def bench_sweep_warm(args) -> None:
    from workbench.bench import sweep_warm

    sweep_warm.run(seeds=args.seeds, budget=args.budget)


def bench_sweep_view(args) -> None:
    from workbench.bench import sweep_view

    sweep_view.run(
        trials=args.trials, points=args.points, new=args.new, rate=args.rate, store=args.store
    )


def bench_sweep_objective(args) -> None:
    from workbench.bench import sweep_objective

    sweep_objective.run(trials=args.trials)


def bench_sweep_executors(args) -> None:
    from workbench.bench import sweep_executors

    sweep_executors.run(trials=args.trials, workers=args.workers)


def bench_gpu(args) -> None:
    if args.pack:
        from workbench.bench import gpu_pack

        gpu_pack.run(args.pack)
        return
    if args.budget <= 0:
        raise ValueError(f"--budget must be > 0 seconds, got {args.budget:g} (default: 480)")
    import torch

    from workbench.bench import gpu

    phases = gpu.check_phases([p for p in args.phases.split(",") if p])
    if not torch.cuda.is_available():
        print(gpu.no_device_line())
        raise SystemExit(2)
    gpu.run(budget=args.budget, phases=phases)


def bench_interop(args) -> None:
    from workbench.bench import interop

    parts = tuple(p for p in args.parts.split(",") if p)
    bad = [p for p in parts if p not in interop.PARTS]
    if bad or not parts:
        raise ValueError(
            f"--parts must be a comma-separated subset of {', '.join(interop.PARTS)}, "
            f"got {args.parts!r}"
        )
    seeds = tuple(int(s) for s in args.seeds.split(","))
    interop.run(parts=parts, seeds=seeds, seconds=args.seconds)


def add_parsers(sub) -> None:
    """The ``bench`` subcommand and its own subcommands."""
    bench = sub.add_parser("bench", help="benchmarks: print a table, write JSON results")
    bench.add_argument(
        "--record",
        action="store_true",
        help="write results to benchmarks/results/ (the tracked record) instead of runs/bench/",
    )
    bench_sub = bench.add_subparsers(dest="what", required=True)
    env = bench_sub.add_parser("env", help="env.step() throughput for 1 and 1024 copies")
    env.add_argument("name", help="registered env name, e.g. breakout")
    env.add_argument("--sizes", default="1,1024", help="comma-separated num_envs values")
    env.add_argument("--seconds", type=float, default=2.0, help="seconds per repeat")
    env.add_argument("--repeats", type=int, default=5, help="repeats (median reported)")
    env.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    env.add_argument(
        "--slices", type=int, default=1, help="slices of the copies, a thread each (unpinned)"
    )
    env.set_defaults(func=bench_env)
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
    tr.add_argument(
        "--bf16",
        action="store_true",
        help="train in bfloat16 autocast (TrainConfig.bf16); default: the precision policy",
    )
    tr.add_argument(
        "--bf16-rollout", action="store_true", help="TrainConfig.bf16_rollout (with --bf16)"
    )
    tr.add_argument("--compile", action="store_true", help="TrainConfig.compile_rollout (GPU)")
    tr.add_argument("--profile", action="store_true", help="TrainConfig.profile: wall-clock phases")
    tr.set_defaults(func=bench_train)
    ad = bench_sub.add_parser("adapter", help="Gymnasium adapter overhead vs raw Gymnasium")
    ad.add_argument("env_id", help="Gymnasium id, e.g. CartPole-v1")
    ad.add_argument("--num-envs", type=int, default=64)
    ad.add_argument("--seconds", type=float, default=2.0)
    ad.add_argument("--repeats", type=int, default=5)
    ad.set_defaults(func=bench_adapter)
    le = bench_sub.add_parser("learn", help="time and steps to score thresholds, final eval")
    le.add_argument("name", help="registered env name, e.g. breakout")
    le.add_argument("--seconds", type=float, default=None, help="wall-clock budget per seed")
    le.add_argument("--seeds", default="0", help="comma-separated seeds")
    le.add_argument(
        "--precisions",
        default="",
        help="fp32,bf16: every seed in each, interleaved, and whether bf16 is no worse "
        "(default: the precision policy's choice)",
    )
    le.add_argument(
        "--env-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="env parameter over the env's config, e.g. difficulty=1 (repeatable)",
    )
    le.set_defaults(func=bench_learn)
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
    bs.add_argument(
        "--name",
        default="sweep",
        help="results file name, without .json (e.g. sweep_budgets for a budget-scaling run)",
    )
    bs.set_defaults(func=bench_sweep)
    bw = bench_sub.add_parser(
        "sweep-warm", help="budget a warm-started sweep needs to reach a finished one's front"
    )
    bw.add_argument("--seeds", type=int, default=3, help="pairs of sweeps (default 3)")
    bw.add_argument("--budget", type=float, default=30.0, help="default runs per sweep")
    bw.set_defaults(func=bench_sweep_warm)
    bv = bench_sub.add_parser(
        "sweep-view", help="the live sweep view at 10,000 trials: first draw, latency, memory"
    )
    bv.add_argument("--trials", type=int, default=10_000, help="default 10000")
    bv.add_argument("--points", type=int, default=10, help="curve points per trial")
    bv.add_argument("--new", type=int, default=20, help="trials added while watched")
    bv.add_argument("--rate", type=float, default=2.0, help="trials added per second")
    bv.add_argument("--store", help="reuse (or keep) the store at this path")
    bv.set_defaults(func=bench_sweep_view)
    bo = bench_sub.add_parser(
        "sweep-objective", help="a black-box sweep of a cheap function, and its view"
    )
    bo.add_argument("--trials", type=int, default=300, help="trials (default 300)")
    bo.set_defaults(func=bench_sweep_objective)
    be = bench_sub.add_parser(
        "sweep-executors", help="trials per hour: inline, processes and ray executors"
    )
    be.add_argument("--trials", type=int, default=12, help="trials per executor")
    be.add_argument("--workers", type=int, default=2, help="workers for processes and ray")
    be.set_defaults(func=bench_sweep_executors)
    gp = bench_sub.add_parser(
        "gpu", help="the whole GPU check in 8 minutes (exit code 2 without a CUDA device)"
    )
    gp.add_argument(
        "--budget", type=float, default=480.0, help="seconds for all phases (default: 480)"
    )
    gp.add_argument(
        "--phases",
        default="kernels,throughput,learn,trials",
        help="comma-separated subset to run (a rerun of part of the check)",
    )
    gp.add_argument(
        "--pack",
        metavar="DIR",
        default=None,
        help="instead: download the wheels a GPU machine without a registry needs into DIR",
    )
    gp.set_defaults(func=bench_gpu)
    io = bench_sub.add_parser(
        "interop", help="our envs in SB3, SB3 RL-Zoo PPO vs ours, make_gymnasium overhead"
    )
    io.add_argument(
        "--parts", default="overhead,cartpole,breakout", help="comma-separated subset to run"
    )
    io.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (CartPole median)")
    io.add_argument("--seconds", type=float, default=60.0, help="Breakout wall-clock per trainer")
    io.set_defaults(func=bench_interop)

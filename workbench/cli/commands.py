"""The commands: train, eval, runs, sweep, sweeps. Each checks its arguments before it
writes anything, names a run by its id (with its name beside it), and fails with one line."""

from __future__ import annotations

import sys

from workbench import metrics as M
from workbench.cli.flags import overrides

RUN_COLUMNS = ("id", "name", "env", "status", M.AGENT_STEPS, M.WALL_TIME, M.SCORE, M.PERF)


class CommandError(ValueError):
    """A command's one-line error (printed as ``error: ...``, exit code 2)."""


def train(args) -> None:
    import workbench
    from workbench.dashboard import Dashboard
    from workbench.ppo.config import make_config
    from workbench.ppo.threads import best_torch_threads
    from workbench.runtime import retain_freed_memory, stop_on_signals, torch_threads

    layered = overrides(args)
    if args.config:
        from workbench.ppo.config import read_config_file

        from_file = read_config_file(args.config)
        params = {**from_file.pop("env_params", {}), **layered.pop("env_params", {})}
        layered = {**from_file, **layered, **({"env_params": params} if params else {})}
    cfg = make_config(args.env, **layered)
    # The precision is this entry point's choice (the CPU's bf16 unit read here, once).
    from workbench.ppo.precision import choose_precision

    precision = choose_precision(cfg.device, layered.get("bf16"))
    cfg = cfg.replace(bf16=precision.bf16)
    sinks = _sinks(args)
    board = Dashboard(cfg.total_steps, title=f"{cfg.env}")
    last = {}

    def on_log(run_id, row):
        last.update(row)
        if not args.quiet:
            board(row)

    # Everything is checked here; launch() records the run only after its resume is found.
    handle = workbench.launch(
        cfg,
        store=args.db,
        on_log=[on_log, *sinks],
        resume=args.resume,
        start=False,
        trust_checkpoint=args.trust_checkpoint,
    )
    board.run_id = handle.run_id
    name = handle.store.run(handle.run_id)["name"]
    print(f"run {handle.run_id} ({name}) started; store {handle.store.path}", file=sys.stderr)
    print(f"precision {precision}", file=sys.stderr)
    # This process is the run's own: the thread count that runs its minibatch fastest
    # (unless the config sets one), and freed activations kept for the next minibatch.
    threads = cfg.torch_threads or best_torch_threads(cfg)
    try:
        with torch_threads(threads), retain_freed_memory(), stop_on_signals():
            run = handle.run()
        if last and not args.quiet:
            board(last, force=True)  # the final state stays on screen
    except KeyboardInterrupt as e:
        board.close()
        why = str(e) or "Ctrl-C"
        print(
            f"\n{why}: run {handle.run_id} ({name}) is recorded as stopped, with its "
            f"checkpoint; continue it with --resume {handle.run_id}",
            file=sys.stderr,
        )
        sys.exit(143 if why == "SIGTERM" else 130)
    finally:
        board.close()
        for sink in sinks:
            sink.close()
    s, nan = run.summary, float("nan")
    print(
        f"run {run.id} ({name}) {run.status}: {s.get(M.AGENT_STEPS, 0):,} steps in "
        f"{s.get(M.WALL_TIME, 0):.1f}s; score {M.final(s, M.SCORE, nan):.2f}, "
        f"perf {M.final(s, M.PERF, nan):.3f}; checkpoint {run.checkpoint}"
    )


def _sinks(args) -> list:
    out = []
    if getattr(args, "tensorboard", None):
        from workbench.sinks import TensorBoardSink

        out.append(TensorBoardSink(args.tensorboard))
    if getattr(args, "wandb", None):
        from workbench.sinks import WandbSink

        out.append(WandbSink(args.wandb))
    return out


def evaluate(args) -> None:
    from pathlib import Path

    from workbench.ppo.run import load_policy, resolve_checkpoint, run_eval
    from workbench.store import RunStore, default_path

    if args.episodes < 1:
        raise CommandError(f"--episodes must be >= 1, got {args.episodes}")
    if args.video and Path(args.video).suffix.lower() not in (".gif", ".mp4"):
        raise CommandError(f"--video must end in .gif or .mp4, got {args.video!r}")
    label = args.target
    if Path(args.target).is_file():
        ckpt = args.target
    else:
        store = RunStore(args.db or default_path(), create=False)
        ckpt, run_id = resolve_checkpoint(args.target, store)
        label = f"run {run_id} ({store.run(run_id)['name']})"
    policy, cfg = load_policy(ckpt, trust=args.trust_checkpoint)
    result = run_eval(policy, cfg, args.episodes, seed=args.seed)
    n = int(result.get(M.EPISODES, 0))
    print(f"{cfg.env} {label}: {n} episodes (seed {args.seed}), mean ± std [95% interval]")
    for key in M.OUTCOMES:
        if key not in result:
            continue
        mean, std, ci = result[key], result.get(f"{key}_std"), result.get(f"{key}_ci95")
        spread = f" ± {std:.3g}  [{mean - ci:.4g}, {mean + ci:.4g}]" if std is not None else ""
        print(f"  {key:15s} {mean:.4g}{spread}")
    if result.get("unfinished"):
        print(f"  {result['unfinished']} episodes did not finish in {result['steps']} steps")
    if args.video:
        from workbench.video import record

        path = record(policy, cfg, args.video, episodes=1, seed=args.seed)
        print(f"video: {path}")


def _human(df):
    """Counts as 1.2M, times as 0:01:23, figures to 4 digits; NaN as '-'."""
    from workbench.dashboard import clock, number, si

    out = df.copy()
    for col in out.columns:
        if col in (M.AGENT_STEPS, M.EPOCHS) or col.endswith("steps"):
            out[col] = [si(v) if isinstance(v, (int, float)) else "-" for v in out[col]]
        elif col == M.WALL_TIME:
            out[col] = [clock(v) if isinstance(v, (int, float)) else "-" for v in out[col]]
        elif out[col].dtype.kind == "f":
            out[col] = [number(v, 4) for v in out[col]]
    return out.fillna("-")


def runs(args) -> None:
    import pandas as pd

    from workbench.store import RunStore, default_path

    store = RunStore(args.db or default_path(), create=False)
    df = store.runs()
    columns = [c for c in args.columns.split(",") if c]
    unknown = [c for c in columns if c not in df.columns]
    if args.columns == ",".join(RUN_COLUMNS):  # the default: show what the runs have
        columns, unknown = [c for c in columns if c in df.columns], []
    if unknown and not df.empty:
        raise CommandError(
            f"no column {unknown[0]!r}; available: {', '.join(map(str, df.columns))}"
        )
    if args.query and not df.empty:
        try:
            df = df.query(args.query).reset_index(drop=True)
        except Exception as e:  # pandas raises many kinds for a bad expression
            raise CommandError(
                f"bad query {args.query!r}: {type(e).__name__}: {e}; columns: "
                + ", ".join(str(c) for c in df.columns if "/" not in str(c))
            ) from None
    if df.empty:
        print("no runs" + (f" match {args.query!r}" if args.query else "") + f" in {store.path}")
        return
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(_human(df[columns]).to_string(index=False))
    print(f"{len(df)} runs in {store.path}", file=sys.stderr)


def sweep(args) -> None:
    from workbench.sweep.driver import sweep as run_sweep

    if not args.definition and not args.resume:
        raise CommandError("give a sweep definition (e.g. sweeps/pong.toml) or --resume ID")
    if args.definition:
        _check_definition_path(args.definition)
    console = []
    handle = run_sweep(
        args.definition,
        trials=args.trials,
        hours=args.hours,
        store=args.db,
        resume=args.resume,
        seed=args.seed,
        executor=args.executor,
        workers=args.workers,
        on_trial=lambda record: console[0].on_trial(record) if console else None,
        background=True,
    )
    word = "resumed" if handle.resumed else "started"
    print(
        f"sweep {handle.id} ({handle.definition.name}) {word}; store {handle.store.path}",
        file=sys.stderr,
    )
    follow(handle, args.torch_threads, console)


def follow(handle, torch_threads: int = 0, console: list | None = None) -> None:
    """Draw a running sweep until it ends (Ctrl-C or SIGTERM stops it), then its outcome."""
    from workbench.runtime import stop_on_signals
    from workbench.runtime import torch_threads as threads
    from workbench.sweep.console import SweepConsole

    view = SweepConsole(handle)
    if console is not None:
        console.append(view)
    try:
        with threads(torch_threads), stop_on_signals():
            view.run()
    except KeyboardInterrupt as e:
        handle.stop()
        handle.wait()
        print(
            f"\n{str(e) or 'Ctrl-C'}: sweep {handle.id} stopped; resume with --resume {handle.id}",
            file=sys.stderr,
        )
        sys.exit(143 if str(e) == "SIGTERM" else 130)
    best = handle.best()
    d = handle.definition
    why = f" ({handle.ended_because})" if handle.ended_because else ""
    print(f"sweep {handle.id} {handle.status}: {len(handle.trials)} trials{why}")
    if best:
        print(
            f"best {d.metric} {best['score_mean']:.4g} (mean of {best['seeds']} seed(s)) at "
            f"{d.cost} {best['cost']:.4g}: run {best['run_id']} "
            f"({', '.join(f'{k}={best[k]}' for k in d.space)})"
        )
    if handle.status == "failed":
        raise CommandError(f"the sweep failed: {handle.error}")


def _check_definition_path(path: str) -> None:
    """A missing definition file: say which definitions exist and the nearest one."""
    import difflib
    from pathlib import Path

    if Path(path).exists():
        return
    folder = Path(path).parent if Path(path).parent.is_dir() else Path("sweeps")
    known = sorted(str(p) for p in folder.glob("*.toml")) if folder.is_dir() else []
    if not known:
        raise CommandError(f"no sweep definition at {path!r}")
    close = difflib.get_close_matches(path, known, n=1, cutoff=0.4)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise CommandError(f"no sweep definition at {path!r}; {hint}definitions: {', '.join(known)}")


def sweeps(args) -> None:
    import pandas as pd

    from workbench.store import RunStore, default_path
    from workbench.sweep.definition import DefinitionError
    from workbench.sweep.driver import recorded

    store = RunStore(args.db or default_path(), create=False)
    df = store.sweeps()
    if df.empty:
        print(f"no sweeps in {store.path}")
        return
    rows = []
    for s in df.to_dict("records"):
        row = {k: s[k] for k in ("id", "name", "status", "trials")}
        try:
            h = recorded(s["id"], store, replay=False)
            best = h.best()
            row.update(env=h.definition.env, metric=h.definition.metric)
            row["best"] = f"{best['score_mean']:.4g}" if best else ""
            row["cost"] = f"{h.definition.cost} {best['cost']:.4g}" if best else ""
        except (DefinitionError, KeyError, ValueError) as e:  # e.g. recorded by a newer release
            row.update(env="?", metric="?", best="", cost=str(e)[:40])
        row["created"] = pd.to_datetime(s["created_at"], unit="s").strftime("%Y-%m-%d %H:%M")
        error = s["error"].strip().splitlines()[-1] if isinstance(s["error"], str) else ""
        because = s["ended_because"] if isinstance(s["ended_because"], str) else error
        row["why it ended"] = because if s["status"] != "running" else ""
        rows.append(row)
    print(pd.DataFrame(rows).to_string(index=False))

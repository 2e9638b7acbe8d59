"""Command line: ``python -m workbench {train,eval,runs,sweep,sweeps,bench} ...``.

Training flags are generated from TrainConfig (``learning_rate`` -> ``--learning-rate``)
and from the env's own parameters (``--frameskip``), so the same keys work everywhere.
A mistake gets one line: what was wrong, the value, and a valid choice or the nearest
flag; ``--help`` on any command says the defaults and where they come from.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys

from workbench.cli import bench, commands, steer
from workbench.cli.flags import add_config_flags, integer


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (no usage dump) and "did you mean"."""

    def error(self, message: str):
        flags = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
        bad = re.search(r"unrecognized arguments: (--?[\w-]+)", message)
        if bad:
            close = difflib.get_close_matches(bad.group(1), flags, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            message = f"unknown flag {bad.group(1)}{hint}"
        print(f"error: {message}; see {self.prog} --help", file=sys.stderr)
        sys.exit(2)


def _env_help() -> str:
    from workbench.envs.registry import ADAPTERS, names

    prefixes = ", ".join(f"{p}:<id>" for p in ADAPTERS)
    return f"the env: {', '.join(names())}, or an adapter ({prefixes}, e.g. gym:CartPole-v1)"


def build_parser(argv: list[str]) -> Parser:
    parser = Parser(
        prog="python -m workbench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    store_help = "run store (default: $WORKBENCH_DB, else runs/workbench.db at the project root)"

    env_name = argv[1] if len(argv) > 1 and argv[0] == "train" else None
    train = sub.add_parser("train", help="train an env with PPO, live dashboard")
    train.add_argument("env", help=_env_help())
    train.add_argument("--db", default=None, help=store_help)
    train.add_argument("--resume", default=None, help="a checkpoint file, or a run id/prefix/name")
    train.add_argument(
        "--config",
        default=None,
        help="TOML with [train] and [env] tables over the env's defaults (flags win), e.g. "
        "a config exported from a sweep",
    )
    train.add_argument("--quiet", action="store_true", help="no dashboard")
    train.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="load a checkpoint that holds more than tensors and plain data (runs code in it: "
        "only for files you made)",
    )
    train.add_argument(
        "--tensorboard", metavar="DIR", help="also write rows as TensorBoard scalars"
    )
    train.add_argument(
        "--wandb", metavar="PROJECT", help="also log rows to W&B (offline without a key)"
    )
    add_config_flags(train, env_name)
    train.set_defaults(func=commands.train)

    ev = sub.add_parser("eval", help="evaluate a checkpoint or run on fresh episodes")
    ev.add_argument("target", help="a checkpoint file, or a run id, id prefix or name")
    ev.add_argument("--episodes", type=integer, default=64, help="episodes (default: 64)")
    ev.add_argument("--seed", type=integer, default=12345, help="env seed (default: 12345)")
    ev.add_argument("--video", metavar="PATH", help="also save an episode as .gif or .mp4")
    ev.add_argument("--db", default=None, help=store_help)
    ev.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="load a checkpoint that holds more than tensors and plain data (runs code in it: "
        "only for files you made)",
    )
    ev.set_defaults(func=commands.evaluate)

    runs = sub.add_parser("runs", help="table of the run store")
    runs.add_argument("--query", default=None, help='pandas query, e.g. "score >= 300"')
    runs.add_argument("--db", default=None, help=store_help)
    runs.add_argument(
        "--columns",
        default=",".join(commands.RUN_COLUMNS),
        help=f"comma-separated columns (default: {','.join(commands.RUN_COLUMNS)})",
    )
    runs.set_defaults(func=commands.runs)

    sw = sub.add_parser(
        "sweep",
        help="run a sweep definition (sweeps/*.toml), live view; or steer one: sweep "
        "{edit,enqueue,reseed,pause,resume,extend,stop-trial,best,export,compare} SWEEP_ID",
    )
    sw.add_argument("definition", nargs="?", help="sweep definition TOML, e.g. sweeps/pong.toml")
    sw.add_argument("--trials", type=integer, default=None, help="trial budget (overrides it)")
    sw.add_argument("--hours", type=float, default=None, help="time budget (overrides it)")
    sw.add_argument("--resume", default=None, help="id of a sweep in the store to continue")
    sw.add_argument("--seed", type=integer, default=None, help="the engine's seed")
    sw.add_argument(
        "--executor", choices=("inline", "processes", "ray"), default=None, help="where trials run"
    )
    sw.add_argument("--workers", type=integer, default=None, help="trials at once (processes, ray)")
    sw.add_argument("--torch-threads", type=integer, default=0, help="torch threads (0: default)")
    sw.add_argument("--db", default=None, help=store_help)
    sw.set_defaults(func=commands.sweep)
    sws = sub.add_parser("sweeps", help="list the sweeps in the store")
    sws.add_argument("--db", default=None, help=store_help)
    sws.set_defaults(func=commands.sweeps)
    steer.add_parsers(sub, store_help)

    bench.add_parsers(sub)
    return parser


def _command_parser(parser: Parser, args) -> Parser:
    """The (sub)parser of the command that was given, for its own errors and flags."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                return _command_parser(chosen, args)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = steer.rewrite(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    if extra:  # an unknown flag belongs to the command: say which, and the nearest one
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "record", False):
        from workbench.bench import common

        common.RECORD = True
    try:
        args.func(args)
    except (ValueError, TypeError, KeyError, FileNotFoundError, ImportError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # piped into head: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


__all__ = ["build_parser", "main"]

"""Command line: ``python -m workbench <command> ...``."""

from __future__ import annotations

import argparse
import sys


def _bench_env(args) -> None:
    from workbench.bench import env as bench_env

    sizes = tuple(int(s) for s in args.sizes.split(","))
    bench_env.run(
        args.name, sizes=sizes, seconds=args.seconds, repeats=args.repeats, pin=not args.no_pin
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="benchmarks (print a table, write benchmarks/results/)")
    bench_sub = bench.add_subparsers(dest="what", required=True)
    env = bench_sub.add_parser("env", help="env.step() throughput for 1 and 1024 copies")
    env.add_argument("name", help="registered env name, e.g. breakout")
    env.add_argument("--sizes", default="1,1024", help="comma-separated num_envs values")
    env.add_argument("--seconds", type=float, default=2.0, help="seconds per repeat")
    env.add_argument("--repeats", type=int, default=5, help="repeats (median reported)")
    env.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    env.set_defaults(func=_bench_env)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)

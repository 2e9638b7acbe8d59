"""``python -m workbench sweep VERB SWEEP_ID ...``: steer and read a sweep recorded in the
store, running in this process or another (requests go through the store, as stops do).

    sweep edit ID --space 'learning_rate={kind="log", min=0.01, max=0.03}' --pin gamma=0.99
    sweep enqueue ID learning_rate=0.02 total_steps=2e6 --seeds 2
    sweep reseed ID --k 3 --seeds 2
    sweep pause ID | sweep resume ID | sweep stop-trial ID RUN_ID --reason "..."
    sweep extend ID --trials 20        (an ended sweep runs again here, with its history)
    sweep best ID [--max-cost C]       sweep export ID [--max-cost C] [--out PATH]
    sweep compare ID_A ID_B            both fronts and their hypervolumes, shared axes
"""

from __future__ import annotations

import argparse
import difflib
import sys

from workbench.cli.commands import CommandError
from workbench.cli.flags import integer
from workbench.sweep.definition import OBJECTIVE

VERBS = ("edit", "enqueue", "reseed", "pause", "resume", "extend", "stop-trial", "best")
VERBS += ("export", "compare")


def rewrite(argv: list[str]) -> list[str]:
    """``sweep VERB ...`` -> ``sweep-VERB ...`` (the parser's name for the verb)."""
    if len(argv) >= 2 and argv[0] == "sweep" and argv[1] in VERBS:
        return [f"sweep-{argv[1]}", *argv[2:]]
    return argv


def add_parsers(sub, store_help: str) -> None:
    def verb(name, help_text, func, ids=1):
        p = sub.add_parser(f"sweep-{name}", help=argparse.SUPPRESS, prog=f"workbench sweep {name}")
        p.description = help_text
        for i in range(ids):
            p.add_argument("sweep_id" if i == 0 else "other_id", metavar="SWEEP_ID")
        p.add_argument("--db", default=None, help=store_help)
        p.set_defaults(func=func)
        return p

    p = verb("edit", "change a sweep's space, constraints, fixed values or budget", edit)
    p.add_argument(
        "--space",
        action="append",
        default=[],
        metavar="NAME={kind=..., min=..., max=...}",
        help="replace a parameter's range (a TOML inline table)",
    )
    p.add_argument("--pin", action="append", default=[], metavar="NAME=VALUE", help="pin a value")
    p.add_argument(
        "--fixed", action="append", default=[], metavar="NAME=VALUE", help="change a fixed value"
    )
    p.add_argument("--constraint", action="append", default=[], help="add a constraint")
    p.add_argument("--trials", type=integer, default=None, help="trial budget")
    p.add_argument("--hours", type=float, default=None, help="time budget")
    p.add_argument("--max-cost", type=float, default=None, help="cost cap of one trial")
    p = verb("enqueue", "run a hand-picked config next (missing values: the best trial's)", enqueue)
    p.add_argument("params", nargs="*", metavar="NAME=VALUE")
    p.add_argument("--seeds", type=integer, default=1, help="seeds to run it on (default 1)")
    p = verb("reseed", "run the best configs of the front again on fresh seeds", reseed)
    p.add_argument("--k", type=integer, default=3, help="configs (default 3)")
    p.add_argument("--seeds", type=integer, default=2, help="fresh seeds each (default 2)")
    verb("pause", "start no new trial until resume", pause)
    verb("resume", "start trials again after pause", resume)
    p = verb("extend", "more budget; an ended sweep runs again here", extend)
    p.add_argument("--trials", type=integer, default=None, help="more trials")
    p.add_argument("--hours", type=float, default=None, help="more hours")
    p = verb("stop-trial", "end one running trial, kept as data", stop_trial)
    p.add_argument("run_id", help="the trial's run id")
    p.add_argument("--reason", default=None, help="why (recorded with the trial)")
    p = verb("best", "the best config (mean over its seeds) and its run", best)
    p.add_argument("--max-cost", type=float, default=None, help="at most this cost")
    p = verb("export", "write the best config as a TOML that `train --config` reruns", export)
    p.add_argument("--max-cost", type=float, default=None, help="at most this cost")
    p.add_argument("--out", default=None, help="the file (default: exports/ beside the store)")
    verb("compare", "two sweeps' fronts and hypervolumes on shared axes", compare, ids=2)


def _store(args):
    from workbench.store import RunStore, default_path

    return RunStore(args.db or default_path(), create=False)


def resolve_sweep(store, ref: str) -> str:
    """A sweep id from its id, a unique id prefix or its name (the newest of that name)."""
    df = store.sweeps()
    ids = list(df["id"]) if not df.empty else []
    if ref in ids:
        return ref
    named = df[df["name"] == ref]["id"].tolist() if ids else []
    if named:
        return named[-1]
    starts = [i for i in ids if i.startswith(ref)]
    if len(starts) == 1:
        return starts[0]
    close = difflib.get_close_matches(ref, ids + (list(df["name"]) if ids else []), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise CommandError(f"no sweep {ref!r} in {store.path}{hint}; list them: workbench sweeps")


def _open(args, which: str = "sweep_id"):
    from workbench.sweep.driver import recorded

    store = _store(args)
    return recorded(resolve_sweep(store, getattr(args, which)), store)


def _value(text: str, where: str):
    """A TOML value: 0.01, 2e6, true, "adam", {kind = "log", min = 1, max = 2}."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        try:
            return tomllib.loads(f'v = "{text}"')["v"]  # a bare word: a string
        except tomllib.TOMLDecodeError:
            raise CommandError(f"{where}: cannot read {text!r} as a value") from None


def _pairs(items: list[str], where: str) -> dict:
    out = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise CommandError(f"{where}: expected NAME=VALUE, got {item!r}")
        value = _value(text, f"{where} {name}")
        if isinstance(value, float) and value.is_integer() and "." not in text:
            value = int(value)  # 2e6 means a count
        out[name.strip()] = value
    return out


def _said(handle, what: str) -> None:
    state = "running" if not handle.done else f"{handle.status}: it applies when it runs again"
    print(f"sweep {handle.id}: {what} (the sweep is {state})")


def _steer(call):
    from workbench.sweep.definition import DefinitionError

    try:
        return call()
    except (DefinitionError, ValueError) as e:
        raise CommandError(str(e)) from None


def edit(args) -> None:
    h = _open(args)
    space = _pairs(args.space, "--space")
    for name, spec in space.items():
        if not isinstance(spec, dict):
            raise CommandError(f"--space {name}: give a table {{kind=..., min=..., max=...}}")
    space.update(_pairs(args.pin, "--pin"))
    d = _steer(
        lambda: h.edit(
            space=space or None,
            constraints=args.constraint or None,
            fixed=_pairs(args.fixed, "--fixed") or None,
            trials=args.trials,
            hours=args.hours,
            max_cost=args.max_cost,
        )
    )
    _said(h, f"edit requested; space now {', '.join(d.space)}")


def enqueue(args) -> None:
    h = _open(args)
    trials = _steer(lambda: h.enqueue(_pairs(args.params, "enqueue"), seeds=args.seeds))
    params = ", ".join(f"{k}={v}" for k, v in trials[0]["params"].items())
    _said(h, f"queued on {args.seeds} seed(s): {params}")


def reseed(args) -> None:
    h = _open(args)
    _steer(lambda: h.reseed(k=args.k, seeds=args.seeds))
    _said(h, f"the {args.k} best configs queued on {args.seeds} fresh seeds each")


def pause(args) -> None:
    h = _open(args)
    h.pause()
    _said(h, "pause requested: trials in flight finish, none starts")


def resume(args) -> None:
    h = _open(args)
    h.resume()
    _said(h, "resume requested")


def stop_trial(args) -> None:
    h = _open(args)
    try:
        stopped = h.stop_trial(args.run_id, args.reason)
    except (KeyError, ValueError) as e:
        raise CommandError(str(e).strip("'\"")) from None
    print(f"trial {args.run_id}: " + ("stop requested" if stopped else "had already ended"))


def extend(args) -> None:
    from workbench.cli.commands import follow

    h = _open(args)
    was_done = h.done
    _steer(lambda: h.extend(trials=args.trials, hours=args.hours))
    if not was_done:
        _said(h, "more budget requested")
        return
    print(f"sweep {h.id} ({h.definition.name}) resumed; store {h.store.path}", file=sys.stderr)
    follow(h, torch_threads=0)


def best(args) -> None:
    h = _open(args)
    top = h.best(args.max_cost)
    d = h.definition
    if top is None:
        cap = f" costing at most {args.max_cost}" if args.max_cost is not None else ""
        raise CommandError(f"sweep {h.id} has no finished trial{cap}")
    params = ", ".join(f"{k}={top[k]}" for k in d.space)
    print(
        f"best {d.metric} {top['score_mean']:.4g} (mean of {top['seeds']} seed(s); best run "
        f"{top['run_id']} {top['score']:.4g}) at {d.cost} {top['cost']:.4g}: {params}"
    )


def export(args) -> None:
    h = _open(args)
    try:
        path = h.export(args.out, max_cost=args.max_cost)
    except ValueError as e:
        raise CommandError(str(e)) from None
    if h.definition.kind == OBJECTIVE:  # a function's arguments, as JSON
        print(f"wrote {path}; rerun: f(**json.load(open({str(path)!r}))['arguments'])")
        return
    print(f"wrote {path}; rerun: python -m workbench train {h.definition.env} --config {path}")


def compare(args) -> None:
    from workbench.sweep.pareto import pareto_mask
    from workbench.sweep.progress import (
        check_comparable,
        finished,
        front_hypervolume,
        reference_point,
        trial_keys,
    )
    from workbench.sweep.steering import group_configs

    a, b = _open(args, "sweep_id"), _open(args, "other_id")
    try:
        check_comparable({a.id: a.definition, b.id: b.definition})
    except ValueError as e:
        raise CommandError(str(e)) from None
    done = {h.id: finished(h.results()) for h in (a, b)}
    if not any(len(r) for r in done.values()):
        raise CommandError("neither sweep has a finished trial")
    d = a.definition
    every = [r for r in done.values() if len(r)]
    ref = reference_point(
        [c for r in every for c in r["cost"]], [s for r in every for s in r["score"]], d.metric
    )
    print(f"{d.metric} against {d.cost}; hypervolume of (log {d.cost}, {d.metric}) over the")
    print(f"reference point ({d.cost} {ref[0]:.4g}, {d.metric} {ref[1]:.4g}), shared by both")
    for h in (a, b):
        r, names = done[h.id], h.definition.space
        area = front_hypervolume(trial_keys(r, names), r["cost"], r["score"], ref)
        print(f"\n{h.id}: hypervolume {area:.4g}")
        c = group_configs(r, names)
        front = c[pareto_mask(c["cost"], c["score"])].sort_values("cost") if len(c) else c
        for row in front.to_dict("records"):
            seeds = f"({row['seeds']} seed(s))"
            print(f"  {d.cost} {row['cost']:>12.4g}  {d.metric} {row['score']:.4g}  {seeds}")

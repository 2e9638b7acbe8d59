"""Flag types and the training flags generated from TrainConfig and the env's parameters.

``learning_rate`` -> ``--learning-rate``, ``frameskip`` -> ``--frameskip``: the same keys
work in Python, in TOML and on the command line. Each flag's help says its default and
where that default comes from (TrainConfig, or the env folder's ``env.toml``).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re

BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True}
BOOL_WORDS.update({"0": False, "false": False, "no": False, "off": False})
CHOICES = {"optimizer": ("muon", "adam")}


def boolean(text: str) -> bool:
    value = BOOL_WORDS.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value


def integer(text: str) -> int:
    """An integer, also as researchers type step counts: 1e6, 20e6, 1_000_000."""
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


def literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def plain(doc: str) -> str:
    """A docstring line without reStructuredText markup (``x`` -> x), for --help."""
    return re.sub(r"``?([^`]+)``?", r"\1", doc)


def _shown(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:_}"
    return str(value)


def add_config_flags(parser: argparse.ArgumentParser, env: str | None) -> None:
    from workbench.envs.registry import COMMON_PARAMS, env_params
    from workbench.ppo.config import TrainConfig, env_overrides, field_docs

    docs = field_docs()
    layered = {}
    if env:
        try:
            layered = env_overrides(env)
        except (ValueError, TypeError):
            env = None
    group = parser.add_argument_group(
        "training (TrainConfig fields; defaults from TrainConfig unless marked)"
    )
    for f in dataclasses.fields(TrainConfig):
        if f.name in ("env", "env_params"):
            continue
        kind = {"int": integer, "float": float, "str": str, "bool": boolean}[str(f.type)]
        default = layered.get(f.name, getattr(TrainConfig, f.name, None))
        source = f" from {env}'s env.toml" if f.name in layered else ""
        extra = {}
        if f.name in CHOICES:
            extra["choices"] = CHOICES[f.name]
        elif kind is boolean:
            extra["metavar"] = "{true,false}"
        group.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            type=kind,
            default=argparse.SUPPRESS,
            help=f"{plain(docs.get(f.name, ''))} (default: {_shown(default)}{source})",
            **extra,
        )
    if not env:
        return
    try:
        params = env_params(env)
    except (ValueError, TypeError):  # an unknown env: the command says so, in one line
        return
    fixed = layered.get("env_params", {})
    group = parser.add_argument_group(f"{env} parameters (defaults from the env unless marked)")
    for name, p in params.items():
        if name in COMMON_PARAMS:
            continue
        kind = {bool: boolean, int: integer}.get(p.type, p.type)
        default = fixed.get(name, p.default)
        source = f" from {env}'s env.toml" if name in fixed else ""
        group.add_argument(
            f"--{name.replace('_', '-')}",
            dest=f"env.{name}",
            type=kind,
            metavar="{true,false}" if p.type is bool else name.upper(),
            default=argparse.SUPPRESS,
            help=f"{plain(p.doc)}; {p.valid_text()} (default: {_shown(default)}{source})",
        )


def overrides(args: argparse.Namespace) -> dict:
    """TrainConfig overrides (and ``env_params``) from the parsed training flags."""
    skip = {"command", "func", "env", "db", "resume", "quiet", "what", "config", "video"}
    skip |= {"tensorboard", "wandb", "trust_checkpoint"}
    out, env_params = {}, {}
    for key, value in vars(args).items():
        if key.startswith("env."):
            env_params[key[4:]] = value
        elif key not in skip:
            out[key] = value
    if env_params:
        out["env_params"] = env_params
    return out

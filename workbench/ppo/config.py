"""Training configuration: one dataclass, per-env TOML overrides, checked before allocation.

Layers, later wins: ``TrainConfig`` defaults <- the env folder's ``env.toml`` (its
``[train]`` and ``[env]`` tables, see :mod:`workbench.envs.facts`) <- keyword overrides
(Python) or ``--flags`` (CLI). Derived values (batch size, micro-batch size) are computed
from the config when needed, never written back into it.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

# Activation memory one micro-batch may use when max_minibatch_size is automatic.
MICRO_BATCH_BYTES = 1 << 30


class ConfigError(ValueError):
    """An invalid training configuration; the message names the values and a valid choice."""


@dataclass
class TrainConfig:
    env: str = "breakout"
    """registered env name"""
    env_params: dict = field(default_factory=dict)
    """env-specific parameters (e.g. frameskip), checked by the env registry"""
    num_envs: int = 256
    """game copies stepped together (agents = copies x agents per copy)"""
    seed: int = 0
    """seed for envs, weight init and action sampling: same seed on CPU, same curve"""
    total_steps: int = 10_000_000
    """agent steps to train for"""
    bptt_horizon: int = 64
    """steps each agent collects per rollout: the segment length the LSTM trains on"""
    minibatch_size: int = 8192
    """samples per gradient step (whole segments: a multiple of bptt_horizon)"""
    max_minibatch_size: int = 0
    """largest micro-batch run at once (bigger minibatches accumulate gradients); 0: automatic"""
    update_epochs: int = 1
    """passes over each batch"""
    optimizer: str = "muon"
    """muon (Muon on weight matrices, Adam on the rest) or adam"""
    learning_rate: float = 0.015
    """learning rate of both optimizer groups (Muon's update is RMS-matched to Adam's)"""
    anneal_lr: bool = False
    """linearly decay the learning rate to 0 over training"""
    adam_beta1: float = 0.95
    """Adam first-moment decay"""
    adam_beta2: float = 0.999
    """Adam second-moment decay"""
    adam_eps: float = 1e-12
    """Adam epsilon"""
    muon_momentum: float = 0.95
    """Muon momentum (Nesterov)"""
    gamma: float = 0.995
    """discount factor"""
    gae_lambda: float = 0.90
    """GAE lambda"""
    clip_coef: float = 0.2
    """PPO policy ratio clip"""
    vf_coef: float = 2.0
    """value loss weight"""
    vf_clip_coef: float = 0.2
    """value clip around the rollout value"""
    max_grad_norm: float = 1.5
    """global gradient-norm clip"""
    ent_coef: float = 0.001
    """entropy bonus weight"""
    reward_clip: float = 1.0
    """clip rewards to [-reward_clip, reward_clip] as the reference does; 0 disables"""
    vtrace_rho_clip: float = 1.0
    """V-trace clip on the importance ratio in the TD error"""
    vtrace_c_clip: float = 1.0
    """V-trace clip on the importance ratio in the trace"""
    prio_alpha: float = 0.8
    """segment priority exponent: weight = (sum |A|)^alpha; 0 samples uniformly"""
    prio_beta0: float = 0.2
    """initial importance-weight exponent, annealed to 1 over training"""
    recompute_advantages: bool = True
    """recompute advantages with current V-trace ratios before each minibatch, and use them"""
    truncation_bootstrap: bool = True
    """bootstrap truncated episodes from the value of their final observation"""
    hidden_size: int = 128
    """width of the encoder and the LSTM"""
    rnn: bool = True
    """use an LSTM between encoder and heads"""
    device: str = "cpu"
    """torch device: cpu, cuda or cuda:N"""
    env_threads: int = 1
    """threads stepping disjoint slices of the env copies (same results as 1)"""
    double_buffer: bool = False
    """step half the agents in a thread while the policy runs on the other half"""
    bf16: bool = False
    """bfloat16 autocast in the update's forward passes (GPUs; CPUs with AMX-/AVX512-bf16)"""
    bf16_rollout: bool = False
    """with bf16 on a CPU, the rollout's policy step under bfloat16 autocast too"""
    compile_rollout: bool = False
    """torch.compile the rollout's policy step (meant for GPUs; slow first epoch)"""
    cuda_graphs: bool = False
    """CUDA graphs for the rollout step and the minibatch update (CUDA; off until measured)"""
    profile: bool = False
    """exact per-phase GPU timing: synchronize at every phase (slower; no effect on CPU)"""
    torch_threads: int = 0
    """torch threads the CLI, bench and sweep workers give their process; 0: torch's default"""
    checkpoint_interval: int = 200
    """epochs between checkpoints (one is always written at the end); 0: only at the end"""
    eval_episodes: int = 64
    """episodes of the final evaluation; 0 skips it"""
    name: str = ""
    """run name shown in the store (default: env and a timestamp)"""

    # -- derived values (computed, never written back) --
    def agents(self) -> int:
        from workbench.envs.registry import env_class

        if self.env.startswith("pettingzoo:"):
            from workbench.envs.adapters.pettingzoo import count_agents

            return self.num_envs * count_agents(self.env.split(":", 1)[1], self.env_params)
        cls = env_class(self.env)
        per_copy = getattr(cls, "agents_per_copy", None)
        return self.num_envs * (per_copy(self.env_params) if per_copy else 1)

    def batch_size(self) -> int:
        return self.agents() * self.bptt_horizon

    def num_minibatches(self) -> int:
        return max(1, self.batch_size() // self.minibatch_size)

    def micro_batch_size(self, sample_bytes: int) -> int:
        """Samples per forward/backward pass (see :func:`micro_batch`)."""
        return int(
            micro_batch(
                self.bptt_horizon, self.minibatch_size, self.max_minibatch_size, sample_bytes
            )
        )

    def validate(self) -> TrainConfig:
        """Check every type, range and shape rule; raise :class:`ConfigError` naming the fix."""
        _check_types(self)
        from workbench.envs.registry import env_class, validate_params

        env_class(self.env)
        if "num_envs" in self.env_params or "seed" in self.env_params:
            raise ConfigError(
                "set num_envs and seed as training fields, not in env_params "
                f"(got env_params={self.env_params!r})"
            )
        if "slices" in self.env_params:
            raise ConfigError(
                "set env_threads as a training field, not slices in env_params "
                f"(got env_params={self.env_params!r})"
            )
        try:
            validate_params(self.env, dict(self.env_params))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"env_params: {e}") from None

        _positive(
            self,
            "total_steps",
            "num_envs",
            "bptt_horizon",
            "minibatch_size",
            "update_epochs",
            "hidden_size",
            "env_threads",
        )
        _positive(
            self,
            "learning_rate",
            "clip_coef",
            "vf_clip_coef",
            "max_grad_norm",
            "vtrace_rho_clip",
            "vtrace_c_clip",
        )
        _at_least(
            self,
            0,
            "vf_coef",
            "ent_coef",
            "reward_clip",
            "prio_alpha",
            "adam_eps",
            "max_minibatch_size",
            "torch_threads",
            "checkpoint_interval",
            "eval_episodes",
            "seed",
        )
        _in_range(self, "gamma", 0.0, 1.0, low_open=True)
        _in_range(self, "gae_lambda", 0.0, 1.0)
        _in_range(self, "prio_beta0", 0.0, 1.0)
        _in_range(self, "adam_beta1", 0.0, 1.0, high_open=True)
        _in_range(self, "adam_beta2", 0.0, 1.0, high_open=True)
        _in_range(self, "muon_momentum", 0.0, 1.0, high_open=True)
        if self.optimizer not in ("muon", "adam"):
            raise ConfigError(f"optimizer must be 'muon' or 'adam', got {self.optimizer!r}")
        _check_device(self.device)
        values = {**self.to_dict(), **self.derived()}
        for rule in SHAPE_RULES:
            if not rule.holds(values):
                raise ConfigError(rule.why(self))
        self._check_env_slices()
        return self

    def derived(self) -> dict:
        """The names shape rules read beside the fields: ``agents_per_copy`` (agents in one
        env copy) and ``max_slices`` (slices the env can be stepped in)."""
        from workbench.envs.registry import max_slices

        return {
            "agents_per_copy": self.replace(num_envs=1).agents(),
            "max_slices": max_slices(self.env),
        }

    def env_slices(self) -> int:
        """Slices of the env copies: one per thread, twice that with double buffering."""
        return self.env_threads * (2 if self.double_buffer else 1)

    def _check_env_slices(self) -> None:
        from workbench.envs.registry import validate_params

        slices = self.env_slices()
        if slices == 1:
            return
        try:
            validate_params(
                self.env, {**self.env_params, "num_envs": self.num_envs, "slices": slices}
            )
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{_slices_what(self)}: {e}") from None

    def replace(self, **overrides) -> TrainConfig:
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# -- shape rules and memory, declared once --
# ``validate()`` checks each rule; a sweep adds the rules that read a swept parameter to its
# constraints (``workbench.sweep.definition``), so a suggestion is never a refused config.
# Each ``expr`` is written in the sweep's constraint language: a Python expression over
# config fields and the derived names of ``TrainConfig.derived`` (agents_per_copy, ...).


@dataclass(frozen=True)
class ShapeRule:
    """A rule between config fields: ``expr`` must hold; ``why(cfg)`` says what is wrong with
    ``cfg``'s values and a valid choice."""

    expr: str
    why: Callable[[TrainConfig], str]

    @functools.cached_property
    def names(self) -> frozenset[str]:
        """The names ``expr`` reads."""
        tree = ast.parse(self.expr, mode="eval")
        return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))

    @functools.cached_property
    def _code(self):
        return compile(self.expr, "<shape rule>", "eval")

    def holds(self, values: dict) -> bool:
        """Whether ``expr`` holds at ``values`` (a dict with every name it reads)."""
        return bool(eval(self._code, {"__builtins__": {}}, {k: values[k] for k in self.names}))


def _slices_what(cfg: TrainConfig) -> str:
    return f"env_threads={cfg.env_threads}" + (
        " with double_buffer (a slice per thread in each half)" if cfg.double_buffer else ""
    )


def _too_few_copies(cfg: TrainConfig) -> str:
    slices = cfg.env_slices()
    most = cfg.num_envs // (slices // cfg.env_threads)
    fix = f"env_threads <= {most} or " if most >= 1 else ""
    return (
        f"{_slices_what(cfg)} needs {slices} env copies, got num_envs={cfg.num_envs}; use "
        f"{fix}num_envs >= {slices}"
    )


def _minibatch_exceeds_batch(cfg: TrainConfig) -> str:
    batch = cfg.batch_size()
    return (
        f"minibatch_size={cfg.minibatch_size} exceeds the batch: {cfg.agents()} agents "
        f"x bptt_horizon={cfg.bptt_horizon} = {batch}; use minibatch_size <= {batch} "
        f"(e.g. {batch}) or more num_envs"
    )


def _not_sliced(cfg: TrainConfig) -> str:
    return (
        f"{_slices_what(cfg)} steps the env in {cfg.env_slices()} slices, but {cfg.env} steps "
        "all its copies in one piece (an adapter, or a wrapper without slices); use "
        "env_threads=1 and double_buffer=false"
    )


SHAPE_RULES: tuple[ShapeRule, ...] = (
    ShapeRule("env_threads * (1 + double_buffer) <= max_slices", _not_sliced),
    ShapeRule("num_envs >= env_threads * (1 + double_buffer)", _too_few_copies),
    ShapeRule(
        "minibatch_size % bptt_horizon == 0",
        lambda c: (
            f"minibatch_size={c.minibatch_size} must be a multiple of bptt_horizon="
            f"{c.bptt_horizon} (minibatches hold whole segments); nearest valid: "
            f"{_nearest_multiples(c.minibatch_size, c.bptt_horizon)}"
        ),
    ),
    ShapeRule(
        "max_minibatch_size == 0 or max_minibatch_size % bptt_horizon == 0",
        lambda c: (
            f"max_minibatch_size={c.max_minibatch_size} must be a multiple of bptt_horizon="
            f"{c.bptt_horizon}; nearest valid: "
            f"{_nearest_multiples(c.max_minibatch_size, c.bptt_horizon)}"
        ),
    ),
    ShapeRule(
        "minibatch_size <= num_envs * agents_per_copy * bptt_horizon", _minibatch_exceeds_batch
    ),
)


def activation_bytes(obs_numel, hidden_size, rnn):
    """Activation bytes per sample of a forward and backward pass, roughly: the input, the
    encoder and (with the LSTM) its gates and states. Elementwise over arrays."""
    import numpy as np

    return 4 * (np.asarray(obs_numel) + np.where(rnn, 16, 4) * np.asarray(hidden_size))


def micro_batch(horizon, minibatch_size, max_minibatch_size, sample_bytes):
    """Samples per forward/backward pass: ``max_minibatch_size`` when set, else the largest
    multiple of the horizon whose activations fit ``MICRO_BATCH_BYTES`` at ``sample_bytes``
    per sample (never below one segment, never above the minibatch). Elementwise."""
    import numpy as np

    fits = MICRO_BATCH_BYTES // np.maximum(1, sample_bytes) // horizon * horizon
    auto = np.minimum(np.maximum(horizon, fits), minibatch_size)
    return np.where(max_minibatch_size, np.minimum(max_minibatch_size, minibatch_size), auto)


def memory_gb(agents, horizon, obs_numel, hidden_size, minibatch_size, rnn, max_minibatch_size=0):
    """Peak memory of a run in GB, roughly: the rollout buffers plus one micro-batch's
    activations (elementwise over arrays, so a sweep checks many candidates at once)."""
    rollout = agents * horizon * (4 * obs_numel + 40)
    sample = activation_bytes(obs_numel, hidden_size, rnn)
    micro = micro_batch(horizon, minibatch_size, max_minibatch_size, sample)
    return (rollout + micro * sample) / 1e9


MEMORY_RULE = (
    "memory_gb(num_envs * agents_per_copy, bptt_horizon, obs_numel, hidden_size, "
    "minibatch_size, rnn, max_minibatch_size) <= {limit_gb}"
)
"""The memory budget as a constraint (``obs_numel`` is the env's observation size)."""


# -- building configs --


def field_docs() -> dict[str, str]:
    """The one-line docstring of every TrainConfig field, read from the source."""
    return _field_docs()


@cache
def _field_docs() -> dict[str, str]:
    tree = ast.parse(inspect.getsource(TrainConfig))
    body = tree.body[0].body
    docs = {}
    for node, nxt in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
        ):
            docs[node.target.id] = str(nxt.value.value)
    return docs


def env_overrides(env: str) -> dict[str, Any]:
    """The env folder's training layer (``[train]`` and ``[env]`` of its ``env.toml``)."""
    from workbench.envs.facts import facts

    return facts(env).overrides()


def read_toml(path, error: type[Exception], missing: str) -> dict:
    """The tables of the TOML file at ``path``; ``missing`` (FileNotFoundError) when there is
    none, ``error`` naming the file and line when it does not parse."""
    import sys
    from pathlib import Path

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no {missing} at {str(path)!r}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path}: {e}") from None


def read_config_file(path) -> dict[str, Any]:
    """Overrides from a TOML file with ``[train]`` and ``[env]`` tables (as written by
    :func:`config_toml`, or an env folder's ``env.toml``)."""
    data = read_toml(path, ConfigError, "config file")
    unknown = sorted(set(data) - {"train", "env"})
    if unknown:
        raise ConfigError(f"{path}: unknown table [{unknown[0]}]; a config file has [train], [env]")
    out = dict(data.get("train", {}))
    if data.get("env"):
        out["env_params"] = dict(data["env"])
    return out


def config_toml(cfg: TrainConfig, header: str = "") -> str:
    """``cfg`` as a TOML override of its env's defaults: only the values that differ, so
    ``make_config(cfg.env, **read_config_file(path))`` rebuilds it exactly."""
    base = make_config(cfg.env)
    lines = [f"# {line}" for line in header.splitlines()] + ["[train]"]
    for f in dataclasses.fields(TrainConfig):
        if f.name in ("env", "env_params", "name"):
            continue
        value = getattr(cfg, f.name)
        if value != getattr(base, f.name):
            lines.append(f"{f.name} = {_toml_value(value)}")
    params = {k: v for k, v in cfg.env_params.items() if base.env_params.get(k) != v}
    if params:
        lines += ["", "[env]"] + [f"{k} = {_toml_value(v)}" for k, v in params.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) to TOML")


def make_config(env_or_config: str | TrainConfig | dict | None = None, **overrides) -> TrainConfig:
    """Defaults <- per-env TOML <- overrides; validated. Unknown keys are an error."""
    if isinstance(env_or_config, TrainConfig):
        base = env_or_config.to_dict()
        base.update(overrides)
        return _from_dict(base).validate()
    if isinstance(env_or_config, dict):
        overrides = {**env_or_config, **overrides}
    elif isinstance(env_or_config, str):
        overrides = {"env": env_or_config, **overrides}
    elif env_or_config is not None:
        raise TypeError(
            "train() takes an env name, a TrainConfig or a dict, got "
            f"{type(env_or_config).__name__}"
        )
    env = overrides.get("env", TrainConfig.env)
    layered = env_overrides(env) if isinstance(env, str) else {}
    env_params = {**layered.get("env_params", {}), **overrides.pop("env_params", {})}
    merged = {**layered, **overrides, "env_params": env_params}
    return _from_dict(merged).validate()


def _from_dict(values: dict) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = [k for k in values if k not in names]
    if unknown:
        import difflib

        key = unknown[0]
        close = difflib.get_close_matches(key, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown config field {key!r}={values[key]!r}{hint}")
    return TrainConfig(**values)


# -- checks --


@cache
def _field_types() -> dict[str, type]:
    """Each field's type (annotations are strings under ``from __future__ import annotations``)."""
    return {
        f.name: f.type if isinstance(f.type, type) else eval(f.type)
        for f in dataclasses.fields(TrainConfig)
    }


def _check_types(cfg: TrainConfig) -> None:
    for name, want in _field_types().items():
        value = getattr(cfg, name)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            setattr(cfg, name, float(value))
            value = float(value)
        ok = isinstance(value, want) and not (want is not bool and isinstance(value, bool))
        if not ok:
            raise ConfigError(
                f"{name} must be {want.__name__}, got {value!r} ({type(value).__name__})"
            )
        if want is float and not math.isfinite(value):
            raise ConfigError(f"{name} must be finite, got {value!r}")


def _positive(cfg, *names):
    for n in names:
        v = getattr(cfg, n)
        if v <= 0:
            raise ConfigError(f"{n} must be > 0, got {v!r}")


def _at_least(cfg, low, *names):
    for n in names:
        v = getattr(cfg, n)
        if v < low:
            raise ConfigError(f"{n} must be >= {low}, got {v!r}")


def _in_range(cfg, name, low, high, low_open=False, high_open=False):
    v = getattr(cfg, name)
    bad = v < low or v > high or (low_open and v == low) or (high_open and v == high)
    if bad:
        lb, hb = "(" if low_open else "[", ")" if high_open else "]"
        raise ConfigError(f"{name} must be in {lb}{low}, {high}{hb}, got {v!r}")


def _nearest_multiples(value: int, step: int) -> str:
    lo = (value // step) * step
    hi = lo + step
    return f"{hi}" if lo == 0 else f"{lo} or {hi}"


def _check_device(device: str) -> None:
    import torch

    if device == "cpu":
        return
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ConfigError(f"device={device!r} but CUDA is not available here; use 'cpu'")
        if ":" in device and int(device[5:]) >= torch.cuda.device_count():
            raise ConfigError(
                f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
        return
    raise ConfigError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")

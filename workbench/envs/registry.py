"""The env registry: ``make(name, **params)`` is the one place names and parameters are checked.

Envs are registered by name with the import path of their wrapper class, so listing
names imports nothing compiled. Each wrapper declares ``PARAMS``: a mapping from
parameter name to :class:`Param` (default, type, valid range, one-line doc).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
import numbers
from dataclasses import dataclass
from typing import Any

_REGISTRY: dict[str, str | type] = {}
# Name prefixes that select an adapter: "gym:CartPole-v1" wraps Gymnasium's CartPole-v1.
ADAPTERS = {
    "gym": "workbench.envs.adapters.gym:GymnasiumEnv",
    "pettingzoo": "workbench.envs.adapters.pettingzoo:PettingZooEnv",
}


@dataclass(frozen=True)
class Param:
    """One env parameter: default, type and valid range (inclusive bounds)."""

    default: Any
    type: type
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None

    def valid_text(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        name = self.type.__name__
        if self.low is not None and self.high is not None:
            return f"{name} in [{self.low}, {self.high}]"
        if self.low is not None:
            return f"{name} >= {self.low}"
        if self.high is not None:
            return f"{name} <= {self.high}"
        return name

    def check(self, env: str, key: str, value: Any) -> Any:
        """Return the value converted to the declared type, or raise naming the field."""
        where = f"{env}: parameter {key!r}"
        if self.type is tuple and isinstance(value, list):
            value = tuple(value)
        if self.type is bool:
            ok = isinstance(value, bool) or type(value).__name__ == "bool_"
        elif self.type is int:
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        elif self.type is float:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        else:
            ok = isinstance(value, self.type)
        if not ok:
            raise TypeError(
                f"{where} must be {self.valid_text()}, got {value!r} ({type(value).__name__})"
            )
        value = self.type(value)
        if self.type is float and not math.isfinite(value):
            raise ValueError(f"{where} must be finite ({self.valid_text()}), got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{where} must be {self.valid_text()}, got {value!r}")
        too_low = self.low is not None and value < self.low
        too_high = self.high is not None and value > self.high
        if too_low or too_high:
            raise ValueError(f"{where} must be {self.valid_text()}, got {value!r}")
        return value


# Parameters every env takes.
COMMON_PARAMS = {
    "num_envs": Param(1, int, "number of game copies stepped together", low=1, high=1 << 24),
    "seed": Param(0, int, "base seed; copy i draws from (seed, i)", low=0, high=(1 << 63) - 1),
    "log_interval": Param(128, int, "steps between episode-log reports in info", low=1),
    "slices": Param(
        1,
        int,
        "slices the copies are split into, each stepped by its own thread (same results as 1)",
        low=1,
        high=1024,
    ),
}


def register(name: str, target) -> None:
    """Register env ``name`` as ``"package.module:ClassName"`` (imported on first make), or
    directly as a VecEnv subclass (e.g. one defined in a notebook)."""
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"env name must be a non-empty str without ':', got {name!r}")
    if not isinstance(target, str) and not (isinstance(target, type) and hasattr(target, "PARAMS")):
        raise TypeError(
            f"register {name!r}: target must be 'module:Class' or a VecEnv class "
            f"with PARAMS, got {target!r}"
        )
    _REGISTRY[name] = target


def target_of(name: str) -> str | None:
    """``"module:Class"`` for env ``name``, importable in another process (a sweep worker),
    or None for a class that only exists here (defined in a notebook or a test function)."""
    target = _REGISTRY.get(name)
    if target is None or isinstance(target, str):
        return target
    module, qualname = target.__module__, target.__qualname__
    if module == "__main__" or "<locals>" in qualname:
        return None
    return f"{module}:{qualname}"


def names() -> list[str]:
    return sorted(_REGISTRY)


def is_registered(name: str) -> bool:
    """Whether ``name`` was registered (adapter names such as ``gym:ID`` never are)."""
    return name in _REGISTRY


def registered_target(name: str):
    """What ``name`` was registered as: ``"module:Class"``, a class, or None."""
    return _REGISTRY.get(name)


def adapter_of(name: str) -> str | None:
    """``"module:Class"`` of the adapter an ``adapter:ID`` name goes through, else None."""
    return _adapter(name)


def _adapter(name: str) -> str | None:
    prefix = name.split(":", 1)[0] if ":" in name else None
    return ADAPTERS.get(prefix) if prefix else None


def env_class(name: str):
    if isinstance(name, str) and _adapter(name):
        module, cls = _adapter(name).split(":")
        return getattr(importlib.import_module(module), cls)
    if not isinstance(name, str):
        raise TypeError(f"env name must be a str, got {name!r} ({type(name).__name__})")
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown env {name!r}{hint}; registered envs: {', '.join(names())}")
    target = _REGISTRY[name]
    if isinstance(target, type):
        return target
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def env_params(name: str) -> dict[str, Param]:
    """All parameters env ``name`` accepts, common ones first."""
    return {**COMMON_PARAMS, **env_class(name).PARAMS}


def validate_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Checked, complete parameters for env ``name`` (defaults filled in)."""
    spec = env_params(name)
    unknown = [k for k in params if k not in spec]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, spec, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"{name}: unknown parameter {key!r}={params[key]!r}{hint}; "
            f"valid parameters: {', '.join(spec)}"
        )
    checked = {k: p.check(name, k, params.get(k, p.default)) for k, p in spec.items()}
    if checked["slices"] > 1:
        _check_slices(name, checked["slices"], checked["num_envs"])
    cross = getattr(env_class(name), "check_params", None)
    if cross is not None:  # rules that involve several parameters
        cross(checked)
    return checked


def max_slices(name: str) -> int:
    """How many slices env ``name`` can be stepped in: 1 for an adapter (Python envs hold
    the GIL) or a wrapper whose ``__init__`` takes no ``slices``; else the parameter's top."""
    if _adapter(name) or "slices" not in inspect.signature(env_class(name).__init__).parameters:
        return 1
    return int(COMMON_PARAMS["slices"].high)


def _check_slices(name, slices: int, num_envs: int) -> None:
    if _adapter(name):
        raise ValueError(
            f"{name}: slices={slices} is not supported by adapters, which step Python envs "
            "that hold the GIL; use slices=1"
        )
    init = inspect.signature(env_class(name).__init__).parameters
    if "slices" not in init:
        raise ValueError(
            f"{name}: slices={slices} needs a wrapper whose __init__ takes slices and passes "
            "it to VecEnv.__init__ (and a core that takes first_index); use slices=1"
        )
    if slices > num_envs:
        raise ValueError(
            f"{name}: slices={slices} exceeds num_envs={num_envs} (each slice holds at "
            f"least one copy); use slices <= {num_envs}"
        )


def make(name, **params):
    """Build env ``name`` with validated parameters, e.g. ``make("breakout", num_envs=1024)``.

    ``name`` may also be ``"gym:<Gymnasium id>"``, ``"pettingzoo:<module>:<function>"``, or
    a callable returning a Gymnasium env or a PettingZoo parallel env.
    """
    if callable(name) and not isinstance(name, str):
        probe = name(**params.get("env_kwargs", {}))
        kind = "pettingzoo" if hasattr(probe, "possible_agents") else "gym"
        probe.close()
        cls = env_class(f"{kind}:factory")
        return cls(name, **_without_threads(validate_params(f"{kind}:factory", params)))
    cls = env_class(name)
    checked = _without_threads(validate_params(name, params))
    if _adapter(name):
        return cls(name.split(":", 1)[1], **checked)
    return cls(**checked)


def _without_threads(checked: dict) -> dict:
    # slices=1 is the default and not passed on: wrappers written before slicing (and
    # the adapters, which refuse slices > 1 above) do not take it.
    if checked["slices"] == 1:
        del checked["slices"]
    return checked

"""Each env's facts, read from its own folder: one loader, nothing listed elsewhere.

An env's folder holds its compiled core and wrapper, its rules (``README.md``) and an
``env.toml`` with these optional tables::

    [train]   TrainConfig fields that differ from the defaults for this env
    [env]     env parameters those defaults train with (e.g. frameskip)
    [bench]   benchmark facts: metric, thresholds, reference_sps, reference
    [keymap]  keyboard key -> discrete action, for playing in the viewer
    [sweep]   the default sweep: metric, cost, constraints, and [sweep.space.<param>]

The folder of a registered game is the package of its wrapper class. Adapter envs keep
their facts in ``workbench/envs/adapters/<prefix>_<id>/`` (``gym_CartPole-v1``). An env
registered as a class defined outside a module (a notebook) has no folder and no facts.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FACTS_FILE = "env.toml"
RULES_FILE = "README.md"
ADAPTERS_DIR = Path(__file__).resolve().parent / "adapters"
TABLES = ("train", "env", "bench", "keymap", "sweep")


@dataclass(frozen=True)
class EnvFacts:
    name: str
    folder: Path | None
    train: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    bench: dict = field(default_factory=dict)
    keymap: dict = field(default_factory=dict)
    sweep: dict = field(default_factory=dict)

    @property
    def rules(self) -> Path | None:
        """The rules document, when the env has one."""
        if self.folder is None:
            return None
        path = self.folder / RULES_FILE
        return path if path.exists() else None

    def overrides(self) -> dict:
        """The training layer over TrainConfig's defaults (``env_params`` from ``[env]``)."""
        out = dict(self.train)
        if self.env:
            out["env_params"] = dict(self.env)
        return out


def env_folder(name: str) -> Path | None:
    """The folder holding env ``name``'s facts, or None when it has none."""
    from workbench.envs.registry import adapter_of, registered_target

    if adapter_of(name):
        folder = ADAPTERS_DIR / name.replace(":", "_")
        return folder if folder.is_dir() else None
    target = registered_target(name)
    if target is None:
        return None
    if isinstance(target, str):
        spec = importlib.util.find_spec(target.split(":")[0])
        return Path(spec.origin).parent if spec and spec.origin else None
    try:
        return Path(inspect.getfile(target)).parent
    except (TypeError, OSError):  # defined in a notebook or an interpreter session
        return None


def facts(name: str) -> EnvFacts:
    """Everything env ``name``'s folder says about it (empty tables when it says nothing)."""
    folder = env_folder(name) if isinstance(name, str) else None
    path = folder / FACTS_FILE if folder is not None else None
    if path is None or not path.exists():
        return EnvFacts(name, folder)
    data = _read(path, path.stat().st_mtime_ns)
    return EnvFacts(name, folder, **{k: copy.deepcopy(data.get(k, {})) for k in TABLES})


@functools.lru_cache(maxsize=64)
def _read(path: Path, mtime_ns: int) -> dict:
    """A facts file's tables, parsed once per version of the file (configs are built often:
    a sweep checks thousands)."""
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: {e}") from None
    unknown = sorted(set(data) - set(TABLES))
    if unknown:
        raise ValueError(f"{path}: unknown table [{unknown[0]}]; valid: {', '.join(TABLES)}")
    return data

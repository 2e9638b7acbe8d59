"""Checkpoint files: tensors and plain data only, so loading one never runs code.

A checkpoint is a dict of tensors, numbers, strings, lists, tuples and dicts, written by
``torch.save`` and read back with ``torch.load(weights_only=True)``: PyTorch's restricted
unpickler rebuilds tensors and containers and refuses every other object, so a file from
someone else (a shared checkpoint, a Ray worker's bytes) stays data. A file that needs any
other object is refused with one line naming it; ``trust=True`` (CLI:
``--trust-checkpoint``) loads it with the full unpickler, for files you made yourself.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

_PLAIN = (str, int, float, bool, type(None), torch.Tensor)


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded safely; the message names the file and why."""


def plain(value, where: str = "checkpoint"):
    """``value`` if it holds only tensors and plain data, else :class:`TypeError` naming the
    first other object (so nothing unloadable is ever written)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: key {key!r} is a {type(key).__name__}, not str or int")
            plain(sub, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, sub in enumerate(value):
            plain(sub, f"{where}[{i}]")
    elif not isinstance(value, _PLAIN):
        raise TypeError(f"{where} is a {type(value).__name__}: checkpoints hold plain data only")
    return value


def save_checkpoint(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` (plain data and tensors) atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(plain(payload), tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike, device="cpu", trust: bool = False) -> dict:
    """The checkpoint at ``path`` as a dict, its tensors on ``device``.

    Only tensors and plain data are rebuilt; a file holding any other pickled object is
    refused (:class:`CheckpointError`) and nothing in it runs. ``trust=True`` lifts that
    for a file you know to be yours."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=not trust)
    except pickle.UnpicklingError as e:
        what = _refused_object(str(e))
        raise CheckpointError(
            f"checkpoint {str(path)!r} holds {what}, not only tensors and plain data: refused "
            "unread (nothing in it ran); if you made this file, load it with trust=True "
            "(CLI: --trust-checkpoint)"
        ) from None
    except (RuntimeError, EOFError, OSError) as e:  # truncated or not a torch file at all
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {first}") from None
    if not isinstance(ckpt, dict) or "policy" not in ckpt or "config" not in ckpt:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a workbench checkpoint (no policy and config)"
        )
    return ckpt


def _refused_object(message: str) -> str:
    """The object torch's restricted unpickler refused, from its message, in a few words."""
    import re

    found = re.search(r"GLOBAL ([\w.]+)", message)
    return f"the pickled object {found.group(1)}" if found else "a pickled object"

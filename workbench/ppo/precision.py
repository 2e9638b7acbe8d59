"""Which precision a run trains in, and why: chosen by entry points, never at import.

bf16 pays on a CPU only with AMX-bf16 (Intel Sapphire Rapids and later): without it,
bf16 matrix products run emulated or on AVX-512 bf16 dot products, no faster than fp32 at
our sizes. Whether it also *learns* as well is a measured question (``bench learn``, fp32
against bf16, on an AMX machine); until that evidence exists the default stays fp32
everywhere and bf16 is the ``bf16`` flag. ``BF16_ON_AMX`` is the one switch to flip.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

# True once bench learn on an AMX CPU shows bf16's median time to every threshold no worse
# than fp32's, with no seed missing one that fp32 reaches (issue #26). Not measured yet.
BF16_ON_AMX = False


@dataclass(frozen=True)
class Precision:
    bf16: bool
    reason: str

    @property
    def name(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    def __str__(self) -> str:
        return self.reason


@functools.cache
def cpu_has_amx_bf16() -> bool | None:
    """Whether this CPU has AMX-bf16 (its ``amx_bf16`` flag); None where the flags cannot be
    read (no /proc/cpuinfo). Read once per process, when an entry point first asks."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split(":", 1)[1].split()
    except OSError:
        return None
    return None


def choose_precision(device: str = "cpu", requested: bool | None = None) -> Precision:
    """The precision to train in on ``device``: ``requested`` (the ``bf16`` flag as the user
    gave it, None where they did not) wins; otherwise the default policy above."""
    if requested is not None:
        flag = "true" if requested else "false"
        reason = f"set by --bf16 {flag}"
        if requested and device.startswith("cpu") and not cpu_has_amx_bf16():
            reason += " (no AMX-bf16 on this CPU: expect it slower than fp32)"
        return Precision(requested, f"{'bf16' if requested else 'fp32'}: {reason}")
    if not device.startswith("cpu"):
        return Precision(False, "fp32: the default on a GPU (bf16 is the --bf16 flag)")
    amx = cpu_has_amx_bf16()
    if amx is None:
        return Precision(False, "fp32: cannot read this CPU's flags (/proc/cpuinfo)")
    if not amx:
        return Precision(False, "fp32: no AMX-bf16 on this CPU")
    if BF16_ON_AMX:
        return Precision(True, "bf16: AMX-bf16 present and measured to learn as well")
    return Precision(
        False,
        "fp32: AMX-bf16 present, but bf16 is not yet measured to learn as well "
        "(a flag: --bf16 true)",
    )

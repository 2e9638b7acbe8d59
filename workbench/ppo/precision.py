"""Which precision a run trains in, and why: chosen by entry points, never at import.

bf16 pays on a CPU only where it has bf16 matrix hardware: AMX-bf16 (Intel Sapphire Rapids
and later) or AVX512-bf16 (AMD Zen 4 and later, Intel Cooper Lake). Without either, bf16
matrix products are emulated, slower than fp32. Whether bf16 also *learns* as well is a
measured question (``bench learn``, fp32 against bf16, on such a machine); until that
evidence exists the default stays fp32 everywhere and bf16 is the ``bf16`` flag.
``BF16_DEFAULT_ON`` is the one switch to change.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

# The CPU flags on which bf16 is the default: add one only once bench learn on such a CPU
# shows bf16's median time to every threshold no worse than fp32's, with no seed missing a
# threshold fp32 reaches (issue #26). Not measured yet on either.
BF16_DEFAULT_ON: tuple[str, ...] = ()
# bf16 matrix hardware, best first, by its /proc/cpuinfo flag.
BF16_UNITS = {"amx_bf16": "AMX-bf16", "avx512_bf16": "AVX512-bf16"}


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
def cpu_bf16_unit() -> str | None:
    """This CPU's best bf16 matrix unit (a ``BF16_UNITS`` flag), "" where it has none,
    None where its flags cannot be read (no /proc/cpuinfo). Read once per process, when an
    entry point first asks."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return next((u for u in BF16_UNITS if u in flags), "")
    except OSError:
        return None
    return None


def choose_precision(device: str = "cpu", requested: bool | None = None) -> Precision:
    """The precision to train in on ``device``: ``requested`` (the ``bf16`` flag as the user
    gave it, None where they did not) wins; otherwise the default policy above."""
    cpu = device.startswith("cpu")
    if requested is not None:
        name = "bf16" if requested else "fp32"
        reason = f"{name}: set by --bf16 {'true' if requested else 'false'}"
        if requested and cpu and not cpu_bf16_unit():
            reason += " (no bf16 matrix unit on this CPU: expect it slower than fp32)"
        return Precision(requested, reason)
    if not cpu:
        return Precision(False, "fp32: the default on a GPU (bf16 is the --bf16 flag)")
    unit = cpu_bf16_unit()
    if unit is None:
        return Precision(False, "fp32: cannot read this CPU's flags (/proc/cpuinfo)")
    if not unit:
        return Precision(False, "fp32: no AMX-bf16 or AVX512-bf16 on this CPU")
    if unit in BF16_DEFAULT_ON:
        return Precision(True, f"bf16: {BF16_UNITS[unit]} present and measured to learn as well")
    return Precision(
        False,
        f"fp32: {BF16_UNITS[unit]} present, but bf16 is not yet measured to learn as well "
        "(a flag: --bf16 true)",
    )

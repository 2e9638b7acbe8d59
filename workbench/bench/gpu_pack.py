"""``python -m workbench bench gpu --pack DIR``: the wheels ``bench gpu`` needs on a GPU
machine without a package registry, downloaded here (where pip reaches PyPI).

The GPU image (issue #27) has torch with CUDA, Triton, Cython, numpy, pandas, scipy,
scikit-learn, rich and imageio, and what those depend on (typing-extensions, joblib,
threadpoolctl, pygments, ...). After ``pip install --no-deps -e .`` the package still
imports gymnasium (spaces, everywhere), the sweeps import scikit-optimize, and the kernel
tests need pytest; :data:`PURE` lists them with their own dependencies (pure Python: one
wheel fits every Python and CPU). PyYAML, which scikit-optimize's ``pyaml`` needs, is
compiled: its wheels for every Python torch supports, on x86-64 and ARM, are included.
``DIR/requirements.txt`` names what to install; pip finds the rest in ``DIR``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LIMIT_MIB = 40.0
# What to install on the GPU machine (pip resolves their dependencies from the folder).
REQUIREMENTS = ("gymnasium>=1.0", "scikit-optimize>=0.10.2", "pytest>=8", "setuptools>=68")
PURE = (
    *REQUIREMENTS,
    "cloudpickle>=1.2",  # gymnasium
    "farama-notifications>=0.0.1",  # gymnasium
    "typing-extensions>=4.3",  # gymnasium (torch has it too)
    "pyaml>=16.9",  # scikit-optimize
    "pluggy>=1.5",  # pytest
    "iniconfig>=1",  # pytest
    "packaging>=20",  # pytest, scikit-optimize
    "pygments>=2.7.2",  # pytest (rich has it too)
    "exceptiongroup>=1",  # pytest on Python < 3.11
    "tomli>=2.0",  # pytest and workbench on Python < 3.11
)
COMPILED = ("PyYAML>=5.1",)  # pyaml
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
ARCHS = ("x86_64", "aarch64")


def _pip(folder: Path, *args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    cmd += ["--no-deps", "--only-binary=:all:", "--dest", str(folder), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"pip download {' '.join(args[-3:])} failed: {last}")


def pack(folder: str | Path, limit_mib: float = LIMIT_MIB) -> dict:
    """Download the wheels into ``folder``, write its requirements.txt; returns the size."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # Pure wheels only (some, like tomli, also come compiled for one Python).
    _pip(folder, "--platform", "any", "--implementation", "py", "--abi", "none", *PURE)
    for python in PYTHONS:
        for arch in ARCHS:
            platforms = [f"manylinux_2_17_{arch}", f"manylinux2014_{arch}"]
            flags = ["--python-version", python, "--implementation", "cp"]
            for p in platforms:
                flags += ["--platform", p]
            _pip(folder, *flags, *COMPILED)
    (folder / "requirements.txt").write_text("\n".join(REQUIREMENTS) + "\n")
    wheels = sorted(folder.glob("*.whl"))
    size = sum(w.stat().st_size for w in wheels) / 2**20
    if size > limit_mib:
        raise ValueError(
            f"the wheels in {folder} take {size:.1f} MiB, over the {limit_mib:g} MiB limit; "
            "remove what the GPU image already has"
        )
    return {"folder": str(folder), "wheels": [w.name for w in wheels], "mib": size}


def install_line(folder: str | Path) -> str:
    folder = Path(folder)
    return f"pip install --no-index --find-links {folder} -r {folder / 'requirements.txt'}"


def run(folder: str | Path) -> dict:
    out = pack(folder)
    print(f"wrote {len(out['wheels'])} wheels to {out['folder']}: {out['mib']:.1f} MiB")
    print(f"on the GPU machine: {install_line(folder)}")
    return out

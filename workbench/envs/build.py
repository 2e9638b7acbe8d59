"""Compile a Cython env at run time (from a notebook), with the package's own settings.

``module = compile_pyx("my_env.pyx")`` builds the extension into a cache folder next to
the file and imports it; it may ``cimport workbench.envs.common`` like the built-in envs.
Rebuilds only when the source changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np

from workbench._build import COMPILE_ARGS, DIRECTIVES, MACROS

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def compile_pyx(path: str | Path, build_dir: str | Path | None = None, quiet: bool = True):
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"no Cython source at {str(path)!r}")
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:10]
    name = f"{path.stem}_{digest}"
    out = Path(build_dir) if build_dir else path.parent / ".wb_build"
    out.mkdir(parents=True, exist_ok=True)
    built = sorted(out.glob(f"{name}.*.so")) + sorted(out.glob(f"{name}.*.pyd"))
    if not built:
        source = out / f"{name}.pyx"
        source.write_bytes(path.read_bytes())
        ext = Extension(
            name,
            [str(source)],
            include_dirs=[np.get_include(), str(PACKAGE_ROOT)],
            define_macros=MACROS,
            extra_compile_args=COMPILE_ARGS,
        )
        modules = cythonize(
            [ext],
            compiler_directives=DIRECTIVES,
            quiet=quiet,
            include_path=[str(PACKAGE_ROOT)],
            build_dir=str(out),
        )
        dist = Distribution({"ext_modules": modules})
        cmd = dist.get_command_obj("build_ext")
        cmd.build_lib = str(out)
        cmd.build_temp = str(out / "tmp")
        cmd.ensure_finalized()
        cmd.run()
        built = sorted(out.glob(f"{name}.*.so")) + sorted(out.glob(f"{name}.*.pyd"))
    spec = importlib.util.spec_from_file_location(name, built[0])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

"""Build every Cython module under workbench/ by convention: no hand-kept list.

Any ``workbench/**/*.pyx`` becomes an extension named after its path
(``workbench/envs/breakout/cy_breakout.pyx`` -> ``workbench.envs.breakout.cy_breakout``).
Compiler flags and Cython directives are set once, here.
"""

import runpy
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

# One source for the settings, shared with run-time builds (workbench/envs/build.py).
BUILD = runpy.run_path(str(Path(__file__).parent / "workbench" / "_build.py"))


def extensions():
    root = Path(__file__).parent
    exts = []
    for pyx in sorted(root.glob("workbench/**/*.pyx")):
        rel = pyx.relative_to(root)
        exts.append(
            Extension(
                ".".join(rel.with_suffix("").parts),
                [str(rel)],
                include_dirs=[np.get_include(), str(rel.parent)],
                define_macros=BUILD["MACROS"],
                extra_compile_args=BUILD["COMPILE_ARGS"],
            )
        )
    return cythonize(exts, compiler_directives=BUILD["DIRECTIVES"], quiet=True)


setup(ext_modules=extensions())

"""Build every Cython module under workbench/ by convention: no hand-kept list.

Any ``workbench/**/*.pyx`` becomes an extension named after its path
(``workbench/envs/breakout/cy_breakout.pyx`` -> ``workbench.envs.breakout.cy_breakout``).
Compiler flags and Cython directives are set once, here.
"""

from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
    "embedsignature": True,
}


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
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                extra_compile_args=["-O3", "-fno-math-errno", "-Wno-unused-function"],
            )
        )
    return cythonize(exts, compiler_directives=DIRECTIVES, quiet=True)


setup(ext_modules=extensions())

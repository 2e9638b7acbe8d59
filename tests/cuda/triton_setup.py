"""What every kernel test module needs first: imported before anything imports triton.

Without a GPU the kernels run on the CPU through Triton's interpreter, which must be
switched on before triton is first imported. A module importing this is skipped when
triton is missing, or when neither a GPU nor the interpreter can run the kernels.
"""

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton", reason="the workbench.cuda kernels need triton")

import workbench.cuda as cuda

if not cuda.available():
    pytest.skip("no CUDA device and TRITON_INTERPRET is off", allow_module_level=True)

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

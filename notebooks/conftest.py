"""nbval runs these notebooks as tests: small budgets, and a throwaway run store.

Set before any kernel starts, so every notebook kernel inherits them. Run with
``pytest --nbval-lax notebooks``: only cells marked ``# NBVAL_CHECK_OUTPUT`` (small,
deterministic prints) have their output compared; widget and plotly outputs carry random
ids and are never compared.
"""

import os
import tempfile

os.environ["WORKBENCH_SMOKE"] = "1"
os.environ["WORKBENCH_DB"] = os.path.join(tempfile.mkdtemp(prefix="wb-nbval-"), "workbench.db")

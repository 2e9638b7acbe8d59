"""Rooms talk through public doors: no module of the package reads or writes another
module's underscore names (import them, or reach ``obj._name`` where only another module
defines ``_name``). A handle that another room needs gives it a small public method."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "workbench"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined(tree: ast.AST) -> set[str]:
    """Underscore names a module defines: functions, classes, attributes it assigns
    (``self._x = ...``, ``x._y = ...``), class-level names, module globals."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            out.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
    return {n for n in out if _private(n)}


def _modules(package: Path) -> dict[str, ast.AST]:
    return {
        str(p.relative_to(package.parent)): ast.parse(p.read_text())
        for p in sorted(package.rglob("*.py"))
    }


# Other libraries' underscore names the package uses on their objects, each for a reason:
# argparse's subparser walk, plotly's figure config, IPython's display protocol, torch's
# fused multi-tensor ops, and os._exit in a forked worker.
THIRD_PARTY = {
    "_actions",
    "_SubParsersAction",
    "_config",
    "_repr_mimebundle_",
    "_foreach_norm",
    "_foreach_mul_",
    "_exit",
}

# Same-module companions whose names another module happens to reuse: an adapter's
# stand-in for a compiled core reads the env it serves, defined beside it.
COMPANIONS = {
    "workbench/envs/adapters/gym.py": {"_ret", "_len", "_action_n"},
    "workbench/envs/adapters/pettingzoo.py": {"_action_n"},
}


def crossings(package: Path = PACKAGE) -> list[str]:
    """Every ``obj._name`` (``obj`` not ``self``/``cls``) unless ``_name`` is defined in
    this module and no other (two classes of one room, e.g. an adapter and its core), or is
    another library's; and every import of an underscore name from the package."""
    modules = _modules(package)
    defined = {path: _defined(tree) for path, tree in modules.items()}
    owners: dict[str, set[str]] = {}
    for path, names in defined.items():
        for name in names:
            owners.setdefault(name, set()).add(path)
    found = []
    for path, tree in modules.items():
        for node in ast.walk(tree):
            where = f"{path}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workbench"):
                found += [
                    f"{where} imports {node.module}.{a.name}"
                    for a in node.names
                    if _private(a.name)
                ]
            if isinstance(node, ast.Attribute) and _private(node.attr):
                base = node.value
                if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                    continue
                if node.attr in THIRD_PARTY or node.attr in COMPANIONS.get(path, ()):
                    continue
                if owners.get(node.attr) == {path}:
                    continue
                found.append(f"{where} reaches {ast.unparse(node)}")
    return found


def test_no_module_touches_another_modules_underscore_names():
    assert crossings() == []


def test_the_check_bites(tmp_path):
    # The view once took the sweep handle's lock: a module doing so again is found.
    pkg = tmp_path / "workbench"
    pkg.mkdir()
    (pkg / "handle.py").write_text("class H:\n    def __init__(self):\n        self._lock = 1\n")
    (pkg / "view.py").write_text(
        "class V:\n    def __init__(self, handle):\n        self._lock = 2\n"
        "        with handle._lock:\n            pass\n"
    )
    (pkg / "ok.py").write_text("from workbench.handle import H\n")
    (pkg / "bad.py").write_text("from workbench.handle import _secret\n")
    assert crossings(pkg) == [
        "workbench/bad.py:1 imports workbench.handle._secret",
        "workbench/view.py:4 reaches handle._lock",
    ]

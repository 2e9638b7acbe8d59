"""Hard constraints: conditions every suggested point must meet, written as expressions.

An expression such as ``"minibatch_size <= num_envs * bptt_horizon"`` or
``"mem_gb(num_envs, bptt_horizon, hidden_size) <= 8"`` is parsed once with ``ast`` and checked
against a whitelist: numbers and strings, parameter and fixed-value names, arithmetic
(``+ - * / // % **``), comparisons (chained too), ``and``/``or``/``not``, the functions
``min max abs log log2 sqrt`` and the functions the user names. Anything else (attributes,
subscripts, lambdas, keyword arguments...) is refused when the sweep is defined, not halfway
through it, so a typo never turns into a run that crashes and is learned as a failure.

Expressions are evaluated on numpy arrays, one element per candidate, so thousands of candidates
are checked in one pass. User functions are called with arrays first; one that cannot take
arrays (it raises, or returns the wrong shape) is called per candidate from then on. A
condition that cannot be evaluated at a point (a user function raising, a division by zero: any
infinite or NaN intermediate value is undefined, and comparisons with it are false) counts as
violated there.
"""

from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from workbench.sweep.space import Space


class ConstraintError(ValueError):
    """A constraint that cannot be parsed, uses something not allowed, or can never hold."""


def _vmin(*args):
    return np.minimum.reduce(np.broadcast_arrays(*args)) if len(args) > 1 else np.min(args[0])


def _vmax(*args):
    return np.maximum.reduce(np.broadcast_arrays(*args)) if len(args) > 1 else np.max(args[0])


BUILTINS: dict[str, Callable] = {
    "min": _vmin,
    "max": _vmax,
    "abs": np.abs,
    "log": np.log,
    "log2": np.log2,
    "sqrt": np.sqrt,
}

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Function:
    """A user function, called on whole arrays when it can take them, else per element."""

    def __init__(self, name: str, fn: Callable):
        self.name, self.fn, self.vectorized = name, fn, None

    def __call__(self, *args):
        n = max((np.size(a) for a in args), default=1)
        if self.vectorized is not False:
            try:
                out = np.asarray(self.fn(*args), dtype=float)
                good = out.shape == (n,) or (out.shape == () and n == 1)
            except Exception:
                good = False
            if good:
                if n > 1:
                    self.vectorized = True
                return out
            if n > 1 and not self.vectorized:
                self.vectorized = False
        columns = [np.broadcast_to(np.asarray(a, dtype=object), (n,)) for a in args]
        out = np.empty(n)
        for i in range(n):
            try:
                out[i] = float(self.fn(*(c[i] for c in columns)))
            except Exception:
                out[i] = np.nan
        return out


class _Expression:
    """One parsed, whitelisted constraint."""

    def __init__(self, text: str, names: set, functions: Mapping[str, Callable]):
        self.text = text
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as err:
            raise ConstraintError(
                f"constraint {text!r} is not a valid expression: {err.msg}"
            ) from None
        self.functions = functions
        self._check(tree.body, names)
        if isinstance(tree.body, (ast.BinOp, ast.Constant)) and not isinstance(
            getattr(tree.body, "value", None), bool
        ):
            raise ConstraintError(
                f"constraint {text!r} must be a condition (a comparison, and/or/not, or a "
                "function call), not a bare value"
            )
        self.tree = tree.body
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        self.names = sorted(used - set(functions))

    def _refuse(self, node, what: str):
        raise ConstraintError(f"constraint {self.text!r}: {what} is not allowed")

    def _check(self, node, names: set) -> None:
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float, str, bool)):
                self._refuse(node, f"the constant {node.value!r}")
        elif isinstance(node, ast.Name):
            if node.id in self.functions:
                self._refuse(node, f"using the function {node.id!r} as a value")
            if node.id not in names:
                known = sorted(names)
                raise ConstraintError(
                    f"constraint {self.text!r}: unknown name {node.id!r}"
                    f"{_did_you_mean(node.id, known)}; known names: {', '.join(known)}"
                )
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                self._refuse(node, f"the operator {type(node.op).__name__}")
            self._check(node.left, names)
            self._check(node.right, names)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
                self._refuse(node, f"the operator {type(node.op).__name__}")
            self._check(node.operand, names)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _CMPOPS:
                    self._refuse(node, f"the comparison {type(op).__name__}")
            for child in (node.left, *node.comparators):
                self._check(child, names)
        elif isinstance(node, ast.BoolOp):
            for child in node.values:
                self._check(child, names)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                self._refuse(node, "calling anything but a named function")
            if node.func.id not in self.functions:
                known = sorted(self.functions)
                raise ConstraintError(
                    f"constraint {self.text!r}: unknown function {node.func.id!r}"
                    f"{_did_you_mean(node.func.id, known)}; known functions: {', '.join(known)}"
                )
            if node.keywords:
                self._refuse(node, "a keyword argument")
            if not node.args:
                self._refuse(node, f"calling {node.func.id!r} without arguments")
            for child in node.args:
                if isinstance(child, ast.Starred):
                    self._refuse(child, "a starred argument")
                self._check(child, names)
        else:
            self._refuse(node, f"the syntax {type(node).__name__!r}")

    def evaluate(self, env: Mapping[str, np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self._eval(self.tree, env)

    def _eval(self, node, env):
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else float(node.value)
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.BinOp):
            out = _BINOPS[type(node.op)](self._eval(node.left, env), self._eval(node.right, env))
            if isinstance(out, np.ndarray) and out.dtype.kind == "f":
                out = np.where(np.isfinite(out), out, np.nan)  # 1/0 is undefined, not +inf
            elif isinstance(out, float) and not np.isfinite(out):
                out = float("nan")
            return out
        if isinstance(node, ast.UnaryOp):
            value = self._eval(node.operand, env)
            if isinstance(node.op, ast.Not):
                return np.logical_not(_truth(value))
            return _UNARY[type(node.op)](value)
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, env)
            result = True
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self._eval(comp, env)
                result = np.logical_and(result, _truth(_CMPOPS[type(op)](left, right)))
                left = right
            return result
        if isinstance(node, ast.BoolOp):
            values = [_truth(self._eval(v, env)) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            return combine.reduce(np.broadcast_arrays(*values))
        if isinstance(node, ast.Call):
            return self.functions[node.func.id](*(self._eval(a, env) for a in node.args))
        raise AssertionError(f"unchecked node {node!r}")  # _check refused everything else


def _truth(value) -> np.ndarray:
    """Boolean view of a result; NaN (an undefined value) is false."""
    arr = np.asarray(value)
    if arr.dtype == object:
        return np.array([bool(v) and v == v for v in arr.ravel()], dtype=bool).reshape(arr.shape)
    if arr.dtype.kind == "f":
        return np.nan_to_num(arr, nan=0.0) != 0
    return arr.astype(bool)


class Constraints:
    """Parsed constraints over parameters ``names`` and ``fixed`` values.

    ``functions`` adds named functions callable from the expressions (they take and return
    numbers; array-aware ones are faster).
    """

    def __init__(
        self,
        exprs: Sequence[str] | str = (),
        names: Sequence[str] = (),
        fixed: Mapping | None = None,
        functions: Mapping[str, Callable] | None = None,
    ):
        if isinstance(exprs, str):
            exprs = [exprs]
        self.fixed = dict(fixed or {})
        self.names = list(names)
        clash = set(self.names) & set(self.fixed)
        if clash:
            raise ConstraintError(f"{sorted(clash)} are both swept and fixed; choose one")
        functions = dict(functions or {})
        for name, fn in functions.items():
            if not callable(fn):
                raise ConstraintError(f"function {name!r} is not callable: {fn!r}")
        calls = {**BUILTINS, **{k: _Function(k, f) for k, f in functions.items()}}
        known = set(self.names) | set(self.fixed)
        self.expressions = []
        for text in exprs:
            if not isinstance(text, str):
                raise ConstraintError(f"constraints are expression strings, got {text!r}")
            self.expressions.append(_Expression(text, known, calls))

    def __len__(self) -> int:
        return len(self.expressions)

    def __bool__(self) -> bool:
        return bool(self.expressions)

    def _env(self, columns: Mapping[str, np.ndarray]) -> tuple[dict, int]:
        n = len(next(iter(columns.values()))) if columns else 1
        env = {}
        for name, values in {**self.fixed, **columns}.items():
            arr = np.asarray(values)
            if arr.dtype == object or arr.dtype.kind in "US":
                try:
                    arr = arr.astype(float)
                except (TypeError, ValueError):
                    arr = arr.astype(object)
            else:
                arr = arr.astype(float)
            env[name] = arr
        return env, n

    def each(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Boolean matrix (constraints x points): which constraint holds at which point."""
        env, n = self._env(columns)
        out = np.ones((len(self.expressions), n), dtype=bool)
        for i, expr in enumerate(self.expressions):
            try:
                out[i] = np.broadcast_to(_truth(expr.evaluate(env)), (n,))
            except Exception:
                out[i] = False
        return out

    def mask(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Which of many points (one array per parameter) satisfy every constraint."""
        return self.each(columns).all(axis=0)

    def ok(self, params: Mapping) -> bool:
        return bool(self.mask({k: [v] for k, v in params.items()})[0])

    def violations(self, params: Mapping) -> list[str]:
        """The constraint texts that ``params`` breaks (empty when it satisfies all)."""
        held = self.each({k: [v] for k, v in params.items()})[:, 0]
        return [e.text for e, h in zip(self.expressions, held, strict=True) if not h]


def check_satisfiable(
    space: Space, constraints: Constraints, rng: np.random.Generator, n: int = 20_000
) -> float:
    """Refuse a definition that no point satisfies, naming the clash; else the feasible fraction.

    Checks ``n`` uniform points and the center. A constraint never met is named alone; when each
    holds somewhere but never all together, the pairs that never hold together are named.
    """
    if not constraints:
        return 1.0
    u = np.vstack([space.to_unit(space.center()), rng.random((n, len(space)))])
    held = constraints.each(space.columns(u))
    together = held.all(axis=0)
    if together.any():
        return float(together.mean())
    texts = [e.text for e in constraints.expressions]
    never = [t for t, h in zip(texts, held, strict=True) if not h.any()]
    where = f"on {n:,} random points and the center"
    if never:
        raise ConstraintError(
            f"no point satisfies {' nor '.join(repr(t) for t in never)} ({where}); "
            "widen the space or relax it"
        )
    pairs = [
        f"{texts[i]!r} and {texts[j]!r}"
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if not (held[i] & held[j]).any()
    ]
    if pairs:
        raise ConstraintError(
            f"constraints never hold together ({where}): {'; '.join(pairs)}. "
            "Each is satisfiable alone; relax one of each pair"
        )
    raise ConstraintError(
        f"each constraint holds somewhere and every pair holds together, but never all "
        f"{len(texts)} at once ({where}): {', '.join(repr(t) for t in texts)}"
    )

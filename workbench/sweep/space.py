"""Parameter spaces: the map between a researcher's parameters and the unit box the models see.

Every dimension maps its values onto [0, 1] so that equal steps in the unit box are equally
interesting steps for the parameter: a learning rate moves by factors (``log``), a discount
factor by its distance to 1 (``logit``), a batch size by doublings (``pow2``). Discrete kinds
(``int``, ``pow2``, ``categorical``) give each allowed value an equal-width bin of [0, 1] and
``to_unit`` returns the bin's middle, so ``from_unit(to_unit(p)) == p`` and a uniform sample of
the box picks every value equally often. Categorical values are placed in the order listed
(an ordinal code): list them in a meaningful order when there is one.

A definition is a dict ``{name: {"kind": ..., "min": ..., "max": ..., "values": [...],
"center": ..., "scale": ...}}``. ``center`` (a parameter value) is where the search starts:
the first suggestion. ``scale`` (0 < scale <= 1, default 1) is how wide the first,
space-filling suggestions spread around it, as a fraction of the unit range; later
suggestions use it to shrink the steps taken in that dimension.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence

import numpy as np

KINDS = ("linear", "log", "logit", "pow2", "int", "categorical")
_NUMERIC_KEYS = {"kind", "min", "max", "center", "scale"}
_CATEGORICAL_KEYS = {"kind", "values", "center", "scale"}


class SpaceError(ValueError):
    """A sweep space definition that cannot be used; the message names the parameter."""


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _number(name: str, key: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SpaceError(f"{name}: {key} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise SpaceError(f"{name}: {key} must be finite, got {value!r}")
    return float(value)


class Dim:
    """One dimension: validation, the unit-box transform and its inverse (vectorized)."""

    kind = ""

    def __init__(self, name: str, spec: Mapping):
        self.name = name
        self._check_keys(spec, _NUMERIC_KEYS)
        for key in ("min", "max"):
            if key not in spec:
                raise SpaceError(f"{name}: kind {self.kind!r} needs {key!r}")
        self.low = _number(name, "min", spec["min"])
        self.high = _number(name, "max", spec["max"])
        if self.low >= self.high:
            raise SpaceError(
                f"{name}: min ({spec['min']!r}) must be below max ({spec['max']!r}); "
                "put a constant in the sweeper's `fixed` instead"
            )
        self._validate()
        self.scale = self._scale(spec)
        self.center_value = self._center(spec)

    def _check_keys(self, spec: Mapping, allowed: set) -> None:
        for key in spec:
            if key not in allowed:
                raise SpaceError(
                    f"{self.name}: unknown key {key!r}{_did_you_mean(key, allowed)}; "
                    f"a {self.kind!r} parameter takes {sorted(allowed)}"
                )

    def _validate(self) -> None:
        pass

    def _scale(self, spec: Mapping) -> float:
        if spec.get("scale") is None:
            return 1.0
        scale = _number(self.name, "scale", spec["scale"])
        if not 0.0 < scale <= 1.0:
            raise SpaceError(
                f"{self.name}: scale must be in (0, 1] (a fraction of the range), got {scale!r}"
            )
        return scale

    def _center(self, spec: Mapping):
        if spec.get("center") is None:
            return self.python(self.from_unit(np.array([0.5]))[0])
        center = spec["center"]
        value = _number(self.name, "center", center)
        if not self.low <= value <= self.high:
            raise SpaceError(
                f"{self.name}: center {center!r} is outside [{spec['min']!r}, {spec['max']!r}]"
            )
        snapped = self.python(self.from_unit(self.to_unit(np.array([value])))[0])
        if not math.isclose(snapped, value, rel_tol=1e-9, abs_tol=1e-12):
            raise SpaceError(
                f"{self.name}: center {center!r} is not an allowed {self.kind} value "
                f"(nearest: {snapped!r})"
            )
        return snapped

    # transforms: subclasses define t(x) and its inverse on the interval [low, high]
    def _t(self, x):
        return x

    def _t_inv(self, t):
        return t

    def to_unit(self, values) -> np.ndarray:
        """Unit coordinates (not clipped: values outside [min, max] land outside [0, 1])."""
        x = np.asarray(values, dtype=float)
        lo, hi = self._t(self.low), self._t(self.high)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self._t(x) - lo) / (hi - lo)

    def from_unit(self, u) -> np.ndarray:
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        lo, hi = self._t(self.low), self._t(self.high)
        return np.clip(self._t_inv(lo + u * (hi - lo)), self.low, self.high)

    def check_value(self, value) -> None:
        """Raise unless ``value`` can be observed here (it may lie outside [min, max])."""
        _number(self.name, "value", value)

    def python(self, value):
        # 12 significant digits: exp(log(1e-3)) reads back as 0.001, not 0.0010000000000000002
        return float(f"{float(value):.12g}")


class Linear(Dim):
    kind = "linear"


class Log(Dim):
    kind = "log"

    def _validate(self):
        if self.low <= 0:
            raise SpaceError(
                f"{self.name}: a log space needs min > 0, got min={self.low!r}; "
                "use kind 'linear' for ranges that reach 0 or below"
            )

    def _t(self, x):
        return np.log(x)

    def _t_inv(self, t):
        return np.exp(t)

    def check_value(self, value):
        if _number(self.name, "value", value) <= 0:
            raise SpaceError(f"{self.name}: a log parameter must be > 0, got {value!r}")


class Logit(Dim):
    """Values in (0, 1) crowding towards an end, like a discount 0.9 .. 0.9999.

    t(x) = log(x / (1 - x)): near 1 this is -log(1 - x) up to a constant, so 0.99 -> 0.999
    is the same step as 0.9 -> 0.99 (horizons 100 -> 1000 like 10 -> 100); near 0 it is log(x).
    """

    kind = "logit"

    def _validate(self):
        if self.low <= 0.0 or self.high >= 1.0:
            raise SpaceError(
                f"{self.name}: a logit space lies strictly inside (0, 1), "
                f"got min={self.low!r}, max={self.high!r}"
            )

    def _t(self, x):
        return np.log(x) - np.log1p(-x)

    def _t_inv(self, t):
        return 1.0 / (1.0 + np.exp(-t))

    def check_value(self, value):
        v = _number(self.name, "value", value)
        if not 0.0 < v < 1.0:
            raise SpaceError(f"{self.name}: a logit parameter lies in (0, 1), got {value!r}")


class _Binned(Dim):
    """Discrete values on a transformed grid; each value owns an equal-width bin of [0, 1]."""

    def _grid(self):
        """(first grid coordinate, number of values) in transformed units."""
        raise NotImplementedError

    def to_unit(self, values):
        first, n = self._grid()
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self._t(np.asarray(values, dtype=float)) - first + 0.5) / n

    def from_unit(self, u):
        first, n = self._grid()
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        index = np.minimum(np.floor(u * n), n - 1)
        return self._t_inv(first + index)

    def python(self, value):
        return round(float(value))


class Int(_Binned):
    kind = "int"

    def _validate(self):
        for key, v in (("min", self.low), ("max", self.high)):
            if v != int(v):
                raise SpaceError(f"{self.name}: an int space needs integer {key}, got {v!r}")

    def _grid(self):
        return self.low, int(self.high - self.low) + 1


class Pow2(_Binned):
    kind = "pow2"

    def _validate(self):
        for key, v in (("min", self.low), ("max", self.high)):
            if v < 1 or v != 2 ** round(math.log2(v)):
                below = 2 ** math.floor(math.log2(v)) if v >= 1 else 1
                raise SpaceError(
                    f"{self.name}: pow2 {key} must be a power of two (1, 2, 4, ...), got {v!r}; "
                    f"nearest below: {below}"
                )

    def _t(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log2(x)

    def _t_inv(self, t):
        return np.exp2(t)

    def _grid(self):
        first = round(math.log2(self.low))
        return first, round(math.log2(self.high)) - first + 1

    def check_value(self, value):
        if _number(self.name, "value", value) <= 0:
            raise SpaceError(f"{self.name}: a pow2 parameter must be > 0, got {value!r}")


class Categorical(Dim):
    kind = "categorical"

    def __init__(self, name: str, spec: Mapping):
        self.name = name
        self._check_keys(spec, _CATEGORICAL_KEYS)
        values = spec.get("values")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise SpaceError(
                f"{name}: a categorical parameter needs a non-empty list 'values', got {values!r}"
            )
        self.values = [v.item() if isinstance(v, np.generic) else v for v in values]
        try:
            index = {v: i for i, v in enumerate(self.values)}
        except TypeError as err:
            raise SpaceError(f"{name}: categorical values must be hashable: {err}") from None
        if len(index) != len(self.values):
            raise SpaceError(f"{name}: categorical values repeat: {self.values!r}")
        self._index = index
        self.low, self.high = 0.0, 1.0
        self.scale = self._scale(spec)
        center = spec.get("center", self.values[0])
        if center not in index:
            raise SpaceError(
                f"{name}: center {center!r} is not one of the values {self.values!r}"
                f"{_did_you_mean(center, self.values)}"
            )
        self.center_value = self.values[index[center]]

    def index_of(self, values) -> np.ndarray:
        out = np.empty(len(values), dtype=float)
        for i, v in enumerate(values):
            if v not in self._index:
                raise SpaceError(
                    f"{self.name}: {v!r} is not one of the values {self.values!r}"
                    f"{_did_you_mean(v, self.values)}"
                )
            out[i] = self._index[v]
        return out

    def to_unit(self, values):
        values = [values] if np.ndim(values) == 0 else list(values)
        return (self.index_of(values) + 0.5) / len(self.values)

    def from_unit(self, u):
        n = len(self.values)
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        index = np.minimum(np.floor(u * n), n - 1).astype(int)
        out = np.empty(index.size, dtype=object)
        for i, k in enumerate(index.ravel()):
            out[i] = self.values[k]
        return out.reshape(index.shape)

    def check_value(self, value):
        self.index_of([value])

    def python(self, value):
        return value.item() if isinstance(value, np.generic) else value


_CLASSES = {c.kind: c for c in (Linear, Log, Logit, Pow2, Int, Categorical)}


def make_dim(name: str, spec) -> Dim:
    if not isinstance(spec, Mapping):
        raise SpaceError(f"{name}: expected a dict with 'kind', got {spec!r}")
    kind = spec.get("kind")
    if kind is None:
        raise SpaceError(f"{name}: missing 'kind' (one of {', '.join(KINDS)})")
    if kind not in _CLASSES:
        raise SpaceError(
            f"{name}: unknown kind {kind!r}{_did_you_mean(kind, KINDS)}; "
            f"valid kinds: {', '.join(KINDS)}"
        )
    return _CLASSES[kind](name, spec)


class Space:
    """An ordered set of dimensions built from a definition dict (see the module docstring)."""

    def __init__(self, definition: Mapping):
        if isinstance(definition, Space):
            definition = definition.definition
        if not isinstance(definition, Mapping) or not definition:
            raise SpaceError(f"a sweep space is a non-empty dict of parameters, got {definition!r}")
        for name in definition:
            if not isinstance(name, str) or not name.isidentifier():
                raise SpaceError(f"parameter names must be identifiers, got {name!r}")
        self.definition = {name: dict(spec) for name, spec in definition.items()}
        self.dims = [make_dim(name, spec) for name, spec in definition.items()]
        self.names = [d.name for d in self.dims]
        self.scales = np.array([d.scale for d in self.dims])

    def __len__(self) -> int:
        return len(self.dims)

    def __repr__(self) -> str:
        return f"Space({', '.join(f'{d.name}:{d.kind}' for d in self.dims)})"

    def check(self, params: Mapping) -> None:
        """Raise if ``params`` lacks a parameter or holds a value no dimension can place."""
        missing = [n for n in self.names if n not in params]
        if missing:
            raise SpaceError(f"missing parameters {missing}; the space has {self.names}")
        for dim in self.dims:
            dim.check_value(params[dim.name])

    def to_unit(self, params: Mapping, clip: bool = True) -> np.ndarray:
        """Unit coordinates of one parameter dict (``clip=False``: out-of-range values stay out)."""
        return self.to_unit_many([params], clip=clip)[0]

    def to_unit_many(self, rows: Sequence[Mapping], clip: bool = True) -> np.ndarray:
        for row in rows:
            self.check(row)
        u = np.empty((len(rows), len(self.dims)))
        for j, dim in enumerate(self.dims):
            u[:, j] = dim.to_unit([row[dim.name] for row in rows])
        return np.clip(u, 0.0, 1.0) if clip else u

    def columns(self, u: np.ndarray) -> dict[str, np.ndarray]:
        """Parameter values at many unit points, one array per parameter (vectorized checks)."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        return {dim.name: dim.from_unit(u[:, j]) for j, dim in enumerate(self.dims)}

    def from_unit(self, u) -> dict:
        """The parameter dict at a unit point, snapped to allowed values, in plain Python types."""
        return self.from_unit_many(np.atleast_2d(u))[0]

    def from_unit_many(self, u: np.ndarray) -> list[dict]:
        cols = self.columns(u)
        n = len(next(iter(cols.values())))
        return [{d.name: d.python(cols[d.name][i]) for d in self.dims} for i in range(n)]

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Move unit points onto the coordinates of the values they stand for."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        out = np.empty_like(u)
        for j, dim in enumerate(self.dims):
            values = dim.from_unit(u[:, j])
            out[:, j] = dim.to_unit(values if dim.kind == "categorical" else values.astype(float))
        return out

    def sample(self, rng: np.random.Generator, n: int) -> list[dict]:
        """``n`` uniform draws from the unit box, as parameter dicts."""
        return self.from_unit_many(rng.random((n, len(self.dims))))

    def center(self) -> dict:
        """The starting point: every parameter's ``center`` (default: the middle of its range)."""
        return {d.name: d.center_value for d in self.dims}

"""Shared glue for vectorized envs: buffers, input validation, logs.

Every env is one object holding ``num_agents`` agents (copies, or several agents per
copy). Buffers are allocated once here and handed to the compiled core, which writes
into them in place; ``step()`` returns the same array objects every call.

A subclass sets ``single_observation_space`` and ``single_action_space``, calls
``VecEnv.__init__`` and then ``self._bind(CoreClass, **params)``, which hands every buffer
to the compiled core by name, once: ``CoreClass(obs, final_obs, actions, rewards,
terminals, truncations, sums, seed, **params)``. With ``slices=N`` > 1 it builds N cores
instead, each over a contiguous slice of the copies (views of the same buffers) and also
given ``first_index``, the global index of its first copy (see
:mod:`workbench.envs.parallel`). The core has these methods:

- ``reset(seed)``: reset every copy, seeding copy i from ``(seed, first_index + i)``;
  ``seed`` < 0 keeps each copy's RNG stream going.
- ``step()``: advance every agent one step using ``self.actions``; truncating envs also
  write the last observation of a truncated episode into ``final_observations``.
- ``first_invalid_action()``: index of the first out-of-range / non-finite action, or -1.
- ``render(index, frame)``: draw copy ``index`` into a uint8 frame.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

LOG_KEYS = ("episode_return", "episode_length", "score", "perf", "n")
LOG_N = 4
LOG_SIZE = 9  # the five sums, then the sums of squares of the first four (common.pxd)


def log_row(ret: float, length: float, score: float, perf: float) -> tuple:
    """What one finished episode adds to an env's log sums (for envs written in Python)."""
    return (ret, length, score, perf, 1.0, ret * ret, length * length, score * score, perf * perf)


def paddle_action_space(continuous: bool) -> spaces.Space:
    """Discrete(3) {stay, left/up, right/down}, or a Box[-1, 1] velocity when continuous."""
    if continuous:
        return spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    return spaces.Discrete(3)


class VecEnv:
    """Base class of every workbench env (see the module docstring for the contract)."""

    name = "env"
    #: True for envs with a time limit: they fill ``final_observations`` for truncated agents.
    can_truncate = False
    single_observation_space: spaces.Space
    single_action_space: spaces.Space
    action_meanings: tuple[str, ...] = ()
    #: Which episode-log keys this env reports (adapters without a perf drop it).
    log_keys: tuple[str, ...] = LOG_KEYS

    def __init__(self, num_agents: int, seed: int = 0, log_interval: int = 128, slices: int = 1):
        self.num_agents = int(num_agents)
        self.seed = int(seed)
        self.log_interval = int(log_interval)
        if isinstance(slices, bool) or not isinstance(slices, (int, np.integer)) or slices < 1:
            raise ValueError(f"slices must be an int >= 1, got {slices!r}")
        #: Slices of the copies stepped in parallel (1: one core, stepped serially).
        self.slices = int(slices)
        obs_space = self.single_observation_space
        act_space = self.single_action_space
        n = self.num_agents
        self.observations = np.zeros((n, *obs_space.shape), dtype=obs_space.dtype)
        if isinstance(act_space, spaces.Discrete):
            self.actions = np.zeros(n, dtype=np.int32)
        elif isinstance(act_space, spaces.MultiDiscrete):
            self.actions = np.zeros((n, *act_space.shape), dtype=np.int32)
        elif isinstance(act_space, spaces.Box):
            self.actions = np.zeros((n, *act_space.shape), dtype=np.float32)
        else:  # pragma: no cover - programming error in a subclass
            raise TypeError(f"unsupported action space {act_space!r}")
        self.rewards = np.zeros(n, dtype=np.float32)
        self.terminals = np.zeros(n, dtype=bool)
        self.truncations = np.zeros(n, dtype=bool)
        # The observation an agent saw when its episode was truncated (before the auto-reset),
        # so a trainer can bootstrap from its value. Valid where ``truncations`` is set.
        self.final_observations = np.zeros_like(self.observations) if self.can_truncate else None
        # Per-env sums of finished episodes, in LOG_KEYS order; written by the core.
        self._log_sums = np.zeros(LOG_SIZE, dtype=np.float64)
        self._steps_since_log = 0
        self._info: dict = {}
        self._closed = False
        self._core = None

    def _bind(self, core_class, **params) -> None:
        """Build the compiled core over this env's buffers; ``params`` become attributes."""
        for key, value in params.items():
            setattr(self, key, value)
        buffers = dict(
            obs=self.observations,
            final_obs=self.final_observations,
            actions=self.actions,
            rewards=self.rewards,
            terminals=self.terminals.view(np.uint8),  # bool buffers seen as uint8
            truncations=self.truncations.view(np.uint8),
        )
        if self.slices == 1:
            self._core = core_class(**buffers, sums=self._log_sums, seed=self.seed, **params)
            return
        if self.slices > self.num_copies:
            raise ValueError(
                f"slices={self.slices} exceeds the {self.num_copies} copies: each slice "
                f"holds at least one copy; use slices <= {self.num_copies}"
            )
        from workbench.envs.parallel import SlicedCore

        self._core = SlicedCore(
            core_class, buffers, self._log_sums, self.seed, params, self.num_copies, self.slices
        )

    @property
    def discrete(self) -> bool:
        return not isinstance(self.single_action_space, spaces.Box)

    # -- public API --
    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every copy; with ``seed``, re-seed copy i from (seed, i)."""
        self._check_open()
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"seed must be a non-negative int, got {seed!r}")
            self.seed = int(seed)
        self._core.reset(-1 if seed is None else int(seed))
        self.rewards[:] = 0
        self.terminals[:] = False
        self.truncations[:] = False
        return self.observations

    def step(self, actions):
        """Advance every agent one step; returns (obs, rewards, terminals, truncations, info).

        The arrays are the env's own buffers, overwritten in place by the next step.
        ``info`` holds the episode-log means every ``log_interval`` steps when episodes
        ended since the last report, and is empty otherwise.
        """
        self._check_open()
        if actions is not self.actions:
            self._load_actions(actions)
        bad = self._core.first_invalid_action()
        if bad >= 0:
            raise ValueError(self._invalid_action_message(bad))
        self._core.step()
        self._steps_since_log += 1
        info = self._info
        if info:
            info.clear()
        if self._steps_since_log >= self.log_interval:
            self._steps_since_log = 0
            info.update(self.log())
        return self.observations, self.rewards, self.terminals, self.truncations, info

    def slice_agents(self, start: int, stop: int) -> slice:
        """The agent rows of slices ``start..stop-1`` of the copies (one slice per thread)."""
        self._check_slices(start, stop)
        if self.slices == 1:
            return slice(0, self.num_agents)
        bounds = self._core.agent_bounds
        return slice(bounds[start], bounds[stop])

    def step_slices(self, start: int, stop: int) -> None:
        """Advance only the copies of slices ``start..stop-1`` with the actions already in
        ``self.actions``, writing their rows of the step buffers.

        For overlapping one part's step with other work, as double-buffered rollouts do (call
        it from one thread at a time). Copies in other slices do not move; each copy's
        trajectory is the same as with :meth:`step`. No ``info`` is made and
        ``log_interval`` is not counted: read episodes with :meth:`log`.
        """
        self._check_open()
        self._check_slices(start, stop)
        core, parts = self._core, (start, stop) if self.slices > 1 else ()
        bad = core.first_invalid_action(*parts)
        if bad >= 0:
            raise ValueError(self._invalid_action_message(bad))
        core.step(*parts)

    def log(self, squares: bool = False) -> dict[str, float]:
        """Means of the episodes finished since the last call; ``{}`` when none ended.
        ``squares``: also the mean of each value's square, as ``<key>_sq`` (for spreads)."""
        sums = self._log_sums
        n = sums[LOG_N]
        if n <= 0:
            return {}
        keys = self.log_keys
        out = {key: float(sums[i] / n) for i, key in enumerate(LOG_KEYS[:-1]) if key in keys}
        if squares:
            out.update(
                {
                    f"{key}_sq": float(sums[LOG_N + 1 + i] / n)
                    for i, key in enumerate(LOG_KEYS[:-1])
                    if key in keys
                }
            )
        out["n"] = int(n)
        sums[:] = 0
        return out

    def render(self, index: int = 0) -> np.ndarray:
        """An RGB uint8 frame (H, W, 3) of copy ``index``."""
        self._check_render_index(index)
        frame = np.zeros(self.frame_shape, dtype=np.uint8)
        self._core.render(int(index), frame)
        return frame

    def close(self) -> None:
        self._closed = True
        if self.slices > 1 and self._core is not None:
            self._core.close()  # the stepping threads
        self._core = None

    @property
    def num_copies(self) -> int:
        """Number of independent game copies (equals num_agents for single-agent games)."""
        return self.num_agents

    frame_shape: tuple[int, int, int] = (1, 1, 3)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_agents={self.num_agents}, "
            f"obs={self.single_observation_space}, act={self.single_action_space})"
        )

    # -- validation --
    def _check_render_index(self, index) -> None:
        self._check_open()
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"render index must be an int, got {type(index).__name__}")
        if not 0 <= index < self.num_copies:
            raise ValueError(f"render index must be in [0, {self.num_copies - 1}], got {index}")

    def _check_slices(self, start, stop) -> None:
        ok = all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in (start, stop)
        )
        if not ok or not 0 <= start < stop <= self.slices:
            raise ValueError(
                f"slices must satisfy 0 <= start < stop <= slices={self.slices}, "
                f"got start={start!r}, stop={stop!r}"
            )

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self.name} env is closed")

    def _load_actions(self, actions) -> None:
        buf = self.actions
        a = np.asarray(actions)
        want = "int32" if self.discrete else "float32"
        if a.shape != buf.shape:
            raise ValueError(
                f"actions must be {want} of shape {buf.shape}, got {a.dtype} {a.shape}"
            )
        if self.discrete:
            if a.dtype.kind not in "iu":
                raise TypeError(
                    f"actions must be {want} of shape {buf.shape} (any integer dtype is "
                    f"accepted), got {a.dtype} {a.shape}"
                )
            if a.dtype != buf.dtype and a.size:
                lo, hi = int(a.min()), int(a.max())
                info = np.iinfo(np.int32)
                if lo < info.min or hi > info.max:
                    bad = int(np.argmax((a < info.min) | (a > info.max)))
                    raise ValueError(self._invalid_action_message(bad, a.reshape(-1)[bad]))
        elif a.dtype.kind != "f":
            raise TypeError(
                f"actions must be {want} of shape {buf.shape} (any float dtype is accepted), "
                f"got {a.dtype} {a.shape}"
            )
        np.copyto(buf, a, casting="unsafe")

    def _invalid_action_message(self, flat_index: int, value=None) -> str:
        flat = self.actions.reshape(-1)
        if value is None:
            value = flat[flat_index]
        space = self.single_action_space
        if isinstance(space, spaces.Box):
            return (
                f"actions[{flat_index}] = {value} is not finite: continuous actions must be "
                f"finite floats in [{space.low.min()}, {space.high.max()}] (larger values clip)"
            )
        if isinstance(space, spaces.Discrete):
            n = int(space.n)
            named = ", ".join(f"{i} ({m})" for i, m in enumerate(self.action_meanings))
            valid = named or f"0..{n - 1}"
            return f"actions[{flat_index}] = {value} is out of range: valid actions are {valid}"
        nvec = np.asarray(space.nvec).reshape(-1)
        k = nvec[flat_index % nvec.size]
        return f"actions.flat[{flat_index}] = {value} is out of range: valid are 0..{k - 1}"

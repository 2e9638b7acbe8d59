"""Gymnasium adapter: any registered Gymnasium env in the workbench buffer contract.

``make("gym:CartPole-v1", num_envs=64)`` or ``make(factory, num_envs=64)`` (a callable
returning a ``gymnasium.Env``). Copies are stepped by Gymnasium's own vector env: the
env's numpy-vectorized vector entry point where Gymnasium registers one and it can be
translated exactly (``vectorization="auto"``, the default; see
:mod:`workbench.envs.adapters.gym_vector`), else ``SyncVectorEnv`` (or ``AsyncVectorEnv``
with ``vectorization="async"``). Every path has same-step autoreset semantics: after an
episode ends, the returned observation already starts the next one,
``terminals``/``truncations`` say which way it ended, and for truncations the last
observation is kept in ``final_observations`` so a trainer can bootstrap from it.

Observation layout: Box observations keep their shape (float32, or their own integer
dtype); anything else is flattened in ``gymnasium.spaces.flatten`` order: Discrete and
MultiDiscrete become one-hot blocks, MultiBinary stays 0/1, Dict concatenates its
sub-spaces in key order (Gymnasium sorts keys), Tuple in position order. Text, Graph,
Sequence and OneOf observations are refused with an error naming the space.

Episode logs: ``episode_return`` and ``episode_length``; ``score`` is the return unless
``score_key`` names a key of the episode's final info; ``perf`` is reported only with a
normalisation ``perf=(low, high)`` (score mapped linearly to 0..1, clipped).
"""

from __future__ import annotations

import difflib

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from workbench.envs.adapters.gym_vector import vector_entry_point
from workbench.envs.base import LOG_KEYS, VecEnv, log_row
from workbench.envs.registry import Param

_FLAT_OK = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


def check_perf_range(perf: tuple) -> None:
    """``perf`` is () or (low, high) with high > low: the score range mapped to 0..1."""
    ok = not perf or (
        len(perf) == 2 and all(isinstance(v, int | float) for v in perf) and perf[1] > perf[0]
    )
    if not ok:
        raise ValueError(f"perf must be () or (low, high) with high > low, got {perf!r}")


def check_flattenable(space: spaces.Space, where: str = "observation space") -> None:
    if isinstance(space, _FLAT_OK):
        return
    if isinstance(space, spaces.Dict):
        for key, sub in space.spaces.items():
            check_flattenable(sub, f"{where}[{key!r}]")
        return
    if isinstance(space, spaces.Tuple):
        for i, sub in enumerate(space.spaces):
            check_flattenable(sub, f"{where}[{i}]")
        return
    raise TypeError(
        f"unsupported {where} {space}: the adapter handles Box, Discrete, MultiDiscrete, "
        "MultiBinary and Dict/Tuple of those"
    )


def flatten_batch(space: spaces.Space, batch, out: np.ndarray) -> None:
    """Write a batch of observations (Gymnasium's batched layout) flattened into ``out``."""
    n = out.shape[0]
    col = 0

    def put(block):
        nonlocal col
        block = block.reshape(n, -1)
        out[:, col : col + block.shape[1]] = block
        col += block.shape[1]

    def walk(sp, b):
        if isinstance(sp, spaces.Box | spaces.MultiBinary):
            put(np.asarray(b))
        elif isinstance(sp, spaces.Discrete):
            onehot = np.zeros((n, int(sp.n)), dtype=out.dtype)
            onehot[np.arange(n), np.asarray(b).reshape(n) - int(sp.start)] = 1
            put(onehot)
        elif isinstance(sp, spaces.MultiDiscrete):
            b = np.asarray(b).reshape(n, -1) - np.asarray(sp.start).reshape(1, -1)
            for k, size in enumerate(np.asarray(sp.nvec).reshape(-1)):
                onehot = np.zeros((n, int(size)), dtype=out.dtype)
                onehot[np.arange(n), b[:, k]] = 1
                put(onehot)
        elif isinstance(sp, spaces.Dict):
            for key, sub in sp.spaces.items():
                walk(sub, b[key])
        else:  # Tuple
            for sub, part in zip(sp.spaces, b, strict=True):
                walk(sub, part)

    walk(space, batch)


def convert_action_space(space: spaces.Space):
    """(the space the policy sees, per-slot action counts for range checks) for an adapter."""
    if isinstance(space, spaces.Discrete):
        return spaces.Discrete(int(space.n)), int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return spaces.MultiDiscrete(space.nvec), np.asarray(space.nvec).reshape(1, -1)
    if isinstance(space, spaces.Box):
        low, high = space.low.astype(np.float32), space.high.astype(np.float32)
        return spaces.Box(low, high, dtype=np.float32), None
    raise TypeError(
        f"unsupported action space {space}: the adapters handle Discrete, MultiDiscrete and Box"
    )


class _GymCore:
    """The compiled-core interface of VecEnv, implemented over a Gymnasium vector env."""

    def __init__(self, env: GymnasiumEnv):
        self.env = env

    def reset(self, seed: int) -> None:
        e = self.env
        obs, _ = e.venv.reset(seed=None if seed < 0 else seed)
        e._write_obs(obs, e.observations)
        e._ret[:] = 0
        e._len[:] = 0

    def first_invalid_action(self) -> int:
        e = self.env
        a = e.actions.reshape(e.num_agents, -1)
        space = e.single_action_space
        if isinstance(space, spaces.Box):
            bad = ~np.isfinite(a)
        else:
            bad = (a < 0) | (a >= e._action_n)
        flat = np.flatnonzero(bad)
        return int(flat[0]) if flat.size else -1

    def step(self) -> None:
        e = self.env
        obs, rew, term, trunc, infos = e.venv.step(e._env_actions())
        e._write_obs(obs, e.observations)
        np.copyto(e.rewards, rew, casting="unsafe")
        np.copyto(e.terminals, term)
        np.copyto(e.truncations, trunc)
        e._ret += e.rewards
        e._len += 1
        done = np.flatnonzero(term | trunc)
        if not done.size:
            return
        if not e.resets_on_next_step:
            e._end_episodes(done, trunc, infos)
            return
        # Next-step autoreset made same-step: the returned rows are the final observations
        # and ``infos`` the final infos; reset the finished copies now (cancelling the
        # next step's reset) and put their first observations in place.
        trunc_rows = done[e.truncations[done]]
        e.final_observations[trunc_rows] = e.observations[trunc_rows]
        e._end_episodes(done, trunc, {"final_info": infos})
        mask = np.zeros(e.num_agents, dtype=bool)
        mask[done] = True
        first, _ = e.venv.reset(options={"reset_mask": mask})
        e._write_obs(first, e._scratch)
        e.observations[done] = e._scratch[done]


class GymnasiumEnv(VecEnv):
    """A Gymnasium env (by id or factory) vectorized into workbench buffers."""

    name = "gym"
    can_truncate = True
    PARAMS = {
        "env_kwargs": Param({}, dict, "keyword arguments for gymnasium.make / the factory"),
        "vectorization": Param(
            "auto",
            str,
            "Gymnasium vector env: auto (the vector entry point where exact, else sync), "
            "vector (the vector entry point, or an error), sync, async",
            choices=("auto", "vector", "sync", "async"),
        ),
        "score_key": Param("", str, "final-info key holding the episode score ('' = return)"),
        "perf": Param((), tuple, "(low, high): perf = (score - low) / (high - low), clipped"),
    }

    check_params = staticmethod(lambda p: check_perf_range(p["perf"]))

    def __init__(
        self,
        env_id_or_factory,
        num_envs=1,
        seed=0,
        log_interval=128,
        env_kwargs=None,
        vectorization="auto",
        score_key="",
        perf=(),
    ):
        kwargs = dict(env_kwargs or {})
        factory = self._factory(env_id_or_factory, kwargs)
        self.venv = None
        if vectorization in ("auto", "vector"):
            if callable(env_id_or_factory):
                why = "a factory has no vector entry point"
            else:
                self.venv, why = vector_entry_point(env_id_or_factory, num_envs, kwargs)
            if self.venv is None and vectorization == "vector":
                raise ValueError(
                    f"vectorization='vector' is not possible: {why}; use vectorization='sync'"
                )
        #: Which vector env steps the copies: "vector" (the entry point), "sync" or "async".
        self.vectorization = "async" if vectorization == "async" else "sync"
        if self.venv is not None:
            self.vectorization = "vector"
        else:
            vector = gym.vector
            cls = vector.AsyncVectorEnv if vectorization == "async" else vector.SyncVectorEnv
            self.venv = cls([factory] * num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        mode = self.venv.metadata.get("autoreset_mode")
        #: True when the copies auto-reset on the next step and are reset early here instead.
        self.resets_on_next_step = mode == gym.vector.AutoresetMode.NEXT_STEP
        obs_space = self.venv.single_observation_space
        act_space = self.venv.single_action_space
        self.source_observation_space = obs_space
        check_flattenable(obs_space)
        if isinstance(obs_space, spaces.Box):
            dtype = obs_space.dtype if np.issubdtype(obs_space.dtype, np.integer) else np.float32
            self.single_observation_space = spaces.Box(
                obs_space.low.astype(dtype), obs_space.high.astype(dtype), dtype=dtype
            )
        else:
            flat = spaces.flatten_space(obs_space)
            self.single_observation_space = spaces.Box(
                flat.low.astype(np.float32), flat.high.astype(np.float32), dtype=np.float32
            )
        self.source_action_space = act_space
        self.single_action_space, self._action_n = convert_action_space(act_space)
        self.name = getattr(env_id_or_factory, "__name__", str(env_id_or_factory))
        super().__init__(num_envs, seed=seed, log_interval=log_interval)
        self.score_key = score_key
        self.perf_range = tuple(perf)
        self._ret = np.zeros(num_envs, dtype=np.float64)
        self._len = np.zeros(num_envs, dtype=np.int64)
        self._scratch = np.zeros_like(self.observations)  # reset rows of next-step envs
        self._core = _GymCore(self)
        self._core.reset(seed)

    @staticmethod
    def _factory(env_id_or_factory, kwargs):
        if callable(env_id_or_factory):
            return lambda: env_id_or_factory(**kwargs)
        env_id = env_id_or_factory
        try:
            gym.spec(env_id)
        except gym.error.Error:
            close = difflib.get_close_matches(env_id, list(gym.registry), n=3)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise ValueError(f"unknown Gymnasium env {env_id!r}{hint}") from None
        return lambda: gym.make(env_id, **kwargs)

    @property
    def log_keys(self):
        return LOG_KEYS if self.perf_range else tuple(k for k in LOG_KEYS if k != "perf")

    def _write_obs(self, obs, out) -> None:
        if isinstance(self.source_observation_space, spaces.Box):
            np.copyto(out, obs, casting="unsafe")
        else:
            flatten_batch(self.source_observation_space, obs, out)

    def _env_actions(self):
        space = self.source_action_space
        a = self.actions
        if isinstance(space, spaces.Box):
            return np.clip(a, space.low, space.high).astype(space.dtype, copy=False)
        if isinstance(space, spaces.Discrete):
            return a + int(space.start) if space.start else a
        return a + np.asarray(space.start) if np.any(space.start) else a

    def _end_episodes(self, done, trunc, infos) -> None:
        final_obs = infos.get("final_obs")
        final_info = infos.get("final_info", {})
        for i in done:
            ret, length = float(self._ret[i]), int(self._len[i])
            score = ret
            if self.score_key and self.score_key in final_info:
                mask = final_info.get(f"_{self.score_key}")
                if mask is None or mask[i]:
                    score = float(final_info[self.score_key][i])
            perf = 0.0
            if self.perf_range:
                low, high = self.perf_range
                perf = min(1.0, max(0.0, (score - low) / (high - low)))
            sums = self._log_sums
            sums += log_row(ret, length, score, perf)
            if trunc[i] and final_obs is not None:
                self._write_obs_one(final_obs[i], i)
            self._ret[i] = 0
            self._len[i] = 0

    def _write_obs_one(self, obs, i) -> None:
        space = self.source_observation_space
        row = self.final_observations[i : i + 1]
        if isinstance(space, spaces.Box):
            row[0] = obs
        else:
            row[0] = spaces.flatten(space, obs)

    def render(self, index: int = 0) -> np.ndarray:
        """The frame of copy ``index``; needs ``env_kwargs={"render_mode": "rgb_array"}``."""
        self._check_render_index(index)
        if self.vectorization == "vector":
            if self.venv.render_mode != "rgb_array":
                raise RuntimeError(
                    f"{self.name} was made with render_mode={self.venv.render_mode!r}: pass "
                    "env_kwargs={'render_mode': 'rgb_array'} to render it"
                )
            return np.asarray(self.venv.render()[index], dtype=np.uint8)
        if not isinstance(self.venv, gym.vector.SyncVectorEnv):
            raise RuntimeError("render needs vectorization='sync' or 'vector'")
        sub = self.venv.envs[index]
        if sub.render_mode != "rgb_array":
            raise RuntimeError(
                f"{self.name} was made with render_mode={sub.render_mode!r}: pass "
                "env_kwargs={'render_mode': 'rgb_array'} to render it"
            )
        return np.asarray(sub.render(), dtype=np.uint8)

    def close(self) -> None:
        if not self._closed:
            self.venv.close()
        super().close()

"""PettingZoo adapter: a parallel multi-agent env in the workbench buffer contract.

``make("pettingzoo:pettingzoo.butterfly.pistonball_v6:parallel_env", num_envs=4)`` or
``make(factory, num_envs=4)`` where ``factory()`` returns a ``pettingzoo.ParallelEnv``.
Each copy gets one slot per agent of ``possible_agents`` (agent k of copy c is slot
``c * len(possible_agents) + k``); all agents must share one observation and one action
space, since one policy acts for all of them (observations are flattened as in the
Gymnasium adapter).

Agents that finish are masked, not crashed on: the step an agent terminates or truncates
is reported in ``terminals``/``truncations`` (with its last observation in
``final_observations`` for a truncation); until its copy resets, the slot's ``masks``
entry is False, its observation is zeros, its action is ignored and it reports a
zero-reward terminal every step, so values never bootstrap through it. A copy resets when
none of its agents is left.
"""

from __future__ import annotations

import importlib

import numpy as np
from gymnasium import spaces

from workbench.envs.adapters.gym import (
    check_flattenable,
    check_perf_range,
    convert_action_space,
    flatten_batch,
)
from workbench.envs.base import LOG_KEYS, VecEnv, log_row
from workbench.envs.registry import Param


def _load_factory(path: str):
    module, _, attr = path.rpartition(":")
    if not module:
        raise ValueError(
            f"pettingzoo env must be 'package.module:function', got {path!r} "
            "(e.g. 'pettingzoo.butterfly.pistonball_v6:parallel_env')"
        )
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot load PettingZoo env factory {path!r}: {e}") from None


def count_agents(path: str, params: dict) -> int:
    """Agents per copy of the env a factory path builds (builds one to look)."""
    env = _load_factory(path)(**dict(params.get("env_kwargs", {})))
    try:
        return len(env.possible_agents)
    finally:
        env.close()


class _PettingZooCore:
    def __init__(self, env: PettingZooEnv):
        self.env = env

    def reset(self, seed: int) -> None:
        for c in range(self.env.num_copies):
            self.env._reset_copy(c, None if seed < 0 else seed + c)

    def first_invalid_action(self) -> int:
        e = self.env
        a = e.actions.reshape(e.num_agents, -1)
        if isinstance(e.single_action_space, spaces.Box):
            bad = ~np.isfinite(a)
        else:
            bad = (a < 0) | (a >= e._action_n)
        bad &= e.masks.reshape(-1, 1)  # finished agents' actions are ignored
        flat = np.flatnonzero(bad)
        return int(flat[0]) if flat.size else -1

    def step(self) -> None:
        self.env._step_all()


class PettingZooEnv(VecEnv):
    """Several copies of a PettingZoo parallel env; every agent is one slot."""

    name = "pettingzoo"
    can_truncate = True
    PARAMS = {
        "env_kwargs": Param({}, dict, "keyword arguments for the env factory"),
        "perf": Param((), tuple, "(low, high): perf = (return - low) / (high - low), clipped"),
    }
    check_params = staticmethod(lambda p: check_perf_range(p["perf"]))

    def __init__(
        self, factory_or_path, num_envs=1, seed=0, log_interval=128, env_kwargs=None, perf=()
    ):
        factory = factory_or_path
        if isinstance(factory, str):
            factory = _load_factory(factory)
        kwargs = dict(env_kwargs or {})
        self.envs = [factory(**kwargs) for _ in range(num_envs)]
        first = self.envs[0]
        self.agent_ids = list(first.possible_agents)
        obs_space = first.observation_space(self.agent_ids[0])
        act_space = first.action_space(self.agent_ids[0])
        for agent in self.agent_ids[1:]:
            if (
                first.observation_space(agent) != obs_space
                or first.action_space(agent) != act_space
            ):
                raise TypeError(
                    f"agent {agent!r} has spaces {first.observation_space(agent)} / "
                    f"{first.action_space(agent)}, but {self.agent_ids[0]!r} has {obs_space} / "
                    f"{act_space}: one policy needs every agent to share its spaces"
                )
        check_flattenable(obs_space)
        self.source_observation_space = obs_space
        flat = spaces.flatten_space(obs_space)
        self.single_observation_space = spaces.Box(
            flat.low.astype(np.float32), flat.high.astype(np.float32), dtype=np.float32
        )
        self.source_action_space = act_space
        self.single_action_space, self._action_n = convert_action_space(act_space)
        self.per_copy = len(self.agent_ids)
        self._copies = num_envs
        self.name = getattr(factory, "__module__", "pettingzoo")
        super().__init__(num_envs * self.per_copy, seed=seed, log_interval=log_interval)
        self.masks = np.ones(self.num_agents, dtype=bool)
        self.perf_range = tuple(perf)
        self._ret = np.zeros(self.num_agents, dtype=np.float64)
        self._len = np.zeros(self.num_agents, dtype=np.int64)
        self._core = _PettingZooCore(self)
        self._core.reset(seed)

    @property
    def num_copies(self) -> int:
        return self._copies

    @property
    def log_keys(self):
        return LOG_KEYS if self.perf_range else tuple(k for k in LOG_KEYS if k != "perf")

    def _write(self, slot: int, obs, out: np.ndarray) -> None:
        flatten_batch(
            self.source_observation_space,
            _batch1(self.source_observation_space, obs),
            out[slot : slot + 1].reshape(1, -1),
        )

    def _reset_copy(self, c: int, seed: int | None) -> None:
        obs, _ = self.envs[c].reset(seed=seed)
        base = c * self.per_copy
        self.masks[base : base + self.per_copy] = True
        self.observations[base : base + self.per_copy] = 0
        for k, agent in enumerate(self.agent_ids):
            if agent in obs:
                self._write(base + k, obs[agent], self.observations)
            else:
                self.masks[base + k] = False
        self._ret[base : base + self.per_copy] = 0
        self._len[base : base + self.per_copy] = 0

    def _step_all(self) -> None:
        space = self.source_action_space
        self.rewards[:] = 0
        self.truncations[:] = False
        # Finished slots report a zero-reward terminal each step until their copy resets.
        self.terminals[:] = ~self.masks
        for c, env in enumerate(self.envs):
            base = c * self.per_copy
            actions = {}
            for k, agent in enumerate(self.agent_ids):
                if self.masks[base + k]:
                    a = self.actions[base + k]
                    if isinstance(space, spaces.Box):
                        a = np.clip(a, space.low, space.high).astype(space.dtype)
                    elif isinstance(space, spaces.Discrete):
                        a = int(a) + int(space.start)
                    actions[agent] = a
            obs, rew, term, trunc, _ = env.step(actions)
            for k, agent in enumerate(self.agent_ids):
                slot = base + k
                if not self.masks[slot]:
                    continue
                r = float(rew.get(agent, 0.0))
                self.rewards[slot] = r
                self._ret[slot] += r
                self._len[slot] += 1
                done_t, done_tr = bool(term.get(agent, False)), bool(trunc.get(agent, False))
                if agent in obs:
                    self._write(slot, obs[agent], self.observations)
                if done_t or done_tr or agent not in env.agents:
                    self.terminals[slot] = done_t or not done_tr
                    self.truncations[slot] = done_tr and not done_t
                    if self.truncations[slot] and agent in obs:
                        self._write(slot, obs[agent], self.final_observations)
                    self._log(slot)
                    self.masks[slot] = False
                    self.observations[slot] = 0
            if not env.agents:
                self._reset_copy(c, None)

    def _log(self, slot: int) -> None:
        ret, length = float(self._ret[slot]), int(self._len[slot])
        perf = 0.0
        if self.perf_range:
            low, high = self.perf_range
            perf = min(1.0, max(0.0, (ret - low) / (high - low)))
        self._log_sums += log_row(ret, length, ret, perf)

    def render(self, index: int = 0) -> np.ndarray:
        self._check_render_index(index)
        frame = self.envs[index].render()
        if frame is None:
            raise RuntimeError("make the env with env_kwargs={'render_mode': 'rgb_array'}")
        return np.asarray(frame, dtype=np.uint8)

    def close(self) -> None:
        if not self._closed:
            for env in self.envs:
                env.close()
        super().close()


def _batch1(space: spaces.Space, obs):
    """One observation in Gymnasium's batched layout (a batch of one)."""
    if isinstance(space, spaces.Dict):
        return {k: _batch1(s, obs[k]) for k, s in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(_batch1(s, o) for s, o in zip(space.spaces, obs, strict=True))
    return np.asarray(obs)[None]

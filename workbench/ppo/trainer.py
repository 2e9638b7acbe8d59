"""PPO with puff advantage and prioritized segments: rollout, advantage, minibatch updates.

Each agent's rollout row is one segment of ``bptt_horizon`` steps. Read top to bottom:
buffers, rollout (with the truncation and segment-end bootstraps the reference lacks),
update (V-trace-corrected advantages recomputed before every minibatch and used,
prioritized segment sampling, gradient accumulation), evaluation, checkpoints.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from workbench import metrics as M
from workbench.envs import make as make_env
from workbench.ppo.advantage import compute_advantage
from workbench.ppo.config import TrainConfig
from workbench.ppo.policy import Policy


def build_optimizers(policy: Policy, cfg: TrainConfig) -> list[torch.optim.Optimizer]:
    """Adam on everything, or Muon on hidden weight matrices plus Adam on the rest.

    ``torch.optim.Muon`` takes only 2-D weights. With ``adjust_lr_fn="match_rms_adamw"``
    its update is scaled to the RMS of an AdamW update (0.2 * sqrt(max(A, B)) per matrix),
    so both groups share ``learning_rate``. The actor and critic heads stay on Adam.
    """
    adam_kw = dict(lr=cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps)
    params = list(policy.named_parameters())
    if cfg.optimizer == "adam":
        return [torch.optim.Adam([p for _, p in params], **adam_kw)]
    heads = ("actor.", "critic.")
    matrices = [p for n, p in params if p.ndim == 2 and not n.startswith(heads)]
    rest = [p for n, p in params if not (p.ndim == 2 and not n.startswith(heads))]
    muon = torch.optim.Muon(
        matrices,
        lr=cfg.learning_rate,
        weight_decay=0.0,
        momentum=cfg.muon_momentum,
        nesterov=True,
        adjust_lr_fn="match_rms_adamw",
    )
    return [muon, torch.optim.Adam(rest, **adam_kw)]


class _Timer:
    def __init__(self, device: torch.device):
        self.sync = device.type == "cuda"
        self.totals = dict.fromkeys(M.TIMING_KEYS, 0.0)
        self.last = time.perf_counter()

    def lap(self, key: str) -> None:
        if self.sync:
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.totals[key] += now - self.last
        self.last = now

    def reset(self) -> dict:
        out, self.totals = self.totals, dict.fromkeys(M.TIMING_KEYS, 0.0)
        return out


def merge_log(acc: dict, log: dict, weight: float = 1.0) -> None:
    """Accumulate an env log (means with count n) into running sums in ``acc``."""
    n = log.get("n", 0) * weight
    if n <= 0:
        return
    for k, v in log.items():
        if k != "n":
            acc[k] = acc.get(k, 0.0) + v * n
    acc["n"] = acc.get("n", 0.0) + n


def log_means(acc: dict) -> dict:
    n = acc.get("n", 0.0)
    if n <= 0:
        return {}
    out = {k: float(v / n) for k, v in acc.items() if k != "n"}
    out["n"] = float(n)
    return out


class Trainer:
    """Owns the env, policy, optimizers and rollout buffers of one run."""

    def __init__(self, cfg: TrainConfig, env=None):
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.env = env or make_env(
            cfg.env,
            num_envs=cfg.num_envs,
            seed=cfg.seed,
            log_interval=1 << 30,
            **cfg.env_params,
        )
        env = self.env
        self.policy = Policy.for_env(env, cfg.hidden_size, cfg.rnn, seed=cfg.seed).to(self.device)
        self.optimizers = build_optimizers(self.policy, cfg)
        self.gen = torch.Generator(self.device).manual_seed(cfg.seed)

        n, t, dev = env.num_agents, cfg.bptt_horizon, self.device
        obs_dtype = torch.from_numpy(env.observations[:1]).dtype
        act = torch.from_numpy(env.actions)
        self.obs = torch.zeros((n, t, *env.observations.shape[1:]), dtype=obs_dtype, device=dev)
        self.actions = torch.zeros((n, t, *act.shape[1:]), dtype=act.dtype, device=dev)
        self.logprobs = torch.zeros(n, t, device=dev)
        self.values = torch.zeros(n, t + 1, device=dev)  # last column: segment-end bootstrap
        self.rewards = torch.zeros(n, t)  # CPU: the advantage kernel reads them in place
        self.dones = torch.zeros(n, t)
        self.starts = torch.zeros(n, t, device=dev)  # 1 where observation t begins an episode
        self.ratio = torch.ones(n, t)
        self.advantages = torch.zeros(n, t)
        self.h0 = torch.zeros(n, cfg.hidden_size, device=dev)
        self.c0 = torch.zeros(n, cfg.hidden_size, device=dev)
        self._done_np = np.zeros(n, dtype=bool)
        # Activations per sample, roughly: the input, the encoder and (with the LSTM) its
        # gates and states, forward and backward.
        per_sample = 4 * (
            int(np.prod(env.observations.shape[1:])) + (16 if cfg.rnn else 4) * cfg.hidden_size
        )
        self.micro_batch = cfg.micro_batch_size(per_sample)
        self._obs_view = torch.from_numpy(env.observations)
        self._act_view = torch.from_numpy(env.actions)

        env.reset(seed=cfg.seed)
        self.state = self.policy.initial_state(n, dev)
        self.next_start = torch.zeros(n, device=dev)
        self.agent_steps = 0
        self.epoch = 0
        self.wall_time = 0.0  # training seconds before this session (kept by checkpoints)
        self.timer = _Timer(self.device)
        self._env_log: dict = {}

    # -- rollout --
    @torch.no_grad()
    def rollout(self, stop=None) -> bool:
        """Collect one segment per agent; returns False if ``stop`` was set midway."""
        cfg, env, pol, timer = self.cfg, self.env, self.policy, self.timer
        head, log_std = pol.head, pol.log_std
        obs_view, act_view, done_np = self._obs_view, self._act_view, self._done_np
        clip = cfg.reward_clip
        if pol.recurrent:
            self.h0.copy_(self.state[0])
            self.c0.copy_(self.state[1])
        timer.lap("misc")
        for t in range(cfg.bptt_horizon):
            if stop is not None and stop.is_set():
                return False
            obs = obs_view.to(self.device, non_blocking=True)
            self.obs[:, t] = obs
            self.starts[:, t] = self.next_start
            timer.lap("copy")
            out, value, self.state = pol.step(obs, self.state)
            action, logp = head.sample(out, log_std, self.gen)
            timer.lap("forward")
            self.actions[:, t] = action
            self.logprobs[:, t] = logp
            self.values[:, t] = value
            act_view.copy_(action)
            timer.lap("copy")
            _, rew, term, trunc, info = env.step(env.actions)
            timer.lap("env")
            if info:
                merge_log(self._env_log, info)
            r = torch.from_numpy(rew)
            if clip > 0:
                r = r.clamp(-clip, clip)
            self.rewards[:, t] = r
            np.logical_or(term, trunc, out=done_np)
            if done_np.any():
                self.dones[:, t] = torch.from_numpy(done_np)
                if cfg.truncation_bootstrap and trunc.any():
                    # Partial-episode bootstrap (Pardo et al. 2018): a time limit is not a
                    # terminal state, so fold gamma * V(final observation) into the reward.
                    idx = np.flatnonzero(trunc)
                    final = torch.from_numpy(env.final_observations[idx]).to(self.device)
                    sub = None if self.state is None else tuple(s[idx] for s in self.state)
                    v = pol.value(final, sub).float().cpu()
                    self.rewards[idx, t] += cfg.gamma * v
                keep = torch.from_numpy(~done_np).to(self.device, torch.float32)
                if self.state is not None:
                    self.state = (self.state[0] * keep[:, None], self.state[1] * keep[:, None])
                self.next_start = 1.0 - keep
            else:
                self.dones[:, t] = 0.0
                self.next_start = torch.zeros_like(self.next_start)
            timer.lap("copy")
        # Segment-end bootstrap from the value of the next observation (not from nothing).
        obs = obs_view.to(self.device)
        self.values[:, -1] = pol.value(obs, self.state)
        timer.lap("forward")
        self.agent_steps += env.num_agents * cfg.bptt_horizon
        return True

    # -- update --
    def _advantages(self) -> torch.Tensor:
        cfg = self.cfg
        values = self.values if self.values.device.type == "cpu" else self.values.cpu()
        return compute_advantage(
            values,
            self.rewards,
            self.dones,
            self.ratio,
            self.advantages,
            cfg.gamma,
            cfg.gae_lambda,
            cfg.vtrace_rho_clip,
            cfg.vtrace_c_clip,
        )

    def update(self) -> dict:
        cfg, pol, dev = self.cfg, self.policy, self.device
        n, horizon = self.rewards.shape
        mb_segs = cfg.minibatch_size // horizon
        micro_segs = min(self.micro_batch // horizon, mb_segs)
        progress = min(1.0, self.agent_steps / cfg.total_steps)
        beta = cfg.prio_beta0 + (1.0 - cfg.prio_beta0) * progress
        lr = cfg.learning_rate * (1.0 - progress) if cfg.anneal_lr else cfg.learning_rate
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr
        self.ratio.fill_(1.0)
        self._advantages()
        values = self.values[:, :-1]
        stats = dict.fromkeys(
            ("policy", "value", "entropy", "approx_kl", "clipfrac", "importance"), 0.0
        )
        updates = cfg.update_epochs * cfg.num_minibatches()
        for k in range(updates):
            if k > 0 and cfg.recompute_advantages:
                self._advantages()  # V-trace ratios changed with the policy: use them
            adv = self.advantages.to(dev)
            if cfg.prio_alpha > 0:
                weight = adv.abs().sum(1).pow(cfg.prio_alpha)
                total = weight.sum()
                probs = weight / total if total > 0 and torch.isfinite(total) else None
            else:
                probs = None
            if probs is None:
                probs = torch.full((n,), 1.0 / n, device=dev)
            idx = torch.multinomial(probs, mb_segs, replacement=False, generator=self.gen)
            imp = (n * probs[idx]).pow(-beta)
            mb_adv = adv[idx]
            mb_ret = mb_adv + values[idx]
            mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8) * imp[:, None]
            for opt in self.optimizers:
                opt.zero_grad(set_to_none=True)
            loss_total = 0.0
            for lo in range(0, mb_segs, micro_segs):
                part = slice(lo, min(lo + micro_segs, mb_segs))
                losses = self._loss(
                    idx[part], mb_adv[part], mb_ret[part], (part.stop - part.start) / mb_segs
                )
                loss_total += losses["loss"]
                for key in stats:
                    stats[key] += losses[key] / updates
            if not math.isfinite(loss_total):
                raise FloatingPointError(
                    f"loss is {loss_total} at epoch {self.epoch}, minibatch {k}: lower "
                    f"learning_rate (now {cfg.learning_rate}) or max_grad_norm"
                )
            torch.nn.utils.clip_grad_norm_(pol.parameters(), cfg.max_grad_norm)
            for opt in self.optimizers:
                opt.step()
        ret = self.advantages.to(dev) + values
        var = ret.var()
        stats["explained_variance"] = float(1 - (ret - values).var() / var) if var > 0 else 0.0
        stats["learning_rate"] = lr
        stats["importance_beta"] = beta
        self.epoch += 1
        return stats

    def _loss(self, idx, adv, ret, fraction) -> dict:
        """Backward one micro-batch; its loss is scaled so micro-batches sum to the minibatch."""
        cfg, pol = self.cfg, self.policy
        m, horizon = adv.shape
        state = (self.h0[idx], self.c0[idx]) if pol.recurrent else None
        out, new_values = pol.forward_sequence(self.obs[idx], state, self.starts[idx])
        actions = self.actions[idx].reshape(m * horizon, *self.actions.shape[2:])
        new_logp = pol.head.logprob(out, pol.log_std, actions).reshape(m, horizon)
        entropy = pol.head.entropy(out, pol.log_std).reshape(m, horizon)
        logratio = new_logp - self.logprobs[idx]
        ratio = logratio.exp()
        pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef))
        old_v = self.values[idx, :-1]
        v_clipped = old_v + (new_values - old_v).clamp(-cfg.vf_clip_coef, cfg.vf_clip_coef)
        v_loss = 0.5 * torch.max((new_values - ret) ** 2, (v_clipped - ret) ** 2)
        loss = pg.mean() + cfg.vf_coef * v_loss.mean() - cfg.ent_coef * entropy.mean()
        (loss * fraction).backward()
        with torch.no_grad():
            self.ratio[idx.cpu()] = ratio.float().cpu()
            return {
                "loss": float(loss) * fraction,
                "policy": float(pg.mean()) * fraction,
                "value": float(v_loss.mean()) * fraction,
                "entropy": float(entropy.mean()) * fraction,
                "approx_kl": float(((ratio - 1) - logratio).mean()) * fraction,
                "clipfrac": float(((ratio - 1).abs() > cfg.clip_coef).float().mean()) * fraction,
                "importance": float(ratio.mean()) * fraction,
            }

    # -- one epoch --
    def train_epoch(self, stop=None) -> dict | None:
        """Rollout + update; returns the metric row (without wall_time), or None if stopped."""
        start = time.perf_counter()
        self.timer.last = start
        if not self.rollout(stop):
            return None
        losses = self.update()
        self.timer.lap("learn")
        merge_log(self._env_log, self.env.log())
        env_log = log_means(self._env_log)
        self._env_log = {}
        timing = self.timer.reset()
        elapsed = time.perf_counter() - start
        row = {
            M.AGENT_STEPS: self.agent_steps,
            M.EPOCH: self.epoch,
            M.SPS: self.env.num_agents * self.cfg.bptt_horizon / elapsed,
        }
        row.update({M.env(k): v for k, v in env_log.items()})
        row.update({M.loss(k): v for k, v in losses.items()})
        row.update({M.timing(k): v for k, v in timing.items()})
        return row

    # -- checkpoints --
    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(
            {
                "policy": self.policy.state_dict(),
                "optimizers": [o.state_dict() for o in self.optimizers],
                "config": self.cfg.to_dict(),
                "epoch": self.epoch,
                M.AGENT_STEPS: self.agent_steps,
                "generator": self.gen.get_state(),
                M.WALL_TIME: self.wall_time,
            },
            tmp,
        )
        os.replace(tmp, path)
        return path

    def load(self, path: str | os.PathLike) -> None:
        ckpt = load_checkpoint(path, self.device)
        self.policy.load_state_dict(ckpt["policy"])
        for opt, state in zip(self.optimizers, ckpt["optimizers"], strict=False):
            opt.load_state_dict(state)
        self.epoch = ckpt["epoch"]
        self.agent_steps = ckpt[M.AGENT_STEPS]
        self.gen.set_state(ckpt["generator"])
        self.wall_time = ckpt.get(M.WALL_TIME, 0.0)


def load_checkpoint(path, device="cpu") -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    return torch.load(path, map_location=device, weights_only=False)


@torch.no_grad()
def evaluate(policy: Policy, env, max_steps: int = 27_000, seed: int = 0, device="cpu") -> dict:
    """Reset every agent of ``env`` and run until each finished one fresh episode.

    Only each agent's first episode counts: stopping at the first N episodes to finish
    would keep the shortest ones (the lowest scores in most games). Size the env to the
    number of episodes wanted. ``unfinished`` counts agents still playing at max_steps.
    """
    device = torch.device(device)
    gen = torch.Generator(device).manual_seed(seed)
    env.reset(seed=seed)
    env.log()
    n = env.num_agents
    state = policy.initial_state(n, device)
    finished = np.zeros(n, dtype=bool)
    done = np.zeros(n, dtype=bool)
    obs_view, act_view = torch.from_numpy(env.observations), torch.from_numpy(env.actions)
    acc: dict = {}
    steps = 0
    while not finished.all() and steps < max_steps:
        out, _, state = policy.step(obs_view.to(device), state)
        action, _ = policy.head.sample(out, policy.log_std, gen)
        act_view.copy_(action)
        _, _, term, trunc, _ = env.step(env.actions)
        steps += 1
        np.logical_or(term, trunc, out=done)
        if done.any():
            log = env.log()
            first = done & ~finished
            if log and first.any():
                # The log averages every episode that ended this step; weight it by the
                # share of first episodes (exact unless a step mixes first and repeat ones).
                merge_log(acc, log, weight=first.sum() / done.sum())
            finished |= done
            if state is not None:
                keep = torch.from_numpy(~done).to(device, torch.float32)[:, None]
                state = (state[0] * keep, state[1] * keep)
    out = log_means(acc)
    out["episodes"] = int(finished.sum())
    out["unfinished"] = int(n - finished.sum())
    out["steps"] = steps
    return out

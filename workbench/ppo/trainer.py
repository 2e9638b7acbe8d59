"""PPO with puff advantage and prioritized segments: rollout, advantage, minibatch updates.

Each agent's rollout row is one segment of ``bptt_horizon`` steps. Read top to bottom:
buffers, rollout (with the truncation and segment-end bootstraps the reference lacks),
update (V-trace-corrected advantages recomputed before every minibatch and used,
prioritized segment sampling, gradient accumulation), evaluation, checkpoints.

Every rollout and update buffer lives on ``cfg.device``; on the CPU that is the whole story.
On a GPU the env's outputs go in through pinned host buffers with non-blocking copies, and
the host reads from the device only where it must: the actions of each step (the env needs
them), one NaN flag per minibatch (before the optimizer step), and the statistics once per
epoch. ``workbench.ppo.advantage`` picks the advantage and priority kernels for the device.
"""

from __future__ import annotations

import os
import time
import weakref
from concurrent import futures
from pathlib import Path

import numpy as np
import torch

from workbench import metrics as M
from workbench.envs import make as make_env
from workbench.ppo.advantage import compute_advantage, segment_priorities
from workbench.ppo.checkpoint import load_checkpoint, save_checkpoint
from workbench.ppo.config import TrainConfig, activation_bytes
from workbench.ppo.cy_rollout import record_step, sample_categorical
from workbench.ppo.device import PhaseTimer, Staging
from workbench.ppo.episodes import log_means, merge_log
from workbench.ppo.graphs import CudaGraphs
from workbench.ppo.loss import discrete_ppo_loss, ppo_loss
from workbench.ppo.policy import Policy

ALL = slice(None)  # every agent's rows
# The update's statistics, in row order; the loss itself comes first in _loss's vector.
STAT_KEYS = ("policy", "value", "entropy", "approx_kl", "clipfrac", "importance")


# Devices where ``torch.optim.Adam(fused=True)`` runs.
FUSED_ADAM_DEVICES = ("cpu", "cuda")


def build_optimizers(policy: Policy, cfg: TrainConfig) -> list[torch.optim.Optimizer]:
    """Adam on everything, or Muon on hidden weight matrices plus Adam on the rest.

    ``torch.optim.Muon`` takes only 2-D weights. With ``adjust_lr_fn="match_rms_adamw"``
    its update is scaled to the RMS of an AdamW update (0.2 * sqrt(max(A, B)) per matrix),
    so both groups share ``learning_rate``. The actor and critic heads stay on Adam.
    """
    adam_kw = dict(lr=cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps)
    params = list(policy.named_parameters())
    # One fused kernel for all tensors where torch has it: a third of the per-tensor loop's
    # time for the small heads and biases on a CPU.
    adam_kw["fused"] = all(p.device.type in FUSED_ADAM_DEVICES for _, p in params)
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


def clip_grad_norm(params: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)`` for parameters
    on one device and dtype: the same ops in the same order, so the same numbers, without
    its per-call grouping of tensors by device (a third of its time at our sizes)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total


def sample_without_replacement(probs: torch.Tensor, k: int, gen) -> torch.Tensor:
    """``torch.multinomial(probs, k, replacement=False, generator=gen)``, without its checks.

    The same draws and ops as torch's own fast path (the exponential race: the top k of
    probs / Exp(1) noise, Efraimidis & Spirakis 2006), so the same indices; but torch's
    checks of ``probs`` read values back from a GPU twice per call. Our ``probs`` are
    valid by construction.
    """
    q = torch.empty_like(probs).exponential_(1, generator=gen)
    torch.div(probs, q, out=q)
    return q.argmax(-1, keepdim=True) if k == 1 else q.topk(k).indices


class Trainer:
    """Owns the env, policy, optimizers and rollout buffers of one run.

    ``host_cuts``: the update's LSTM pieces start wherever some agent of the *rollout*
    began an episode (known on the host, a superset of each minibatch's), instead of
    reading each micro-batch's starts back from the device. On by default on a GPU only:
    on the CPU each micro-batch's own (fewer) cuts are cheaper.
    """

    def __init__(self, cfg: TrainConfig, env=None):
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.env = env or make_env(
            cfg.env,
            num_envs=cfg.num_envs,
            seed=cfg.seed,
            log_interval=1 << 30,
            slices=cfg.env_slices(),
            **cfg.env_params,
        )
        env = self.env
        self.policy = Policy.for_env(env, cfg.hidden_size, cfg.rnn, seed=cfg.seed).to(self.device)
        head = self.policy.head
        self._one_categorical = head.kind == "discrete" and len(head.sizes) == 1
        self.optimizers = build_optimizers(self.policy, cfg)
        self._params = list(self.policy.parameters())
        self.gen = torch.Generator(self.device).manual_seed(cfg.seed)
        step = self.policy.step
        self._policy_step = torch.compile(step) if cfg.compile_rollout else step

        n, t, dev = env.num_agents, cfg.bptt_horizon, self.device
        self._obs_view = torch.from_numpy(env.observations)
        self._act_view = torch.from_numpy(env.actions)
        self._rew_view = torch.from_numpy(env.rewards)
        act = self._act_view
        obs_shape, obs_dtype = env.observations.shape[1:], self._obs_view.dtype
        self.obs = torch.zeros((n, t, *obs_shape), dtype=obs_dtype, device=dev)
        self.actions = torch.zeros((n, t, *act.shape[1:]), dtype=act.dtype, device=dev)
        self.logprobs = torch.zeros(n, t, device=dev)
        self.values = torch.zeros(n, t + 1, device=dev)  # last column: segment-end bootstrap
        self.rewards = torch.zeros(n, t, device=dev)
        self.dones = torch.zeros(n, t, device=dev)
        self.starts = torch.zeros(n, t, device=dev)  # 1 where observation t begins an episode
        self.ratio = torch.ones(n, t, device=dev)
        self.advantages = torch.zeros(n, t, device=dev)
        self._abs_sums = torch.zeros(n, device=dev)  # per segment, for its priority
        self.h0 = torch.zeros(n, cfg.hidden_size, device=dev)
        self.c0 = torch.zeros(n, cfg.hidden_size, device=dev)
        self._done_np = np.zeros(n, dtype=bool)
        self._any_start = np.zeros(t, dtype=bool)  # some agent begins an episode at step t
        self.host_cuts = dev.type == "cuda"
        self._staging = {}
        if dev.type == "cuda":
            self._staging = {
                "obs": Staging(self._obs_view.shape, self._obs_view.dtype, dev),
                "rewards": Staging((n,), torch.float32, dev),
                "dones": Staging((n,), torch.float32, dev),
            }
        # On the CPU a single categorical action is sampled, and the step recorded, in C
        # (cy_rollout.pyx), through these numpy views of the rollout's and env's buffers.
        # bf16 keeps it: autocast covers the update only, the rollout's outputs stay fp32.
        self._host_sample = None
        if self._one_categorical and dev.type == "cpu":
            self._host_sample = {
                "actions": self.actions.numpy(),
                "logprobs": self.logprobs.numpy(),
                "values": self.values.numpy(),
                "rewards": self.rewards.numpy(),
                "dones": self.dones.numpy(),
                "env_actions": env.actions,
                "env_rewards": env.rewards,
                "terminals": env.terminals.view(np.uint8),
                "truncations": env.truncations.view(np.uint8),
            }
        # The rollout's step under autocast too (its outputs and LSTM state back in fp32).
        self._rollout_bf16 = cfg.bf16 and cfg.bf16_rollout and self._host_sample is not None
        self._halves = self._split_halves(env) if cfg.double_buffer else None
        if self._halves:
            self._stepper = futures.ThreadPoolExecutor(1, thread_name_prefix="workbench-rollout")
            weakref.finalize(self, self._stepper.shutdown, wait=False)
        obs_numel = int(np.prod(env.observations.shape[1:]))
        self.micro_batch = cfg.micro_batch_size(
            int(activation_bytes(obs_numel, cfg.hidden_size, cfg.rnn))
        )

        env.reset(seed=cfg.seed)
        self.state = self.policy.initial_state(n, dev)
        self.next_start = torch.zeros(n, device=dev)
        self.agent_steps = 0
        self.epoch = 0
        self.timer = PhaseTimer(self.device, cfg.profile)
        self._env_log: dict = {}
        self.wall_time = 0.0  # seconds trained, a loaded checkpoint's included
        self._clock_origin: float | None = None  # perf_counter at wall_time 0, while counting
        self.graphs = CudaGraphs(self)  # replays sample_step and the update, or says why not

    @staticmethod
    def _split_halves(env) -> list[tuple[slice, tuple[int, int]]]:
        """(agent rows, env slices) of each half, for double buffering."""
        k = getattr(env, "slices", 1)
        if k < 2 or k % 2:
            raise ValueError(
                f"double_buffer steps the env in two halves of its slices; this env "
                f"has slices={k}: build it with slices = 2 * env_threads"
            )
        return [
            (env.slice_agents(0, k // 2), (0, k // 2)),
            (env.slice_agents(k // 2, k), (k // 2, k)),
        ]

    # -- rollout --
    @torch.no_grad()
    def rollout(self, stop=None) -> bool:
        """Collect one segment per agent; returns False if ``stop`` was set midway.

        A step: observations to the device, policy step and sampling, actions to the env
        (the step's one read from the device), env step, rewards and dones to the device.
        """
        pol = self.policy
        if pol.recurrent:
            self.h0.copy_(self.state[0])
            self.c0.copy_(self.state[1])
        self._any_start[:] = False
        # The whole rollout's sampling noise in one draw (per step it costs a call each).
        n, horizon = self.env.num_agents, self.cfg.bptt_horizon
        self._noise_block = pol.head.noise(horizon * n, self.device, torch.float32, self.gen)
        self.timer.lap("misc")
        collect = self._rollout_double_buffered if self._halves else self._rollout_serial
        if not collect(stop):
            return False
        # Segment-end bootstrap from the value of the next observation (not from nothing).
        obs = self._upload("obs", self._obs_view, ALL)
        self.values[:, -1] = pol.value(obs, self.state)
        self.timer.lap("forward")
        self.agent_steps += self.env.num_agents * self.cfg.bptt_horizon
        return True

    def _rollout_serial(self, stop) -> bool:
        env = self.env
        for t in range(self.cfg.bptt_horizon):
            if stop is not None and stop.is_set():
                return False
            self._act(t, ALL, self._noise(t))
            _, _, _, _, info = env.step(env.actions)
            self.timer.lap("env")
            if info:
                merge_log(self._env_log, info)
            self._record(t, ALL)
        return True

    def _rollout_double_buffered(self, stop) -> bool:
        """The agents in two halves: one half's env step (in a thread) overlaps the other
        half's policy step. Per half the order is the serial one (act, env step, record).

        Bit-identical to the serial rollout: every copy's env trajectory for the same
        actions, and the sampling noise (drawn for the whole rollout at its start, each
        half using its rows of each step, as in serial). Not guaranteed identical:
        the policy's outputs, computed on half batches, whose matrix products may round
        differently from full-batch ones (kernels can depend on the batch size); a rounding
        difference can, rarely, flip a sampled action, after which trajectories differ.
        """
        env, horizon, pending = self.env, self.cfg.bptt_horizon, [None, None]
        try:
            for t in range(horizon + 1):
                if t < horizon and stop is not None and stop.is_set():
                    return False
                noise = self._noise(t) if t < horizon else None
                for h, (rows, slices) in enumerate(self._halves):
                    if pending[h] is not None:
                        pending[h].result()  # this half's env step t - 1
                        pending[h] = None
                        self.timer.lap("env")
                        self._record(t - 1, rows)
                    if t < horizon:
                        self._act(t, rows, noise)
                        pending[h] = self._stepper.submit(env.step_slices, *slices)
        finally:  # never leave a step running (a stop, an error)
            futures.wait([f for f in pending if f is not None])
        return True

    def _noise(self, t: int) -> list[torch.Tensor]:
        """Step t's rows of the rollout's noise: every agent's draws for that step."""
        n = self.env.num_agents
        return [z[t * n : (t + 1) * n] for z in self._noise_block]

    def _upload(self, name: str, host: torch.Tensor, rows: slice) -> torch.Tensor:
        """``host`` (rows of an env buffer) on the device: itself on the CPU."""
        stage = self._staging.get(name)
        return host if stage is None else stage(host, rows)

    def _act(self, t: int, rows: slice, noise: list[torch.Tensor]) -> None:
        """Observation t of ``rows`` in, their actions out to the env's action buffer."""
        pol, timer = self.policy, self.timer
        obs = self._upload("obs", self._obs_view[rows], rows)
        self.obs[rows, t] = obs
        if pol.recurrent:
            self.starts[rows, t] = self.next_start[rows]
        timer.lap("copy")
        state = None if self.state is None else (self.state[0][rows], self.state[1][rows])
        fast = self._host_sample
        if fast is None:
            noise = [z[rows] for z in noise]
            action, logp, value, state = self.graphs.act(rows, obs, state, noise)
        else:
            with torch.autocast("cpu", torch.bfloat16, enabled=self._rollout_bf16):
                out, value, state = self._policy_step(obs, state, joint=True)
            if self._rollout_bf16:
                out = out.float()
                state = None if state is None else (state[0].float(), state[1].float())
        if rows == ALL:
            self.state = state
        elif state is not None:
            self.state[0][rows] = state[0]
            self.state[1][rows] = state[1]
        if fast is not None:  # sample and write the step's buffers in one C pass
            sample_categorical(
                out.numpy(),
                noise[0][rows].numpy(),
                fast["actions"][rows, t],
                fast["logprobs"][rows, t],
                fast["values"][rows, t],
                fast["env_actions"][rows],
            )
            timer.lap("forward")
            return
        timer.lap("forward")
        self.actions[rows, t] = action
        self.logprobs[rows, t] = logp
        self.values[rows, t] = value
        self._act_view[rows].copy_(action)
        timer.lap("copy")

    def sample_step(self, obs, state, noise):
        """The rollout step's math on the device: policy step and sampling from ``noise``
        (these rows' draws) -> (action, logp, value, state). ``graphs`` replays it."""
        out, value, state = self._policy_step(obs, state)
        action, logp = self.policy.head.sample(out, self.policy.log_std, noise=noise)
        return action, logp, value, state

    def _record(self, t: int, rows: slice) -> None:
        """Rewards and dones of step t for ``rows``; bootstrap truncated episodes and reset
        the LSTM state of agents whose episode ended."""
        cfg, env, fast = self.cfg, self.env, self._host_sample
        if fast is not None:
            ended = record_step(
                fast["env_rewards"][rows],
                fast["terminals"][rows],
                fast["truncations"][rows],
                fast["rewards"][rows, t],
                fast["dones"][rows, t],
                cfg.reward_clip,
            )
        else:
            r = self._upload("rewards", self._rew_view[rows], rows)
            if cfg.reward_clip > 0:
                r = r.clamp(-cfg.reward_clip, cfg.reward_clip)
            self.rewards[rows, t] = r
            done = self._done_np[rows]
            np.logical_or(env.terminals[rows], env.truncations[rows], out=done)
            ended = done.any()
            if ended:
                self.dones[rows, t] = self._upload("dones", torch.from_numpy(done), rows)
            else:
                self.dones[rows, t] = 0.0
        recurrent = self.state is not None  # episode starts matter to the LSTM only
        if ended:
            trunc = env.truncations[rows]
            if cfg.truncation_bootstrap and trunc.any():
                self._bootstrap_truncated(t, np.flatnonzero(trunc) + (rows.start or 0))
            if recurrent:
                done_t = self.dones[rows, t]
                keep = (1.0 - done_t)[:, None]
                self.state[0][rows].mul_(keep)
                self.state[1][rows].mul_(keep)
                self.next_start[rows] = done_t
                if t + 1 < cfg.bptt_horizon:
                    self._any_start[t + 1] = True
        elif recurrent:
            self.next_start[rows] = 0.0
        self.timer.lap("copy")

    def _bootstrap_truncated(self, t: int, idx: np.ndarray) -> None:
        # Partial-episode bootstrap (Pardo et al. 2018): a time limit is not a terminal
        # state, so fold gamma * V(final observation) into the reward.
        final = torch.from_numpy(self.env.final_observations[idx]).to(self.device)
        idx = torch.from_numpy(idx).to(self.device)
        sub = None if self.state is None else tuple(s[idx] for s in self.state)
        v = self.policy.value(final, sub).float()
        self.rewards[idx, t] += self.cfg.gamma * v

    # -- update --
    def _advantages(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """The advantages, all rows or only ``rows`` (those whose ratios changed)."""
        cfg = self.cfg
        return compute_advantage(
            self.values,
            self.rewards,
            self.dones,
            self.ratio,
            self.advantages,
            cfg.gamma,
            cfg.gae_lambda,
            cfg.vtrace_rho_clip,
            cfg.vtrace_c_clip,
            rows=rows,
        )

    def _segment_probs(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Sampling probability of each segment: prioritized by |advantage|, or uniform.

        With ``rows``, only their priorities are recomputed (the others' advantages did
        not change since the last call)."""
        n = self.advantages.shape[0]
        if self.cfg.prio_alpha <= 0:
            return torch.full((n,), 1.0 / n, device=self.device)
        weight = segment_priorities(
            self.advantages, self.cfg.prio_alpha, sums=self._abs_sums, rows=rows
        )
        total = weight.sum()
        # Uniform where the weights cannot be normalized: chosen on the device, no read.
        return torch.where((total > 0) & torch.isfinite(total), weight / total, 1.0 / n)

    def update(self) -> dict:
        cfg, dev = self.cfg, self.device
        n, horizon = self.rewards.shape
        mb_segs = cfg.minibatch_size // horizon
        progress = min(1.0, self.agent_steps / cfg.total_steps)
        beta = cfg.prio_beta0 + (1.0 - cfg.prio_beta0) * progress
        lr = cfg.learning_rate * (1.0 - progress) if cfg.anneal_lr else cfg.learning_rate
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr
        self.ratio.fill_(1.0)
        self._advantages()
        values = self.values[:, :-1]
        cuts = np.flatnonzero(self._any_start).tolist() if self.host_cuts else None
        # Statistics stay on the device, in float64 (as Python floats summed them before).
        stats = torch.zeros(len(STAT_KEYS), dtype=torch.float64, device=dev)
        updates = cfg.update_epochs * cfg.num_minibatches()
        idx = None  # the last minibatch's segments
        for k in range(updates):
            if idx is None:
                probs = self._segment_probs()
            elif cfg.recompute_advantages:
                # V-trace ratios changed with the policy, in the last minibatch's rows only:
                # their advantages and priorities are recomputed, the rest stand.
                self._advantages(rows=idx)
                probs = self._segment_probs(rows=idx)
            adv = self.advantages
            idx = sample_without_replacement(probs, mb_segs, self.gen)
            # index_select, here and in _loss: indexing (x[idx]) splits even a few kB across
            # threads, and on a busy core waits ms for the other's slice (8 ms against 3 us).
            imp = (n * probs.index_select(0, idx)).pow(-beta)
            mb_adv = adv.index_select(0, idx)
            mb_ret = mb_adv + values.index_select(0, idx)
            mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8) * imp[:, None]
            self.timer.lap("advantage")
            loss_total, mb_stats = self.graphs.grads(idx, mb_adv, mb_ret, cuts)
            stats += mb_stats / updates
            # The minibatch's one read from the device: stop before a NaN reaches the weights.
            if not torch.isfinite(loss_total):
                raise FloatingPointError(
                    f"loss is {float(loss_total)} at epoch {self.epoch}, minibatch {k}: lower "
                    f"learning_rate (now {cfg.learning_rate}) or max_grad_norm"
                )
            self.graphs.apply()
            self.timer.lap("optimizer")
        ret = self.advantages + values
        var = ret.var()
        explained = torch.where(var > 0, 1 - (ret - values).var() / var, 0.0)
        read = torch.cat([stats, explained.double().reshape(1)]).tolist()  # the epoch's read
        out = dict(zip(STAT_KEYS, read[:-1], strict=True))
        out["explained_variance"] = read[-1]
        out["learning_rate"] = lr
        out["importance_beta"] = beta
        self.epoch += 1
        return out

    def minibatch_grads(self, idx, adv, ret, cuts) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradients of one minibatch (segments ``idx``), micro-batch by micro-batch:
        (loss, statistics in ``STAT_KEYS`` order), float64 on the device."""
        for param in self._params:  # what zero_grad(set_to_none=True) does, minus its
            param.grad = None  # per-optimizer Python overhead
        mb_segs = idx.shape[0]
        micro_segs = min(self.micro_batch // self.cfg.bptt_horizon, mb_segs)
        loss_total = torch.zeros((), dtype=torch.float64, device=self.device)
        stats = torch.zeros(len(STAT_KEYS), dtype=torch.float64, device=self.device)
        for lo in range(0, mb_segs, micro_segs):
            part = slice(lo, min(lo + micro_segs, mb_segs))
            fraction = (part.stop - part.start) / mb_segs
            losses = self._loss(idx[part], adv[part], ret[part], fraction, cuts)
            loss_total += losses[0]
            stats += losses[1:]
        return loss_total, stats

    def apply_grads(self) -> None:
        """Clip the gradient norm and step every optimizer."""
        clip_grad_norm(self._params, self.cfg.max_grad_norm)
        for opt in self.optimizers:
            opt.step()

    def _loss(self, idx, adv, ret, fraction, cuts) -> torch.Tensor:
        """Backward one micro-batch, its loss scaled so micro-batches sum to the minibatch.

        Returns (loss, *STAT_KEYS) times ``fraction``, float64, on the device.
        """
        cfg, pol = self.cfg, self.policy
        m, horizon = adv.shape
        # Every gather by index_select (see update()); indexing the observations also copies
        # element by element, several times slower for the minibatch's biggest gather.
        gather = lambda x: x.index_select(0, idx)  # noqa: E731
        state = (gather(self.h0), gather(self.c0)) if pol.recurrent else None
        obs, old_logp = gather(self.obs), gather(self.logprobs)
        actions = gather(self.actions).reshape(m * horizon, *self.actions.shape[2:])
        old_values = gather(self.values)[:, :-1]
        # bf16: autocast for the network only; the loss (below, outside the block), the
        # advantage, the weights and the optimizer's state stay fp32.
        with torch.autocast(self.device.type, torch.bfloat16, enabled=cfg.bf16):
            starts = gather(self.starts) if pol.recurrent else None
            out = pol.forward_sequence(obs, state, starts, cuts, joint=self._one_categorical)
        if self._one_categorical:  # logits and value straight into the loss (loss.py)
            flat = (x.reshape(m * horizon) for x in (old_logp, adv, ret, old_values))
            loss, stats, ratio = discrete_ppo_loss(out.float(), actions, *flat, cfg)
            ratio = ratio.reshape(m, horizon)
        else:
            out, new_values = out[0].float(), out[1].float()
            new_logp, entropy = pol.head.logprob_entropy(out, pol.log_std, actions)
            new_logp, entropy = new_logp.reshape(m, horizon), entropy.reshape(m, horizon)
            loss, stats, ratio = ppo_loss(
                new_logp, entropy, new_values, old_logp, adv, ret, old_values, cfg
            )
        with torch.no_grad():
            self.ratio.index_copy_(0, idx, ratio)  # idx: distinct segments
            stats = stats.double() * fraction
        self.timer.lap("loss")
        (loss * fraction).backward()
        self.timer.lap("backward")
        return stats

    # -- one epoch --
    def train_epoch(self, stop=None) -> dict | None:
        """Rollout + update; returns the metric row (without wall_time), or None if stopped."""
        start = time.perf_counter()
        self.timer.start()
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

    # -- clock and checkpoints --
    def start_clock(self) -> None:
        """Count wall time from now, on top of what the trainer has already trained (a
        loaded checkpoint's time included): a resumed run's clock goes on."""
        self._clock_origin = time.perf_counter() - self.wall_time

    def elapsed(self) -> float:
        """Seconds trained so far (read from the clock when it runs); kept in
        ``wall_time``, which checkpoints save."""
        if self._clock_origin is not None:
            self.wall_time = time.perf_counter() - self._clock_origin
        return self.wall_time

    def save(self, path: str | os.PathLike) -> Path:
        return save_checkpoint(
            path,
            {
                "policy": self.policy.state_dict(),
                "optimizers": [o.state_dict() for o in self.optimizers],
                "config": self.cfg.to_dict(),
                "epoch": self.epoch,
                M.AGENT_STEPS: self.agent_steps,
                "generator": self.gen.get_state(),
                M.WALL_TIME: self.elapsed(),
            },
        )

    def load(self, path: str | os.PathLike, trust: bool = False) -> None:
        ckpt = load_checkpoint(path, self.device, trust=trust)
        self.policy.load_state_dict(ckpt["policy"])
        for opt, state in zip(self.optimizers, ckpt["optimizers"], strict=False):
            opt.load_state_dict(state)
        self.epoch = ckpt["epoch"]
        self.agent_steps = ckpt[M.AGENT_STEPS]
        self.gen.set_state(ckpt["generator"])
        self.wall_time = float(ckpt.get(M.WALL_TIME, 0.0))
        if self._clock_origin is not None:
            self.start_clock()

"""Policy: encode -> optional LSTM -> decode (actor and critic), as in PufferLib's split.

Rollouts call :meth:`Policy.step` (one ``LSTMCell`` step per env step); training calls
:meth:`Policy.forward_sequence`, which runs ``nn.LSTM`` over whole segments with the same
weights, from the state stored at each segment's start, resetting the state wherever an
episode ended inside the segment (so training recomputes exactly what the rollout saw).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from gymnasium import spaces
from torch import nn


class MLPEncoder(nn.Module):
    """Flatten the observation and apply Linear + GELU."""

    def __init__(self, obs_space: spaces.Space, hidden: int):
        super().__init__()
        self.obs_dim = int(np.prod(obs_space.shape))
        self.linear = nn.Linear(self.obs_dim, hidden)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return nn.functional.gelu(self.linear(obs.reshape(obs.shape[0], -1).float()))


def sample_categorical(logits: torch.Tensor, u: torch.Tensor):
    """(action, its log-probability) per row of ``logits`` (N, k), by inverse CDF with one
    uniform ``u`` (N,) per row: the first action whose cumulative probability passes u.

    The formulas of the rollout's C kernel (``cy_rollout.sample_categorical``), in the
    transpose so that each op runs along the batch (several times faster on a CPU for a
    few logits per row): e = exp(z - max z), the first j with u * sum(e) < cumsum(e)_j,
    log p = z_j - max z - log sum(e)."""
    z = logits.t()
    top = z.amax(0)
    e = (z - top).exp_()
    cum = e.cumsum(0)
    total = cum[-1]
    # How many cumulative sums u * total passes = the index of the first it does not.
    a = (cum <= u * total).sum(0).clamp_(max=z.shape[0] - 1)
    logp = z.gather(0, a.unsqueeze(0)).squeeze(0) - top - total.log()
    return a, logp


class ActionHead:
    """Sampling, log-probabilities and entropy for one action space, from raw actor outputs."""

    def __init__(self, space: spaces.Space):
        self.space = space
        if isinstance(space, spaces.Discrete):
            self.kind, self.sizes = "discrete", [int(space.n)]
        elif isinstance(space, spaces.MultiDiscrete):
            self.kind, self.sizes = "discrete", [int(n) for n in np.asarray(space.nvec).ravel()]
        elif isinstance(space, spaces.Box):
            self.kind, self.sizes = "gaussian", [int(np.prod(space.shape))]
        else:
            raise TypeError(f"unsupported action space {space}: use Discrete, MultiDiscrete or Box")
        self.out_dim = sum(self.sizes)
        self.action_shape = () if isinstance(space, spaces.Discrete) else tuple(space.shape)

    def _parts(self, out: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The logits of each action part (``out`` itself for one part: a split costs a
        Python call per rollout step)."""
        return (out,) if len(self.sizes) == 1 else out.split(self.sizes, dim=-1)

    def noise(self, n: int, device, dtype=torch.float32, gen=None) -> list[torch.Tensor]:
        """The random draws :meth:`sample` uses for ``n`` rows, one tensor per action part.

        Drawn for all agents at once and sliced by rows, they let a rollout sample part of
        the agents at a time while consuming ``gen`` exactly as one full-batch sample does.
        """
        if self.kind == "gaussian":
            return [torch.randn((n, self.out_dim), generator=gen, device=device, dtype=dtype)]
        # One uniform per row and part (inverse-CDF sampling): Gumbel-max would need k
        # exponential draws per row, 20x the time of a rollout's uniforms on a CPU.
        return [torch.rand(n, generator=gen, device=device, dtype=dtype) for _ in self.sizes]

    def sample(self, out: torch.Tensor, log_std: torch.Tensor | None, gen=None, noise=None):
        """Return (action, logprob); discrete actions are int64.

        ``noise``: this batch's rows of :meth:`noise`; drawn here from ``gen`` when None.
        """
        if noise is None:
            noise = self.noise(out.shape[0], out.device, out.dtype, gen)
        if self.kind == "gaussian":
            action = out + log_std.exp() * noise[0]
            return action.reshape(out.shape[0], *self.action_shape), self.logprob(
                out, log_std, action
            )
        actions, logps = [], []
        for logits, u in zip(self._parts(out), noise, strict=True):
            a, logp = sample_categorical(logits, u)
            actions.append(a)
            logps.append(logp)
        if len(actions) == 1 and not self.action_shape:
            return actions[0], logps[0]
        return torch.stack(actions, -1).reshape(out.shape[0], *self.action_shape), sum(logps)

    def logprob(self, out, log_std, action):
        if self.kind == "gaussian":
            a = action.reshape(out.shape)
            var = (2 * log_std).exp()
            lp = -((a - out) ** 2) / (2 * var) - log_std - 0.5 * math.log(2 * math.pi)
            return lp.sum(-1)
        a = action.reshape(out.shape[0], -1).long()
        total = 0
        for k, logits in enumerate(self._parts(out)):
            logp = torch.log_softmax(logits, dim=-1)
            total = total + logp.gather(-1, a[:, k : k + 1]).squeeze(-1)
        return total

    def entropy(self, out, log_std):
        if self.kind == "gaussian":
            ent = 0.5 + 0.5 * math.log(2 * math.pi) + log_std
            return ent.sum(-1).expand(out.shape[0])
        total = 0
        for logits in self._parts(out):
            logp = torch.log_softmax(logits, dim=-1)
            total = total - (logp.exp() * logp).sum(-1)
        return total

    def logprob_entropy(self, out, log_std, action):
        """(:meth:`logprob`, :meth:`entropy`), the same numbers, one log-softmax per part."""
        if self.kind == "gaussian":
            return self.logprob(out, log_std, action), self.entropy(out, log_std)
        a = action.reshape(out.shape[0], -1).long()
        logprob = entropy = 0
        for k, logits in enumerate(self._parts(out)):
            logp = torch.log_softmax(logits, dim=-1)
            logprob = logprob + logp.gather(-1, a[:, k : k + 1]).squeeze(-1)
            entropy = entropy - (logp.exp() * logp).sum(-1)
        return logprob, entropy


class Policy(nn.Module):
    """Encoder, optional LSTM, actor and critic for one env's spaces."""

    def __init__(
        self,
        obs_space: spaces.Space,
        act_space: spaces.Space,
        hidden: int = 128,
        rnn: bool = True,
        encoder: nn.Module | None = None,
        seed: int = 0,
    ):
        super().__init__()
        self.hidden = hidden
        self.head = ActionHead(act_space)
        self.encoder = encoder if encoder is not None else MLPEncoder(obs_space, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True) if rnn else None
        if rnn:
            # One-step cell for rollouts sharing the LSTM's parameters (same weights).
            self.cell = nn.LSTMCell(hidden, hidden)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                setattr(self.cell, name, getattr(self.lstm, f"{name}_l0"))
        self.actor = nn.Linear(hidden, self.head.out_dim)
        self.critic = nn.Linear(hidden, 1)
        self.log_std = (
            nn.Parameter(torch.full((self.head.out_dim,), -0.5))
            if self.head.kind == "gaussian"
            else None
        )
        self._init_weights(seed)

    @classmethod
    def for_env(cls, env, hidden: int = 128, rnn: bool = True, seed: int = 0) -> Policy:
        """The policy for ``env``'s spaces, with the env's own encoder if it supplies one."""
        make_encoder = getattr(env, "make_encoder", None)
        encoder = None
        if make_encoder:
            # An env's encoder initializes from torch's global RNG, seeded differently in
            # every process: seed it here (restoring the global state) so seed = same curve.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                encoder = make_encoder(hidden)
        return cls(
            env.single_observation_space,
            env.single_action_space,
            hidden=hidden,
            rnn=rnn,
            encoder=encoder,
            seed=seed,
        )

    @property
    def recurrent(self) -> bool:
        return self.lstm is not None

    def _init_weights(self, seed: int) -> None:
        # Orthogonal init (gain sqrt 2 hidden, 0.01 actor, 1 critic), from a private generator
        # so concurrent runs in one process stay reproducible.
        gen = torch.Generator().manual_seed(seed)
        for module in self.modules():
            if isinstance(module, nn.Linear) and module not in (self.actor, self.critic):
                nn.init.orthogonal_(module.weight, math.sqrt(2), generator=gen)
                nn.init.zeros_(module.bias)
        nn.init.orthogonal_(self.actor.weight, 0.01, generator=gen)
        nn.init.zeros_(self.actor.bias)
        nn.init.orthogonal_(self.critic.weight, 1.0, generator=gen)
        nn.init.zeros_(self.critic.bias)
        if self.lstm is not None:
            for name, p in self.lstm.named_parameters():
                if "weight" in name:
                    nn.init.orthogonal_(p, 1.0, generator=gen)
                else:
                    nn.init.zeros_(p)

    def initial_state(self, n: int, device="cpu"):
        if not self.recurrent:
            return None
        z = torch.zeros(n, self.hidden, device=device)
        return (z, z.clone())

    def decode_joint(self, h: torch.Tensor) -> torch.Tensor:
        """Actor and critic outputs in one (N, k + 1) tensor, the value last.

        One matrix product for both heads: a backward product with 3 or 1 output columns
        (the actor's, the critic's) is several times slower per element on a CPU."""
        weight = torch.cat([self.actor.weight, self.critic.weight])
        bias = torch.cat([self.actor.bias, self.critic.bias])
        return nn.functional.linear(h, weight, bias)

    def decode(self, h: torch.Tensor):
        out = self.decode_joint(h)
        return out[:, :-1], out[:, -1]

    def step(self, obs: torch.Tensor, state, joint: bool = False):
        """One rollout step: (actor output, value, new state); with ``joint``, (the one
        output of :meth:`decode_joint`, None, new state)."""
        x = self.encoder(obs)
        if self.recurrent:
            h, c = self.cell(x, state)
            state = (h, c)
            x = h
        if joint:
            return self.decode_joint(x), None, state
        out, value = self.decode(x)
        return out, value, state

    def value(self, obs: torch.Tensor, state) -> torch.Tensor:
        return self.step(obs, state)[1]

    def forward_sequence(
        self,
        obs: torch.Tensor,
        state,
        starts: torch.Tensor | None = None,
        cuts=None,
        joint: bool = False,
    ):
        """Training pass over segments: obs (B, T, ...) -> actor out (B*T, k), values (B, T),
        or with ``joint`` the one (B*T, k + 1) output of :meth:`decode_joint`.

        ``state`` is the (h, c) at each segment's start, each (B, H); ``starts[b, t]`` is 1
        where observation t begins a new episode (the state is zeroed before it). The LSTM
        runs in pieces between the steps ``t`` where some segment starts an episode;
        ``cuts`` may list them (a superset does no harm: a cut where no segment starts
        leaves the state as it is), which saves reading ``starts`` back from a GPU.
        """
        b, t = obs.shape[:2]
        x = self.encoder(obs.reshape(b * t, *obs.shape[2:]))
        if self.recurrent:
            x = x.reshape(b, t, -1)
            h, c = state[0].unsqueeze(0), state[1].unsqueeze(0)
            if cuts is None:
                cuts = []
                if starts is not None and t > 1:
                    cuts = torch.nonzero(starts[:, 1:].any(0)).flatten().add(1).tolist()
            if not cuts:
                x, _ = self.lstm(x, (h, c))
            else:
                # Split, not sliced: each slice's backward would fill a zero gradient of the
                # whole input and add it up; a split's backward is one concatenation.
                bounds = sorted({0, t, *(k for k in cuts if 0 < k < t)})
                pieces = []
                for lo, x_piece in zip(bounds, x.split(np.diff(bounds).tolist(), 1), strict=False):
                    if lo > 0:
                        keep = (1.0 - starts[:, lo]).reshape(1, b, 1)
                        h, c = h * keep, c * keep
                    y, (h, c) = self.lstm(x_piece, (h, c))
                    pieces.append(y)
                x = torch.cat(pieces, 1)
            x = x.reshape(b * t, -1)
        if joint:
            return self.decode_joint(x)
        out, value = self.decode(x)
        return out, value.reshape(b, t)

"""No host syncs in the hot loops: the trainer's device code path, run on the CPU, with every
read of a tensor's values into Python (``item``, ``tolist``, ``numpy``, ``__bool__``,
``__float__``, ``__int__``, ``cpu``) made to raise inside the rollout and the update, from
whatever code makes it (ours or torch's Python). Allowed: what the design names, the NaN
flag of each minibatch and the epoch's statistics, read once after the update's loops."""

import sys

import pytest
import torch

from workbench.ppo import advantage
from workbench.ppo.config import make_config
from workbench.ppo.trainer import Trainer

READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "cpu")
# (function, read): the designed reads; the NaN flag is counted, once per minibatch.
ALLOWED = {("update", "__bool__"), ("update", "tolist")}


class HostRead(AssertionError):
    pass


class Guard:
    """While ``on``, a read of tensor values raises unless ``ALLOWED`` names it."""

    def __init__(self, monkeypatch):
        self.on, self.allowed = False, []
        for name in READS:
            monkeypatch.setattr(torch.Tensor, name, self._wrap(name, getattr(torch.Tensor, name)))

    def _wrap(self, name, original):
        def read(tensor, *args, **kwargs):
            if self.on:
                frame = sys._getframe(1)
                where = (frame.f_code.co_name, name)
                if where not in ALLOWED:
                    raise HostRead(
                        f"{name}() read from the device in {frame.f_code.co_name} "
                        f"({frame.f_code.co_filename}:{frame.f_lineno})"
                    )
                self.allowed.append(name)
            return original(tensor, *args, **kwargs)

        return read

    def run(self, fn):
        self.on = True
        try:
            return fn()
        finally:
            self.on = False


def device_path_trainer(monkeypatch, env, **kw):
    """A trainer on the CPU taking the GPU's code path: sampling in torch (not the CPU's C
    kernel), the advantage in the torch backend (not the CPU's Cython one reading numpy
    views), the LSTM's pieces from the rollout's host-side flags (``host_cuts``)."""
    monkeypatch.setattr(advantage, "backend_for", lambda device: "torch")
    base = dict(num_envs=32, bptt_horizon=16, minibatch_size=128, total_steps=10**6, seed=1)
    t = Trainer(make_config(env, **{**base, **kw}))
    t._host_sample = None
    t.host_cuts = True
    return t


@pytest.mark.parametrize(
    ("env", "kw"),
    [
        ("breakout", dict(rnn=False)),
        ("breakout", dict(rnn=True, optimizer="adam", max_minibatch_size=64)),
        ("memory", dict(rnn=True, env_params={"delay": 4})),  # episodes end inside segments
        ("timelimit", dict(rnn=True)),  # truncations bootstrapped from the final observation
        ("breakout", dict(rnn=False, double_buffer=True, bf16=True, update_epochs=2)),
        ("breakout", dict(rnn=False, prio_alpha=0.0, recompute_advantages=False)),
    ],
    ids=["mlp", "lstm-adam-micro", "lstm-starts", "truncations", "double-bf16", "uniform"],
)
def test_rollout_and_update_read_only_the_designed_flags(monkeypatch, env, kw):
    t = device_path_trainer(monkeypatch, env, **kw)
    guard = Guard(monkeypatch)
    for _ in range(2):
        assert guard.run(t.rollout) is True
        guard.allowed.clear()
        guard.run(t.update)
        minibatches = t.cfg.update_epochs * t.cfg.num_minibatches()
        assert guard.allowed == ["__bool__"] * minibatches + ["tolist"]


def test_the_guard_catches_a_read(monkeypatch):
    t = device_path_trainer(monkeypatch, "breakout", rnn=False)
    guard = Guard(monkeypatch)
    original = t.sample_step

    def leaky(obs, state, noise):
        out = original(obs, state, noise)
        out[1].sum().item()  # a sync a careless edit could add
        return out

    t.graphs.step_fn = leaky
    with pytest.raises(HostRead, match=r"item\(\) read from the device in leaky"):
        guard.run(t.rollout)

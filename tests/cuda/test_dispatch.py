"""The trainer's advantage and priority dispatch (workbench.ppo.advantage) through the Triton
kernels gives what the Cython kernel and torch give.

Without a GPU the kernels run through Triton's interpreter on CPU tensors
(``triton_setup``, imported first).
"""

import pytest
import torch

from tests.cuda.triton_setup import DEVICE  # first: switches on Triton's interpreter
from workbench.ppo import advantage
from workbench.ppo.config import make_config
from workbench.ppo.trainer import Trainer


def inputs(n, t, seed):
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(n, t + 1, generator=g)
    rewards = torch.randn(n, t, generator=g)
    dones = (torch.rand(n, t, generator=g) < 0.1).float()
    ratio = 0.5 + torch.rand(n, t, generator=g)
    return values, rewards, dones, ratio


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (333, 64)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("clips", [(1.0, 1.0), (0.7, 1.3)])
def test_triton_dispatch_matches_the_cython_kernel(shape, clips):
    cpu = inputs(*shape, seed=shape[0])
    args = (0.99, 0.9, *clips)
    want = advantage.compute_advantage(*cpu, torch.zeros(shape), *args, backend="cpu")
    dev = [x.to(DEVICE) for x in cpu]
    got = advantage.compute_advantage(
        *dev, torch.zeros(shape, device=DEVICE), *args, backend="triton"
    )
    torch.testing.assert_close(got.cpu(), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.8])
def test_triton_priorities_match_torch(alpha):
    adv = torch.randn(65, 33, generator=torch.Generator().manual_seed(1))
    adv[3] = 0.0  # a segment without advantage
    want = advantage.segment_priorities(adv, alpha, backend="torch")
    got = advantage.segment_priorities(adv.to(DEVICE), alpha, backend="triton")
    torch.testing.assert_close(got.cpu(), want, rtol=1e-5, atol=1e-6)


def test_trainer_update_runs_on_the_triton_kernels(monkeypatch):
    # What a GPU run does: the dispatch picks the Triton kernels for every advantage
    # recompute and the priorities; here forced on CPU tensors through the interpreter.
    cfg = make_config("memory", num_envs=32, bptt_horizon=16, minibatch_size=256, seed=2)
    t = Trainer(cfg)
    t.rollout()
    want = t._advantages().clone()
    monkeypatch.setattr(advantage, "backend_for", lambda device: "triton")
    torch.testing.assert_close(t._advantages(), want, rtol=1e-5, atol=1e-5)
    stats = t.update()
    assert all(map(torch.isfinite, map(torch.tensor, stats.values())))

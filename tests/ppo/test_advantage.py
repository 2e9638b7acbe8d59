"""The compiled puff advantage equals the plain torch reference, and fixes the reference's flaws."""

import numpy as np
import pytest
import torch

from workbench.ppo.advantage import advantage_reference, compute_advantage


def random_inputs(n, t, seed, ratio_range=(0.3, 2.5)):
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(n, t + 1, generator=g)
    rewards = torch.randn(n, t, generator=g)
    dones = (torch.rand(n, t, generator=g) < 0.1).float()
    lo, hi = ratio_range
    ratio = lo + (hi - lo) * torch.rand(n, t, generator=g)
    return values, rewards, dones, ratio


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (333, 65)])
@pytest.mark.parametrize("clips", [(1.0, 1.0), (0.7, 1.3), (1e9, 1e9)])
def test_compiled_matches_reference(shape, clips):
    # Ratios in a realistic band: unclipped traces of ratio 2.5 compound past float32 range.
    values, rewards, dones, ratio = random_inputs(
        *shape, seed=shape[0] * 31 + shape[1], ratio_range=(0.5, 1.5)
    )
    args = (0.99, 0.9, *clips)
    out = torch.zeros_like(rewards)
    compute_advantage(values, rewards, dones, ratio, out, *args)
    ref = advantage_reference(
        values.double(), rewards.double(), dones.double(), ratio.double(), *args
    )
    assert torch.allclose(out.double(), ref, rtol=1e-4, atol=1e-4)


def test_clipping_changes_the_result():
    values, rewards, dones, ratio = random_inputs(16, 20, seed=0)
    a = torch.zeros_like(rewards)
    b = torch.zeros_like(rewards)
    compute_advantage(values, rewards, dones, ratio, a, 0.99, 0.9, 1.0, 1.0)
    compute_advantage(values, rewards, dones, ratio, b, 0.99, 0.9, 1e9, 1e9)
    assert not torch.allclose(a, b)


def plain_gae(values, rewards, dones, gamma, lam):
    """Textbook GAE, written independently: one row at a time in numpy."""
    v, r, d = values.numpy(), rewards.numpy(), dones.numpy()
    out = np.zeros_like(r)
    for i in range(r.shape[0]):
        last = 0.0
        for t in reversed(range(r.shape[1])):
            nonterminal = 1.0 - d[i, t]
            delta = r[i, t] + gamma * v[i, t + 1] * nonterminal - v[i, t]
            last = delta + gamma * lam * nonterminal * last
            out[i, t] = last
    return out


def test_ratio_one_is_plain_gae():
    values, rewards, dones, _ = random_inputs(9, 31, seed=4)
    out = torch.zeros_like(rewards)
    compute_advantage(values, rewards, dones, torch.ones_like(rewards), out, 0.97, 0.8, 1, 1)
    assert np.allclose(out.numpy(), plain_gae(values, rewards, dones, 0.97, 0.8), atol=1e-5)


def test_last_transition_bootstraps_from_next_value():
    # The reference leaves the last step of every segment with zero advantage; here the
    # segment end is bootstrapped from the value of the next observation.
    n, t = 3, 8
    values = torch.zeros(n, t + 1)
    values[:, -1] = 5.0
    rewards = torch.zeros(n, t)
    out = torch.zeros(n, t)
    compute_advantage(values, rewards, torch.zeros(n, t), torch.ones(n, t), out, 0.9, 1.0, 1, 1)
    assert torch.allclose(out[:, -1], torch.full((n,), 4.5))
    assert (out != 0).all()


def test_shape_mismatch_is_a_clear_error():
    values, rewards, dones, ratio = random_inputs(4, 5, seed=1)
    with pytest.raises(ValueError, match=r"values must be \(4, 6\), got \(4, 5\)"):
        compute_advantage(
            values[:, :5].contiguous(), rewards, dones, ratio, torch.zeros(4, 5), 0.9, 0.9, 1, 1
        )


def test_listed_rows_only_are_recomputed_and_match_the_full_kernel():
    values, rewards, dones, ratio = random_inputs(40, 17, seed=3)
    args = (0.99, 0.95, 1.0, 1.0)
    full = compute_advantage(values, rewards, dones, ratio, torch.zeros(40, 17), *args)
    out = torch.full((40, 17), 7.0)
    rows = torch.tensor([0, 5, 39, 12])
    compute_advantage(values, rewards, dones, ratio, out, *args, rows=rows)
    assert torch.equal(out[rows], full[rows])
    others = torch.ones(40, dtype=torch.bool)
    others[rows] = False
    assert (out[others] == 7.0).all()
    with pytest.raises(ValueError, match="row 40 out of range for 40 rows"):
        compute_advantage(values, rewards, dones, ratio, out, *args, rows=torch.tensor([40]))

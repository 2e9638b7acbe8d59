"""The Triton kernels equal their torch references; bad inputs fail with messages naming them.

Without a GPU the kernels run on the CPU through Triton's interpreter (``triton_setup``,
imported first).
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import workbench.cuda as cuda
from tests.cuda.triton_setup import DEVICE  # first: switches on Triton's interpreter
from workbench.cuda._checks import check_runnable
from workbench.cuda.advantage import puff_advantage
from workbench.cuda.priority import priority_weights
from workbench.cuda.sample import sample_logits
from workbench.ppo.advantage import advantage_reference

# The interpreter matches the float32 references bit for bit; the margin is for GPU rounding.
TOL = {"rtol": 1e-5, "atol": 1e-5}
SHAPES = [(1, 1), (7, 13), (333, 65), (8192, 64), (3, 700)]
CLIPS = [(1.0, 1.0), (0.5, 2.0), (1e9, 1e9)]


def advantage_inputs(n, t, seed):
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(n, t + 1, generator=g)
    rewards = torch.randn(n, t, generator=g)
    dones = (torch.rand(n, t, generator=g) < 0.1).float()
    ratio = 0.2 + 2.8 * torch.rand(n, t, generator=g)
    return values, rewards, dones, ratio


def run_advantage(values, rewards, dones, ratio, *args, **kwargs):
    inputs = [x.to(DEVICE) for x in (values, rewards, dones, ratio)]
    out = torch.full_like(inputs[1], float("nan"))
    result = puff_advantage(*inputs, out, *args, **kwargs)
    assert result is out
    return out.cpu()


# --- puff advantage -----------------------------------------------------------------------


@pytest.mark.parametrize("clips", CLIPS, ids=lambda c: f"rho{c[0]:g}-c{c[1]:g}")
@pytest.mark.parametrize("shape", [*SHAPES, (5, 1000)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_advantage_matches_reference(shape, clips):
    inputs = advantage_inputs(*shape, seed=shape[0] * 31 + shape[1])
    args = (0.99, 0.95, *clips)
    out = run_advantage(*inputs, *args)
    torch.testing.assert_close(out, advantage_reference(*inputs, *args), **TOL)


@pytest.mark.parametrize(("shape", "block_rows"), [((7, 13), 2), ((333, 65), 32), ((5, 9), 8)])
def test_advantage_small_blocks_mask_the_edge_rows(shape, block_rows):
    # Several programs, the last one part-full: its padding rows must read and write nothing.
    n, t = shape
    values, rewards, dones, ratio = advantage_inputs(n, t, seed=3)
    buffer = torch.full((n + 2, t), -7.0, device=DEVICE)
    out = buffer[1 : n + 1]
    inputs = [x.to(DEVICE) for x in (values, rewards, dones, ratio)]
    puff_advantage(*inputs, out, 0.9, 0.8, 0.5, 2.0, block_rows=block_rows)
    ref = advantage_reference(values, rewards, dones, ratio, 0.9, 0.8, 0.5, 2.0)
    torch.testing.assert_close(out.cpu(), ref, **TOL)
    assert (buffer[0] == -7.0).all() and (buffer[n + 1] == -7.0).all()


def test_advantage_by_hand_without_dones_is_discounted_return_minus_value():
    # ratio 1, lam 1, no dones: A_t = sum_k gamma^k r_{t+k} + gamma^(T-t) V_T - V_t.
    gamma = 0.9
    values = torch.tensor([[0.5, -1.0, 2.0, 4.0]])
    rewards = torch.tensor([[1.0, 2.0, -3.0]])
    ones = torch.ones_like(rewards)
    out = run_advantage(values, rewards, torch.zeros_like(rewards), ones, gamma, 1.0, 1.0, 1.0)
    expected = []
    for t in range(3):
        ret = sum(gamma**k * rewards[0, t + k].item() for k in range(3 - t))
        expected.append(ret + gamma ** (3 - t) * 4.0 - values[0, t].item())
    torch.testing.assert_close(out, torch.tensor([expected]), **TOL)


def test_advantage_done_cuts_bootstrap_and_trace():
    # Every step done: A_t = rho_t * (r_t - V_t), nothing flows back from later steps.
    values, rewards, _, ratio = advantage_inputs(4, 6, seed=5)
    out = run_advantage(values, rewards, torch.ones_like(rewards), ratio, 0.99, 0.95, 0.7, 1.0)
    rho = ratio.clamp(max=0.7)
    torch.testing.assert_close(out, rho * (rewards - values[:, :-1]), **TOL)


def test_advantage_accepts_int_scalars():
    # An int 1 would be typed i32 (and specialized) by Triton; the wrapper passes floats.
    inputs = advantage_inputs(6, 5, seed=8)
    out = run_advantage(*inputs, 1, 1, 1, 1)
    torch.testing.assert_close(out, advantage_reference(*inputs, 1.0, 1.0, 1.0, 1.0), **TOL)


@pytest.mark.parametrize("shape", [(0, 5), (4, 0)])
def test_advantage_empty_is_a_no_op(shape):
    n, t = shape
    out = torch.empty(n, t, device=DEVICE)
    result = puff_advantage(
        torch.zeros(n, t + 1, device=DEVICE),
        torch.zeros(n, t, device=DEVICE),
        torch.zeros(n, t, device=DEVICE),
        torch.ones(n, t, device=DEVICE),
        out,
        0.99,
        0.95,
        1.0,
        1.0,
    )
    assert result is out


def good_advantage_args(n=4, t=5):
    return {
        "values": torch.zeros(n, t + 1, device=DEVICE),
        "rewards": torch.zeros(n, t, device=DEVICE),
        "dones": torch.zeros(n, t, device=DEVICE),
        "ratio": torch.ones(n, t, device=DEVICE),
        "out": torch.zeros(n, t, device=DEVICE),
        "gamma": 0.99,
        "lam": 0.95,
        "rho_clip": 1.0,
        "c_clip": 1.0,
    }


@pytest.mark.parametrize(
    ("name", "bad", "error", "match"),
    [
        ("values", torch.zeros(4, 5), ValueError, r"values must have shape \(4, 6\), got \(4, 5\)"),
        ("dones", torch.zeros(4, 6), ValueError, r"dones must have shape \(4, 5\), got \(4, 6\)"),
        ("out", torch.zeros(3, 5), ValueError, r"out must have shape \(4, 5\), got \(3, 5\)"),
        (
            "rewards",
            torch.zeros(20),
            ValueError,
            r"rewards must be 2-D, got shape \(20,\)",
        ),
        (
            "ratio",
            torch.ones(4, 5, dtype=torch.float64),
            TypeError,
            "ratio must be float32, got float64",
        ),
        (
            "dones",
            torch.zeros(4, 5, dtype=torch.bool),
            TypeError,
            "dones must be float32, got bool",
        ),
        ("ratio", torch.ones(5, 4).T, ValueError, "ratio must be contiguous"),
        (
            "values",
            torch.zeros(4, 6, device="meta"),
            ValueError,
            "values is on meta but rewards is on",
        ),
        ("rewards", [[0.0] * 5] * 4, TypeError, "rewards must be a torch.Tensor, got list"),
        ("out", None, TypeError, "out must be a torch.Tensor, got NoneType"),
        ("gamma", torch.tensor(0.99), TypeError, "gamma must be a real number, got Tensor"),
        ("lam", float("nan"), ValueError, "lam must not be NaN"),
    ],
)
def test_advantage_bad_inputs_name_the_argument(name, bad, error, match):
    args = good_advantage_args()
    # Bad tensors go to the test device, so only their intended flaw differs (meta stays meta).
    moves = isinstance(bad, torch.Tensor) and bad.device.type == "cpu"
    args[name] = bad.to(DEVICE) if moves else bad
    with pytest.raises(error, match=match):
        puff_advantage(**args)


def test_advantage_block_rows_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="block_rows must be a positive power of two, got 3"):
        puff_advantage(**good_advantage_args(), block_rows=3)


def test_compiled_kernel_refuses_cpu_tensors_with_a_hint():
    compiled = object()  # anything not interpreted stands for a compiled kernel here
    with pytest.raises(ValueError, match=r"tensors are on cpu; .* TRITON_INTERPRET=1"):
        check_runnable(compiled, torch.device("cpu"))


def test_kernels_refuse_devices_they_cannot_run_on():
    args = {
        k: v.to("meta") if isinstance(v, torch.Tensor) else v
        for k, v in good_advantage_args().items()
    }
    with pytest.raises(ValueError, match="tensors are on meta; Triton kernels need CUDA tensors"):
        puff_advantage(**args)
    meta = torch.zeros(4, 3, device="meta")
    with pytest.raises(ValueError, match="tensors are on meta"):
        sample_logits(meta, meta)
    with pytest.raises(ValueError, match="tensors are on meta"):
        priority_weights(meta, 0.5)


# --- categorical sampling -----------------------------------------------------------------


def sample_reference(logits, uniform):
    actions = (logits - torch.log(-torch.log(uniform))).argmax(-1)
    logprobs = torch.log_softmax(logits, -1).gather(1, actions[:, None])[:, 0]
    return actions, logprobs


def sample_inputs(n, a, seed, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, a, generator=g), torch.rand(n, a, generator=g)


def check_sample(logits, uniform, **blocks):
    actions, logprobs = sample_logits(logits.to(DEVICE), uniform.to(DEVICE), **blocks)
    assert actions.dtype == torch.int64 and logprobs.dtype == torch.float32
    ref_actions, ref_logprobs = sample_reference(logits, uniform)
    assert torch.equal(actions.cpu(), ref_actions)
    torch.testing.assert_close(logprobs.cpu(), ref_logprobs, **TOL)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_sample_matches_torch_gumbel_max(shape):
    check_sample(*sample_inputs(*shape, seed=shape[0] + 7 * shape[1]))


@pytest.mark.parametrize(
    ("shape", "block_rows", "block_cols"), [((7, 13), 2, 4), ((3, 700), 2, 64)]
)
def test_sample_column_chunks_and_edge_rows(shape, block_rows, block_cols):
    # Chunked columns exercise the online logsumexp and the cross-chunk argmax.
    check_sample(
        *sample_inputs(*shape, seed=11, scale=10.0), block_rows=block_rows, block_cols=block_cols
    )


def test_sample_never_picks_masked_actions():
    logits, uniform = sample_inputs(64, 9, seed=2)
    logits[:, ::2] = float("-inf")  # action masking by -inf logits, a whole chunk included
    actions, _ = sample_logits(logits.to(DEVICE), uniform.to(DEVICE), block_cols=2)
    assert (actions.cpu() % 2 == 1).all()
    check_sample(logits, uniform, block_cols=2)


def test_sample_frequencies_follow_softmax():
    # Gumbel-max's point: with fresh noise per row, actions are draws from softmax(logits).
    n = 20000
    probs = torch.tensor([0.05, 0.1, 0.15, 0.3, 0.4])
    logits = probs.log().expand(n, -1).contiguous()
    uniform = torch.rand(n, 5, generator=torch.Generator().manual_seed(0))
    actions, logprobs = sample_logits(logits.to(DEVICE), uniform.to(DEVICE))
    freq = torch.bincount(actions.cpu(), minlength=5).float() / n
    sigma = (probs * (1 - probs) / n).sqrt()
    assert ((freq - probs).abs() < 5 * sigma).all(), (freq, probs)
    torch.testing.assert_close(logprobs.cpu(), probs.log()[actions.cpu()], **TOL)


def test_sample_bad_inputs():
    logits = torch.zeros(4, 3, device=DEVICE)
    with pytest.raises(ValueError, match=r"uniform must have shape \(4, 3\), got \(4, 2\)"):
        sample_logits(logits, torch.rand(4, 2, device=DEVICE))
    with pytest.raises(TypeError, match="logits must be float32, got float16"):
        sample_logits(logits.half(), torch.rand(4, 3, device=DEVICE))
    with pytest.raises(ValueError, match="at least one action"):
        sample_logits(torch.zeros(4, 0, device=DEVICE), torch.zeros(4, 0, device=DEVICE))
    with pytest.raises(ValueError, match="block_cols must be a positive power of two"):
        sample_logits(logits, torch.rand(4, 3, device=DEVICE), block_cols=6)
    actions, logprobs = sample_logits(
        torch.zeros(0, 3, device=DEVICE), torch.zeros(0, 3, device=DEVICE)
    )
    assert actions.shape == logprobs.shape == (0,)


# --- prioritized segment weights ----------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0, 2.5])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_priority_matches_reference(shape, alpha):
    adv = advantage_run_like(*shape, seed=shape[0] + shape[1])
    weights = priority_weights(adv.to(DEVICE), alpha)
    torch.testing.assert_close(weights.cpu(), adv.abs().sum(1).pow(alpha), **TOL)


def advantage_run_like(n, t, seed):
    # Real advantages, so the weights see the magnitudes the trainer would feed them.
    inputs = advantage_inputs(n, t, seed)
    return advantage_reference(*inputs, 0.99, 0.95, 1.0, 1.0)


@pytest.mark.parametrize("alpha", [0.0, 0.6, -0.5])
def test_priority_zero_rows_follow_torch_pow(alpha):
    # 0 ** alpha is 1, 0 or inf; exp(alpha * log 0) would give NaN for alpha 0.
    adv = advantage_run_like(6, 10, seed=4)
    adv[1] = 0.0
    adv[4] = 0.0
    out = torch.full((6,), float("nan"), device=DEVICE)
    result = priority_weights(adv.to(DEVICE), alpha, out, block_rows=2, block_cols=4)
    assert result is out
    torch.testing.assert_close(out.cpu(), adv.abs().sum(1).pow(alpha), **TOL)


def test_priority_bad_inputs():
    adv = torch.zeros(4, 5, device=DEVICE)
    with pytest.raises(ValueError, match=r"out must have shape \(4,\), got \(4, 1\)"):
        priority_weights(adv, 0.6, torch.zeros(4, 1, device=DEVICE))
    with pytest.raises(TypeError, match="advantages must be float32, got int64"):
        priority_weights(torch.zeros(4, 5, dtype=torch.int64, device=DEVICE), 0.6)
    with pytest.raises(TypeError, match="alpha must be a real number, got str"):
        priority_weights(adv, "0.6")


# --- the package --------------------------------------------------------------------------


def test_available_and_lazy_exports():
    assert cuda.available()
    assert cuda.puff_advantage is puff_advantage
    assert cuda.sample_logits is sample_logits
    assert cuda.priority_weights is priority_weights
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = cuda.nope


def test_package_import_is_light_and_at_the_bottom():
    # Importing workbench.cuda adds no triton and no other workbench module to a fresh process.
    code = (
        "import sys, workbench; before = set(sys.modules); import workbench.cuda; "
        "print(sorted(set(sys.modules) - before))"
    )
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    new = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert ast.literal_eval(new) == ["workbench.cuda"]
    # The kernel modules import only torch, triton and their own package.
    for path in Path(cuda.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workbench"):
                assert node.module.startswith("workbench.cuda"), (path.name, node.module)

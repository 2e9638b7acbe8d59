"""CUDA graphs (``cuda_graphs``) on the CPU: the fallback says why and trains like eager; the
graphed calls are the trainer's own functions; the static-buffer plumbing (copies in,
replays, outputs read in place, the capture's warm-up undone) trains exactly like eager,
run with a stand-in capture that calls the function again where a GPU would replay it.
Native capture is exercised by ``python -m workbench bench gpu`` on a GPU."""

import ast
import inspect
import warnings

import pytest
import torch

from workbench.ppo import graphs
from workbench.ppo.config import make_config
from workbench.ppo.trainer import Trainer


def trainer(env="breakout", device_path=True, **kw):
    base = dict(num_envs=32, bptt_horizon=16, minibatch_size=128, total_steps=10**6, seed=5)
    t = Trainer(make_config(env, **{**base, **kw}))
    if device_path:  # sample in torch, as on a GPU, not in the CPU's C kernel
        t._host_sample = None
    return t


def core(row):  # a metric row without wall-clock figures
    return {k: v for k, v in row.items() if not k.startswith("timing/") and k != "sps"}


def params(t):
    return torch.cat([p.detach().flatten() for p in t.policy.parameters()])


def assert_same_training(a, b, epochs=3):
    for _ in range(epochs):
        assert core(a.train_epoch()) == core(b.train_epoch())
    assert torch.equal(params(a), params(b))
    for name in ("obs", "actions", "logprobs", "values", "advantages"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


class CountingCapture:
    """``graphs.rerun_capture``, counting captures; optionally refusing them like CUDA."""

    def __init__(self, fail=False):
        self.calls, self.fail = [], fail

    def __call__(self, fn, pool=None):
        self.calls.append(fn)
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        return graphs.rerun_capture(fn, pool)


def test_requested_on_a_cpu_falls_back_saying_why_and_trains_like_eager():
    with pytest.warns(RuntimeWarning) as caught:
        graphed = trainer(cuda_graphs=True, rnn=False)
    messages = [str(w.message) for w in caught]
    assert messages == [
        "cuda_graphs: the rollout runs eagerly: needs a CUDA device, got device='cpu'",
        "cuda_graphs: the update runs eagerly: needs a CUDA device, got device='cpu'",
    ]
    assert assert_same_training(graphed, trainer(rnn=False)) is None


def test_off_by_default_and_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = trainer()
    assert t.cfg.cuda_graphs is False
    assert set(t.graphs.reasons.values()) == {"cuda_graphs is off"}


def test_graphs_replay_the_functions_the_eager_path_calls(monkeypatch):
    calls = []
    for name in ("sample_step", "minibatch_grads", "apply_grads"):
        original = getattr(Trainer, name)

        def spy(self, *args, _name=name, _original=original):
            calls.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(Trainer, name, spy)
    t = trainer(rnn=False, update_epochs=2)
    g = t.graphs
    assert (g.step_fn, g.grads_fn, g.apply_fn) == (t.sample_step, t.minibatch_grads, t.apply_grads)
    t.train_epoch()
    updates = 2 * 32 * 16 // 128
    assert calls.count("sample_step") == 16
    assert calls.count("minibatch_grads") == calls.count("apply_grads") == updates
    # What a capture records is a call of the same function, not a copy of its math.
    capture = CountingCapture()
    t.graphs = graphs.CudaGraphs(t, capture=capture)
    calls.clear()
    t.train_epoch()
    for fn in capture.calls:
        calls.clear()
        fn()
        assert calls in (["sample_step"], ["minibatch_grads"], ["apply_grads"])


def test_the_graph_module_holds_no_math_of_its_own():
    tree = ast.parse(inspect.getsource(graphs))
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    math = {
        "ppo_loss",
        "discrete_ppo_loss",
        "forward_sequence",
        "sample_categorical",
        "clip_grad_norm",
        "backward",
        "encoder",
        "lstm",
        "cell",
    }
    assert names & math == set()


@pytest.mark.parametrize(
    "kw",
    [
        dict(rnn=False),
        dict(rnn=False, double_buffer=True, env_threads=1),
        dict(rnn=False, optimizer="adam", bf16=True, max_minibatch_size=64),
    ],
    ids=["mlp", "double-buffer", "adam-bf16-micro"],
)
def test_static_buffer_replays_train_exactly_like_eager(kw):
    graphed, eager = trainer(**kw), trainer(**kw)
    capture = CountingCapture()
    graphed.graphs = graphs.CudaGraphs(graphed, capture=capture)
    assert graphed.graphs.reasons == {"rollout": None, "update": None}
    assert_same_training(graphed, eager)
    steps = 2 if kw.get("double_buffer") else 1  # a graph per block of rows
    assert len(capture.calls) == steps + 2  # and the update's gradients and step
    assert graphed.graphs.capture_seconds > 0
    # Adam was capturable for its capture only: checkpoints keep the optimizer as built.
    groups = [g for opt in graphed.optimizers for g in opt.param_groups if "capturable" in g]
    assert groups and not any(g["capturable"] for g in groups)


def test_the_lstm_graphs_its_rollout_step_and_updates_eagerly_saying_why():
    graphed, eager = trainer(rnn=True, env="memory"), trainer(rnn=True, env="memory")
    capture = CountingCapture()
    graphed.graphs = graphs.CudaGraphs(graphed, capture=capture)
    assert graphed.graphs.reasons["rollout"] is None
    assert "dynamic shapes" in graphed.graphs.reasons["update"]
    assert_same_training(graphed, eager)
    assert len(capture.calls) == 1


def test_a_refused_capture_runs_eagerly_saying_why_with_the_warm_up_undone():
    graphed, eager = trainer(rnn=False), trainer(rnn=False)
    graphed.graphs = graphs.CudaGraphs(graphed, capture=CountingCapture(fail=True))
    with pytest.warns(RuntimeWarning, match="runs eagerly: capture failed: RuntimeError"):
        assert_same_training(graphed, eager)
    assert all(r.startswith("capture failed") for r in graphed.graphs.reasons.values())


@pytest.mark.parametrize(
    ("kw", "what", "pattern"),
    [
        (dict(compile_rollout=True), "rollout", "compile_rollout"),
        (dict(rnn=True), "update", "pieces between episode starts"),
        (dict(anneal_lr=True), "update", "freeze the learning rate"),
    ],
)
def test_why_not_names_each_reason(kw, what, pattern):
    cfg = make_config("breakout", **{"rnn": False, **kw}).replace(cuda_graphs=True, device="cuda")
    reasons = graphs.why_not(cfg, recurrent=cfg.rnn)
    assert pattern in reasons[what]
    assert [k for k, v in reasons.items() if v] == [what]

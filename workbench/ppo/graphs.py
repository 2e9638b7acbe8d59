"""CUDA graphs for the trainer's two hot calls (``TrainConfig.cuda_graphs``).

A graph records the kernels of one call on fixed ("static") tensors once, then replays
them with a single launch: the rollout step's policy forward and sampling (one graph per
block of agent rows: all of them, or each half with double buffering), and one minibatch's
update as two graphs, the gradients (forward, loss, backward of every micro-batch) and
the step (gradient clip, optimizer step), with the one designed read between them: the
NaN flag that stops a bad loss before it reaches the weights.

The graphs replay the trainer's own functions (``Trainer.sample_step``,
``Trainer.minibatch_grads``, ``Trainer.apply_grads``): the math exists once, and the eager
path calls the same functions. Where a graph cannot be captured the call runs eagerly and
a warning says why (:func:`why_not`): not a CUDA device, a compiled rollout step, the
LSTM's update (its pieces between episode starts change every epoch), an annealed
learning rate (a graph freezes the number it was captured with), or a failed capture.

``capture`` is the one CUDA-specific piece, so tests pass :func:`rerun_capture` to run
the static-buffer plumbing (copies in, replays, outputs read in place, the warm-up undone)
on the CPU.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable

import torch

WARMUP = 2  # eager calls before a capture: lazy state (optimizer moments, cuBLAS) exists


def why_not(cfg, recurrent: bool) -> dict[str, str | None]:
    """Why each graph ("rollout", "update") cannot be used with ``cfg``; None where it can."""
    reasons: dict[str, str | None] = {"rollout": None, "update": None}
    if not cfg.cuda_graphs:
        return {k: "cuda_graphs is off" for k in reasons}
    if not cfg.device.startswith("cuda"):
        return {k: f"needs a CUDA device, got device={cfg.device!r}" for k in reasons}
    if cfg.compile_rollout:
        reasons["rollout"] = "compile_rollout is on: the compiled step is not captured"
    if recurrent:
        reasons["update"] = (
            "the LSTM's update runs in pieces between episode starts, which change every "
            "epoch (dynamic shapes)"
        )
    elif cfg.anneal_lr:
        reasons["update"] = "anneal_lr: a graph would freeze the learning rate it was captured with"
    return reasons


def cuda_capture(fn: Callable, pool=None) -> tuple[Callable[[], None], object]:
    """(replay, outputs): ``fn()`` recorded as a CUDA graph; each ``replay()`` rewrites
    ``outputs`` in place."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, pool=pool):
        outputs = fn()
    return graph.replay, outputs


def rerun_capture(fn: Callable, pool=None) -> tuple[Callable[[], None], object]:
    """The CPU stand-in for :func:`cuda_capture` (tests): each replay calls ``fn()`` again
    and copies its results into the first call's outputs, as a graph writes in place."""
    outputs = fn()

    def replay():
        for out, new in zip(_tensors(outputs), _tensors(fn()), strict=True):
            out.copy_(new)

    return replay, outputs


def _tensors(tree) -> list[torch.Tensor]:
    """The tensors of a nest of tuples and lists, in order (None and numbers skipped)."""
    if isinstance(tree, torch.Tensor):
        return [tree]
    if isinstance(tree, (tuple, list)):
        return [t for item in tree for t in _tensors(item)]
    return []


def _static(tree):
    """A copy of ``tree`` with every tensor cloned: the graph's own input buffers."""
    if isinstance(tree, torch.Tensor):
        return tree.clone()
    if isinstance(tree, (tuple, list)):
        return type(tree)(_static(item) for item in tree)
    return tree


class _Quiet:
    """A phase timer that records nothing: no CUDA event inside a capture or its warm-up."""

    def lap(self, key: str) -> None:
        pass


class CudaGraphs:
    """The trainer's graphed calls, captured on first use; eager where :func:`why_not`
    (or a failed capture) says so. ``reasons`` holds why, ``capture_seconds`` the time
    spent warming up and capturing."""

    def __init__(self, trainer, capture: Callable | None = None):
        self.trainer = trainer
        self.step_fn = trainer.sample_step
        self.grads_fn = trainer.minibatch_grads
        self.apply_fn = trainer.apply_grads
        if capture is None:
            self.reasons = why_not(trainer.cfg, trainer.policy.recurrent)
            self.capture = cuda_capture
        else:  # a stand-in capture: the plumbing runs wherever the trainer does
            self.reasons = why_not(
                trainer.cfg.replace(cuda_graphs=True, device="cuda"), trainer.policy.recurrent
            )
            self.capture = capture
        if trainer.cfg.cuda_graphs:
            for what, reason in self.reasons.items():
                if reason is not None:
                    warnings.warn(
                        f"cuda_graphs: the {what} runs eagerly: {reason}", RuntimeWarning, 2
                    )
        self.capture_seconds = 0.0
        self._steps: dict[tuple, tuple] = {}
        self._update: tuple | None = None

    # -- the rollout step --
    def act(self, rows: slice, obs, state, noise):
        """``sample_step(obs, state, noise)`` -> (action, logp, value, state), replayed.

        The outputs are the graph's: valid until this block of rows steps again."""
        if self.reasons["rollout"] is not None:
            return self.step_fn(obs, state, noise)
        key = (rows.start, rows.stop)
        entry = self._steps.get(key)
        if entry is None:
            entry = self._capture_step(key, obs, state, noise)
            if entry is None:
                return self.step_fn(obs, state, noise)
        inputs, replay, outputs = entry
        for dst, src in zip(_tensors(inputs), _tensors((obs, state, noise)), strict=True):
            dst.copy_(src)
        replay()
        return outputs

    def _capture_step(self, key, obs, state, noise):
        inputs = _static((obs, state, noise))
        captured = self._capture("rollout", lambda: self.step_fn(*inputs))
        if captured is None:
            return None
        self._steps[key] = (inputs, *captured)
        return self._steps[key]

    # -- the minibatch update --
    def grads(self, idx, adv, ret, cuts):
        """``minibatch_grads(idx, adv, ret, cuts)`` -> (loss, statistics), replayed.

        Captured the first time with the weights and optimizer state the warm-up changed
        put back, so the first replay trains exactly as the eager call would have."""
        if self.reasons["update"] is not None:
            return self.grads_fn(idx, adv, ret, cuts)
        if self._update is None and not self._capture_update(idx, adv, ret, cuts):
            return self.grads_fn(idx, adv, ret, cuts)
        inputs, replay_grads, outputs, _ = self._update
        for dst, src in zip(inputs, (idx, adv, ret), strict=True):
            dst.copy_(src)
        replay_grads()
        return outputs

    def apply(self) -> None:
        """``apply_grads()``: clip and optimizer step, replayed after :meth:`grads`."""
        if self._update is None:
            self.apply_fn()
        else:
            self._update[3]()

    def _capture_update(self, idx, adv, ret, cuts) -> bool:
        t = self.trainer
        inputs = _static((idx, adv, ret))
        saved = _snapshot(t.policy, t.optimizers)
        start = time.perf_counter()
        try:
            with self._quiet(), _side_stream(t.device):
                for _ in range(WARMUP):
                    self.grads_fn(*inputs, cuts)
                    self.apply_fn()
            pool = torch.cuda.graph_pool_handle() if self.capture is cuda_capture else None
            with self._quiet(), _capturable(t.optimizers):
                replay_grads, outputs = self.capture(lambda: self.grads_fn(*inputs, cuts), pool)
                replay_step, _ = self.capture(self.apply_fn, pool)
            # After the captures (a CUDA capture runs nothing; a stand-in runs each call).
            _restore(saved, t.policy, t.optimizers)
        except RuntimeError as e:  # capture refused: put the weights back, run eagerly
            _restore(saved, t.policy, t.optimizers)
            self._give_up("update", e)
            return False
        finally:
            self.capture_seconds += time.perf_counter() - start
        self._update = (inputs, replay_grads, outputs, replay_step)
        return True

    # -- shared --
    def _capture(self, what: str, fn: Callable):
        start = time.perf_counter()
        try:
            with self._quiet():
                with _side_stream(self.trainer.device):
                    for _ in range(WARMUP):
                        fn()
                return self.capture(fn)
        except RuntimeError as e:
            self._give_up(what, e)
            return None
        finally:
            self.capture_seconds += time.perf_counter() - start

    def _give_up(self, what: str, error: Exception) -> None:
        self.reasons[what] = f"capture failed: {type(error).__name__}: {error}"
        warnings.warn(
            f"cuda_graphs: the {what} runs eagerly: {self.reasons[what]}", RuntimeWarning, 3
        )

    @contextlib.contextmanager
    def _quiet(self):
        t = self.trainer
        timer, t.timer = t.timer, _Quiet()
        try:
            yield
        finally:
            t.timer = timer


@contextlib.contextmanager
def _side_stream(device: torch.device):
    """Warm-ups before a capture run on a side stream, as torch's graph docs require."""
    if device.type != "cuda":
        yield
        return
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        yield
    torch.cuda.current_stream(device).wait_stream(stream)


@contextlib.contextmanager
def _capturable(optimizers):
    """Adam's ``capturable`` on while its step is captured (torch refuses a capture
    without it), then back as it was: replays never read it, and a checkpoint keeps the
    optimizer as configured (a capturable Adam refuses to step on a CPU)."""
    flags = [(g, g["capturable"]) for o in optimizers for g in o.param_groups if "capturable" in g]
    for group, _ in flags:
        group["capturable"] = True
    try:
        yield
    finally:
        for group, flag in flags:
            group["capturable"] = flag


def _snapshot(policy, optimizers) -> tuple:
    params = [p.detach().clone() for p in policy.parameters()]
    states = [
        {p: {k: v.clone() for k, v in s.items() if torch.is_tensor(v)} for p, s in o.state.items()}
        for o in optimizers
    ]
    return params, states


@torch.no_grad()
def _restore(saved, policy, optimizers) -> None:
    """Weights and optimizer state back to ``saved``, in place (a graph keeps pointers
    to these tensors); state the warm-up created starts from zero, as a first step's does."""
    params, states = saved
    for p, old in zip(policy.parameters(), params, strict=True):
        p.copy_(old)
    for opt, before in zip(optimizers, states, strict=True):
        for p, state in opt.state.items():
            for k, v in state.items():
                old = before.get(p, {}).get(k)
                if old is not None:
                    v.copy_(old)
                elif torch.is_tensor(v):
                    v.zero_()

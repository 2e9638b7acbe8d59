"""The Ray executor: trials as Ray actors on a local or remote Ray cluster.

``ray.init()`` starts a local cluster by default; ``address=`` (or ``$RAY_ADDRESS``) joins
an existing one. Each trial slot is an actor declaring its resources (``num_cpus``,
``num_gpus``): Ray's scheduler places it on a node with room and sets
``CUDA_VISIBLE_DEVICES`` for the GPUs it assigns. Rows stream back through a Ray queue to
the driver, which writes them to its own store (no shared filesystem), and the checkpoint
comes back with the result. A trial whose actor or node dies is recorded as failed with
the reason, and a new actor takes the slot. Ray is an optional dependency
(``pip install 'workbench[ray]'``), imported only here.
"""

from __future__ import annotations

import os
import queue

from workbench.sweep.executors import Trial
from workbench.sweep.executors.worker import Mirror, TrialRunner


def import_ray():
    try:
        import ray
        from ray.util.queue import Queue  # noqa: F401 - the part we need, checked now
    except ImportError:
        raise ImportError(
            "the 'ray' executor needs Ray: pip install 'workbench[ray]' (or pip install ray)"
        ) from None
    return ray


class _TrialActor:
    """Runs one trial at a time; ``stop`` may arrive while ``run`` is busy (2 threads)."""

    def __init__(self, results, threads: int):
        from workbench.runtime import keep_freed_memory

        if threads:
            import torch

            torch.set_num_threads(threads)
        keep_freed_memory()  # the actor owns its process
        self.results = results
        self.runner = TrialRunner()

    def run(self, trial: Trial) -> int:
        self.runner.run(trial, self.results.put)
        return trial.index

    def stop(self, index: int, status: str, reason: str | None) -> None:
        self.runner.stop(index, status, reason)

    def where(self) -> dict:
        import socket

        return {"pid": os.getpid(), "host": socket.gethostname()}


class RayExecutor:
    def __init__(
        self,
        store,
        workers: int = 2,
        address: str | None = None,
        num_cpus: float = 1,
        num_gpus: float = 0,
        init_kwargs: dict | None = None,
    ):
        ray = import_ray()
        from ray.util.queue import Queue

        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.ray = ray
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            address = address or os.environ.get("RAY_ADDRESS")
            ray.init(address=address, log_to_driver=False, **(init_kwargs or {}))
        self.store = store
        self.slots = workers
        # The rows' queue is an actor: keep it on the driver's own node, so that losing a
        # worker node (where Ray might otherwise have placed it) loses only that node's trial
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.results = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})
        self.actor_class = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_concurrency=2)(
            _TrialActor
        )
        self.threads = max(1, int(num_cpus))
        self.mirror = Mirror(store)
        self.workers = [self._start() for _ in range(workers)]

    def _start(self) -> dict:
        actor = self.actor_class.remote(self.results, self.threads)
        return {"actor": actor, "trial": None, "ref": None}

    def submit(self, trial: Trial, on_row, on_done) -> None:
        worker = next(w for w in self.workers if w["trial"] is None)
        worker["trial"] = trial.index
        self.mirror.track(trial, on_row, on_done)
        worker["ref"] = worker["actor"].run.remote(trial)

    def stop(self, trial: Trial, status: str, reason: str | None) -> None:
        for w in self.workers:
            if w["trial"] == trial.index:
                w["actor"].stop.remote(trial.index, status, reason)

    def wait(self, timeout: float) -> None:
        try:
            messages = [self.results.get(timeout=timeout)]
            messages += self.results.get_nowait_batch(self.results.qsize())
        except (queue.Empty, self.ray.util.queue.Empty):
            messages = []
        for message in messages:
            self._deliver(message)
        self._check_workers()

    def _deliver(self, message) -> None:
        index = message[1]
        if message[0] == "done":
            for w in self.workers:
                if w["trial"] == index:
                    w["trial"], w["ref"] = None, None
        request = self.mirror.handle(message)
        if request is not None:  # asked through the driver's store
            trial = self.mirror.trials.get(index)
            if trial is not None:
                self.stop(trial, *request)

    def _check_workers(self) -> None:
        refs = [w["ref"] for w in self.workers if w["ref"] is not None]
        if not refs:
            return
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in ready:
            try:
                self.ray.get(ref)
                continue  # finished normally: its "done" message is on the queue
            except self.ray.exceptions.RayError as e:
                why = f"ray actor or node lost: {type(e).__name__}: {str(e).splitlines()[0]}"
            for i, w in enumerate(self.workers):
                if w["ref"] is ref:
                    self._drain()
                    if w["trial"] is not None:
                        self.mirror.lost(w["trial"], why)
                    self.workers[i] = self._start()

    def _drain(self) -> None:
        while self.results.qsize():
            self._deliver(self.results.get_nowait())

    def close(self) -> None:
        for w in self.workers:
            self.ray.kill(w["actor"])
        self.results.shutdown()
        if self.started_ray:
            self.ray.shutdown()

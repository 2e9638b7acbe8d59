"""The processes executor: N trials at once in worker processes on this machine.

Each worker is a spawned process that runs one trial at a time with its own torch thread
count (the machine's cores divided among the workers) or its own GPU
(``CUDA_VISIBLE_DEVICES``). Trials stream their rows back (see ``worker``); the driver
writes them to its store. A worker that dies (kill -9, out of memory) fails its trial with
the reason, and a new worker takes its slot.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import threading
import time

from workbench.sweep.executors import Trial
from workbench.sweep.executors.worker import Mirror, TrialRunner


def _worker_main(tasks, results, threads: int, gpu: str | None) -> None:
    # A worker owns its process: it sets the device and thread count before torch loads,
    # and leaves Ctrl-C to the driver, which stops its trials and records them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    import torch

    from workbench.runtime import keep_freed_memory

    if threads:
        torch.set_num_threads(threads)
    keep_freed_memory()  # the worker owns its process
    runner = TrialRunner()
    work: queue.Queue = queue.Queue()

    def terminate(signum, frame):  # SIGTERM: stop the trial (recorded as stopped), then quit
        runner.stop_all(signal.Signals(signum).name)
        work.put(("quit",))

    signal.signal(signal.SIGTERM, terminate)

    def listen():  # stops arrive while a trial runs
        while True:
            message = tasks.get()
            if message[0] == "stop":
                runner.stop(*message[1:])
            else:
                work.put(message)
                if message[0] == "quit":
                    return

    def orphaned():  # a driver killed with -9 takes its workers with it
        parent = os.getppid()
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=listen, daemon=True).start()
    threading.Thread(target=orphaned, daemon=True).start()
    while True:
        message = work.get()
        if message[0] == "quit":
            return
        runner.run(message[1], results.put)


class ProcessExecutor:
    def __init__(self, store, workers: int = 2, threads: int | None = None, gpus=None):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.store = store
        self.slots = workers
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self.threads = threads if threads is not None else max(1, (cores or 1) // workers)
        if gpus is None and os.environ.get("CUDA_VISIBLE_DEVICES"):
            gpus = os.environ["CUDA_VISIBLE_DEVICES"].split(",")
        self.gpus = list(gpus) if gpus else None
        self.ctx = mp.get_context("spawn")
        self.results = self.ctx.Queue()
        self.mirror = Mirror(store)
        self.silent_deaths = 0
        self.workers: list[dict] = [self._start(slot) for slot in range(workers)]

    def _start(self, slot: int) -> dict:
        tasks = self.ctx.Queue()
        gpu = self.gpus[slot % len(self.gpus)] if self.gpus else None
        proc = self.ctx.Process(
            target=_worker_main,
            args=(tasks, self.results, self.threads, gpu),
            name=f"workbench-sweep-worker-{slot}",
            daemon=True,
        )
        proc.start()
        return {"slot": slot, "proc": proc, "tasks": tasks, "trial": None, "spoke": False}

    def submit(self, trial: Trial, on_row, on_done) -> None:
        worker = next(w for w in self.workers if w["trial"] is None)
        worker["trial"] = trial.index
        self.mirror.track(trial, on_row, on_done)
        worker["tasks"].put(("run", trial))

    def stop(self, trial: Trial, status: str, reason: str | None) -> None:
        for w in self.workers:
            if w["trial"] == trial.index:
                w["tasks"].put(("stop", trial.index, status, reason))

    def wait(self, timeout: float) -> None:
        try:
            message = self.results.get(timeout=timeout)
        except queue.Empty:
            message = None
        while message is not None:
            self._deliver(message)
            try:
                message = self.results.get_nowait()
            except queue.Empty:
                message = None
        self._check_workers()

    def _deliver(self, message) -> None:
        index = message[1]
        for w in self.workers:
            if w["trial"] == index:
                w["spoke"] = True
                if message[0] == "done":
                    w["trial"] = None
        request = self.mirror.handle(message)
        if request is not None:  # asked through the driver's store (another process)
            trial = self.mirror.trials.get(index)
            if trial is not None:
                self.stop(trial, *request)

    def _check_workers(self) -> None:
        for i, w in enumerate(self.workers):
            proc = w["proc"]
            if proc.is_alive():
                continue
            # Drain what it sent before dying, then fail its trial and refill the slot.
            try:
                while True:
                    self._deliver(self.results.get_nowait())
            except queue.Empty:
                pass
            if not w["spoke"]:
                self.silent_deaths += 1
                if self.silent_deaths >= 3:
                    raise RuntimeError(
                        f"sweep worker processes keep dying before running a trial (exit code "
                        f"{proc.exitcode}); in a script, start the sweep under "
                        "`if __name__ == '__main__':` (workers are spawned, which re-imports "
                        "the main module)"
                    )
            if w["trial"] is not None:
                self.mirror.lost(
                    w["trial"], f"worker process {proc.pid} died (exit code {proc.exitcode})"
                )
            self.workers[i] = self._start(w["slot"])

    def close(self) -> None:
        for w in self.workers:
            if w["proc"].is_alive():
                w["tasks"].put(("quit",))
        for w in self.workers:
            w["proc"].join(timeout=10)
            if w["proc"].is_alive():
                w["proc"].kill()
                w["proc"].join(timeout=5)

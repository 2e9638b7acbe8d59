"""The public API: ``train()`` (blocking) and ``launch()`` (background thread).

Both record the run in the store: every metric row as it is produced, and a final status
(finished, stopped or failed with its error) with a checkpoint, whatever ends the run.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench import metrics as M
from workbench.exits import EXIT_REASON, StopAtExit
from workbench.ppo.checkpoint import load_checkpoint
from workbench.ppo.config import TrainConfig, make_config
from workbench.ppo.episodes import evaluate
from workbench.ppo.trainer import Trainer
from workbench.store import RunStore

#: ``on_log(run_id, row)``: called on the training thread with each metric row (or a list
#: of such callbacks, e.g. ``workbench.sinks`` writers).
OnLog = Callable[[str, dict], None] | list


@dataclass
class Run:
    """A finished (or stopped, pruned or failed) run: its record, curve and trained policy."""

    id: str
    config: TrainConfig
    status: str
    summary: dict
    store: RunStore
    checkpoint: str | None = None
    error: str | None = None
    policy: object = field(default=None, repr=False)
    reason: str | None = None
    cause: str | None = None  # whose doing its end was (``workbench.store.CAUSES``)

    @property
    def score(self):
        """The final score (the evaluation's when there is one, see ``metrics.final``)."""
        return M.final(self.summary, M.SCORE)

    def curve(self) -> pd.DataFrame:
        return self.store.curve(self.id)

    def _repr_html_(self) -> str:
        s = self.summary
        return _card(
            self.id,
            self.config.env,
            self.status,
            s.get(M.AGENT_STEPS, 0),
            s.get(M.WALL_TIME),
            self.score,
            self.error or self.reason,
        )


class RunHandle:
    """A run training in a background thread: ``stop()``, ``prune()``, ``wait()``,
    ``status``, ``latest()``. It exists, with its run id, before the thread starts."""

    def __init__(
        self,
        run_id: str,
        config: TrainConfig,
        store: RunStore,
        on_log: OnLog | None = None,
        resume: str | None = None,
        trust_checkpoint: bool = False,
    ):
        self.run_id = run_id
        self.config = config
        self.store = store
        self._on_log = on_log
        self._resume = resume
        self._trust = trust_checkpoint
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._started = False
        self._claim_lock = threading.Lock()
        self._request: tuple[str, str | None, str | None] = ("stopped", None, None)
        self._latest: dict | None = None
        self._status = "running"
        self._run: Run | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self._trainer = None

    @property
    def policy(self):
        """The live policy (shared with the training thread: copy it before long use)."""
        return self._trainer.policy if self._trainer is not None else None

    @property
    def status(self) -> str:
        return self._status

    def latest(self) -> dict | None:
        """The newest metric row, or None before the first epoch ends."""
        return self._latest

    # -- doors for the training loop (``_execute``), which owns what they set --
    @property
    def stop_event(self) -> threading.Event:
        """Set when a stop or prune is asked; the trainer polls it at every env step."""
        return self._stop

    def requested(self) -> tuple[str, str | None, str | None]:
        """(status, reason, cause) the run ends with when stopped through this handle."""
        return self._request

    def attach(self, trainer) -> None:
        """The trainer is built: its policy becomes ``handle.policy``."""
        self._trainer = trainer

    def post(self, row: dict) -> None:
        """A metric row was recorded: it becomes ``latest()``."""
        self._latest = row

    def ended(self, run: Run) -> None:
        """The run is recorded as ended: ``status`` and ``wait()`` give it."""
        self._status = run.status
        self._run = run

    def stop(self, reason: str | None = None, cause: str | None = None) -> None:
        """Ask the run to stop at the next env step; it is recorded as stopped (with
        ``cause``, one of ``workbench.store.CAUSES``, when the stop is not the user's)."""
        self._request = ("stopped", reason, cause)
        self._stop.set()

    def prune(self, reason: str) -> None:
        """End the run early as ``pruned`` (early stopping), keeping its curve and why."""
        self._request = ("pruned", reason, None)
        self._stop.set()

    def run(self) -> Run:
        """Train in the calling thread (a handle from ``launch(start=False)``): a breakpoint
        in a callback or an env stops here. Returns the Run; exceptions propagate."""
        self._claim()
        return self._train()

    def _train(self) -> Run:
        return _execute(
            self.config,
            self.store,
            self.run_id,
            on_log=self._on_log,
            resume=self._resume,
            handle=self,
            trust_checkpoint=self._trust,
        )

    def start(self) -> RunHandle:
        """Train in a background thread; returns the handle at once."""

        def target():
            try:
                self._train()
            except BaseException as e:  # recorded in the store and on the handle
                self.error = e
            finally:
                self._ended.set()

        self._claim()
        self.thread = threading.Thread(target=target, name=f"workbench-{self.run_id}", daemon=True)
        stop_running_runs.add(self)
        self.thread.start()
        return self

    def _claim(self) -> None:
        with self._claim_lock:
            if self._started:
                raise RuntimeError(f"run {self.run_id} has already started")
            self._started = True

    def wait(self, timeout: float | None = None) -> Run | None:
        """Block until the run ends (or ``timeout`` seconds); returns the Run when ended."""
        # An Event, not Thread.join: a join interrupted by Ctrl-C can return early afterwards.
        if self.thread is not None:
            self._ended.wait(timeout)
        return self._run

    @property
    def done(self) -> bool:
        return self._status != "running"

    def __repr__(self) -> str:
        steps = self._latest[M.AGENT_STEPS] if self._latest else 0
        return f"RunHandle({self.run_id!r}, {self.config.env}, {self._status}, steps={steps})"

    def _repr_html_(self) -> str:
        row = self._latest or {}
        card = _card(
            self.run_id,
            self.config.env,
            self._status,
            row.get(M.AGENT_STEPS, 0),
            row.get(M.WALL_TIME),
            row.get(M.env(M.SCORE)),
            str(self.error) if self.error else None,
        )
        if self.done:
            return card
        # a repr is drawn once: say so, and where the live card is
        note = (
            "<div style='color:#666;font-size:90%'>a snapshot taken when this cell ran; "
            "for a card that updates: <code>workbench.notebook.RunCard(handle)</code></div>"
        )
        return card + note


def _card(run_id, env, status, steps, wall_time, score, error) -> str:
    """A one-line HTML summary of a run for notebooks."""
    import html

    colors = {
        "running": "#1565c0",
        "finished": "#2e7d32",
        "stopped": "#ef6c00",
        "pruned": "#6d4c41",
        "failed": "#b00020",
    }
    parts = [
        f"<b>{html.escape(env)}</b> run <code>{html.escape(run_id)}</code>",
        f"<span style='color:{colors.get(status, '#333')}'>{status}</span>",
        f"{int(steps):,} steps",
    ]
    if wall_time is not None:
        parts.append(f"{wall_time:.1f} s")
    if score is not None:
        parts.append(f"score {score:.2f}")
    if error:
        parts.append(f"<span style='color:#b00020'>{html.escape(error.splitlines()[-1])}</span>")
    return "<div>" + " &middot; ".join(parts) + "</div>"


def _open_store(store) -> RunStore:
    return store if isinstance(store, RunStore) else RunStore(store)


def _prepare(env_or_config, overrides, store, name, sweep, tags, resume=None, trust=False):
    """Check everything a run needs before anything is written; then record the run."""
    cfg = make_config(env_or_config, **overrides)
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise TypeError(f"tags must be a list of str, got {tags!r}")
    store = _open_store(store)
    checkpoint, parent = resolve_checkpoint(resume, store) if resume else (None, None)
    if checkpoint:
        load_checkpoint(checkpoint, trust=trust)  # a refused file records no run
    store.reap_dead()  # runs of this host whose process died are marked so before ours
    run_name = name or cfg.name or f"{cfg.env}-{time.strftime('%m%d-%H%M%S')}"
    run_id = store.create_run(
        run_name, cfg.env, cfg.to_dict(), sweep_id=sweep, tags=tags, resumed_from=parent
    )
    return cfg, store, run_id, checkpoint


def train(
    env_or_config: str | TrainConfig | dict | None = None,
    *,
    store=None,
    on_log: OnLog | None = None,
    resume: str | None = None,
    name: str | None = None,
    sweep: str | None = None,
    tags: tuple | list = (),
    trust_checkpoint: bool = False,
    **overrides,
) -> Run:
    """Train to ``total_steps`` and return the :class:`Run` (blocking).

    ``env_or_config``: an env name (its folder's ``env.toml`` applies), a TrainConfig or a
    dict; keyword overrides win. ``store``: a RunStore or a path (default ``$WORKBENCH_DB``
    or ``runs/workbench.db``). ``on_log(run_id, row)`` receives each metric row.
    ``resume``: a checkpoint path or run id to continue from (a file holding anything but
    tensors and plain data is refused unless ``trust_checkpoint``). ``sweep``: the id of the
    sweep this run is a trial of; ``tags``: labels to filter runs by. A stop request from
    any process (:func:`stop`) ends the run at its next epoch. Ctrl-C records the run as
    stopped, then re-raises; any other exception records it as failed, then re-raises.
    """
    cfg, store, run_id, checkpoint = _prepare(
        env_or_config, overrides, store, name, sweep, tags, resume, trust_checkpoint
    )
    return _execute(
        cfg, store, run_id, on_log=on_log, resume=checkpoint, trust_checkpoint=trust_checkpoint
    )


def launch(
    env_or_config: str | TrainConfig | dict | None = None,
    *,
    store=None,
    on_log: OnLog | None = None,
    resume: str | None = None,
    name: str | None = None,
    sweep: str | None = None,
    tags: tuple | list = (),
    start: bool = True,
    trust_checkpoint: bool = False,
    **overrides,
) -> RunHandle:
    """Start training in a background thread and return its :class:`RunHandle` at once.

    Takes what :func:`train` takes. An invalid config raises here, before anything starts.
    ``start=False`` returns the handle unstarted: ``handle.run()`` then trains in the
    calling thread, with ``handle.stop()``/``prune()`` usable from its callbacks.
    """
    cfg, store, run_id, checkpoint = _prepare(
        env_or_config, overrides, store, name, sweep, tags, resume, trust_checkpoint
    )
    handle = RunHandle(
        run_id, cfg, store, on_log=on_log, resume=checkpoint, trust_checkpoint=trust_checkpoint
    )
    return handle.start() if start else handle


def stop(run_id: str, store=None, reason: str | None = None, pruned: bool = False) -> bool:
    """Ask run ``run_id`` to end at its next epoch, from any thread or process that opens
    its store; it is recorded as stopped (or pruned) with ``reason``. False if it had
    already ended."""
    return _open_store(store).request_stop(run_id, "pruned" if pruned else "stopped", reason)


def resolve_checkpoint(ref: str, store: RunStore) -> tuple[str, str | None]:
    """(checkpoint path, run id or None) for a checkpoint file or a run named by its id, a
    unique id prefix or its name."""
    if Path(ref).is_file():
        return str(ref), None
    try:
        run_id = store.resolve(ref)
    except KeyError as e:
        raise FileNotFoundError(
            f"{ref!r} is neither a checkpoint file nor a run: {e.args[0]}"
        ) from None
    ckpt = store.run(run_id)["checkpoint"]
    if not ckpt or not Path(ckpt).exists():
        raise FileNotFoundError(f"run {run_id} has no checkpoint")
    return ckpt, run_id


def _execute(
    cfg: TrainConfig,
    store: RunStore,
    run_id: str,
    on_log: OnLog | None = None,
    resume=None,
    handle: RunHandle | None = None,
    trust_checkpoint: bool = False,
) -> Run:
    stop_event = handle.stop_event if handle else None
    callbacks = list(on_log) if isinstance(on_log, (list, tuple)) else [on_log] if on_log else []
    ckpt_path = store.path.parent / "checkpoints" / run_id / "model.pt"
    trainer = None
    status, error, reason, cause, summary, seq = "finished", None, None, None, {}, 0
    start = time.perf_counter()  # until the trainer's own clock runs
    try:
        trainer = Trainer(cfg)
        if handle is not None:
            handle.attach(trainer)
        if resume:  # a checkpoint path, checked before the run was recorded
            trainer.load(resume, trust=trust_checkpoint)
        trainer.start_clock()  # a resumed run's clock goes on from where its parent stopped
        while trainer.agent_steps < cfg.total_steps:
            row = trainer.train_epoch(stop_event)
            if row is None:  # stopped mid-rollout through the handle
                status, reason, cause = handle.requested()
                break
            row[M.WALL_TIME] = trainer.elapsed()
            request = store.log(run_id, seq, row)
            seq += 1
            M.summarize_row(summary, row)
            if handle is not None:
                handle.post(row)
            for callback in callbacks:
                callback(run_id, row)
            if cfg.checkpoint_interval and trainer.epoch % cfg.checkpoint_interval == 0:
                store.set_checkpoint(run_id, str(trainer.save(ckpt_path)))
            if stop_event is not None and stop_event.is_set():
                status, reason, cause = handle.requested()
                break
            if request is not None:  # asked through the store, maybe by another process
                status, reason = request
                break
        if status == "finished" and cfg.eval_episodes:
            result = run_eval(trainer.policy, cfg, cfg.eval_episodes, seed=cfg.seed + 1)
            summary.update({M.evaluation(k): v for k, v in result.items()})
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM/SIGHUP under runtime.stop_on_signals
        status, reason = "stopped", str(e) or "KeyboardInterrupt"
        raise
    except BaseException as e:
        status, error, cause = "failed", "".join(traceback.format_exception(e)).strip(), "config"
        raise
    finally:
        summary[M.WALL_TIME] = trainer.elapsed() if trainer else time.perf_counter() - start
        if trainer is not None:
            summary[M.AGENT_STEPS] = trainer.agent_steps
            summary[M.EPOCHS] = trainer.epoch
            try:
                store.set_checkpoint(run_id, str(trainer.save(ckpt_path)))
            except Exception as e:  # keep the original error; note this one
                error = f"{error or ''}\ncheckpoint failed: {e}".strip()
        store.finish(run_id, status, summary, error, reason, cause)
        run = Run(
            run_id,
            cfg,
            status,
            summary,
            store,
            str(ckpt_path) if trainer else None,
            error,
            trainer.policy if trainer else None,
            reason,
            cause,
        )
        if handle is not None:
            handle.ended(run)
    return run


# Runs training in background threads are stopped and recorded at interpreter exit.
stop_running_runs = StopAtExit(lambda handle: handle.stop(EXIT_REASON, cause="exit"))


def run_eval(policy, cfg: TrainConfig, episodes: int, seed: int) -> dict:
    """Evaluate on a fresh env with one copy per episode wanted (first episodes only)."""
    from workbench.envs import make

    per_copy = max(1, cfg.replace(num_envs=1).agents())
    copies = -(-episodes // per_copy)  # multi-agent copies hold several episodes each
    env = make(cfg.env, num_envs=copies, seed=seed, log_interval=1 << 30, **cfg.env_params)
    try:
        return evaluate(policy, env, seed=seed, device=cfg.device)
    finally:
        env.close()


def load_policy(checkpoint: str, device: str = "cpu", trust: bool = False):
    """Rebuild the policy stored in a checkpoint (and its config). A file holding anything
    but tensors and plain data is refused unless ``trust`` (see ``workbench.ppo.checkpoint``)."""
    from workbench.envs import make
    from workbench.ppo.policy import Policy

    ckpt = load_checkpoint(checkpoint, device, trust=trust)
    cfg = make_config(ckpt["config"])
    env = make(cfg.env, num_envs=1, **cfg.env_params)
    policy = Policy.for_env(env, cfg.hidden_size, cfg.rnn)
    policy.load_state_dict(ckpt["policy"])
    env.close()
    return policy.to(device), cfg

"""Watch an agent play, or play yourself with the agent taking over when you stop.

``FrameCanvas`` is an anywidget canvas: frames travel as raw RGB bytes in a binary
message buffer (no PNG encoding), and key presses come back as messages. ``Viewer`` runs
a policy (checkpoint, run id, or a live run's current policy) in a one-copy env at a
steady frame rate on a background thread.
"""

from __future__ import annotations

import copy
import html
import threading
import time
from pathlib import Path

import anywidget
import ipywidgets as W
import numpy as np
import torch
import traitlets

from workbench.envs import make
from workbench.envs.facts import facts

_ESM = r"""
function render({ model, el }) {
  const canvas = document.createElement("canvas");
  canvas.tabIndex = 0;
  canvas.className = "wb-canvas";
  canvas.style.imageRendering = "pixelated";
  canvas.style.outline = "1px solid #ccc";
  const ctx = canvas.getContext("2d");
  let image = null;
  let drawn = 0;
  const resize = (w, h) => {
    canvas.width = w; canvas.height = h;
    canvas.style.width = Math.round(w * model.get("scale")) + "px";
    image = ctx.createImageData(w, h);
  };
  resize(model.get("width"), model.get("height"));
  model.on("msg:custom", (msg, buffers) => {
    if (msg.type !== "frame") return;
    const w = msg.width, h = msg.height;
    if (canvas.width !== w || canvas.height !== h || !image) resize(w, h);
    const view = buffers[0];
    const rgb = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const rgba = image.data;
    for (let i = 0, j = 0, k = 0; i < w * h; i++, j += 3, k += 4) {
      rgba[k] = rgb[j]; rgba[k + 1] = rgb[j + 1]; rgba[k + 2] = rgb[j + 2]; rgba[k + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
    drawn += 1;
    if (drawn % 10 === 1) { model.set("frames_drawn", drawn); model.save_changes(); }
  });
  const held = new Set();
  canvas.addEventListener("keydown", (e) => {
    e.preventDefault();
    if (held.has(e.key)) return;
    held.add(e.key);
    model.send({ type: "key", key: e.key, down: true });
  });
  canvas.addEventListener("keyup", (e) => {
    e.preventDefault();
    held.delete(e.key);
    model.send({ type: "key", key: e.key, down: false });
  });
  el.appendChild(canvas);
}
export default { render };
"""

TAKEOVER_S = 0.3  # the agent takes over this long after the last key is released


class FrameCanvas(anywidget.AnyWidget):
    """A canvas that draws RGB uint8 frames sent as binary buffers."""

    _esm = _ESM
    width = traitlets.Int(64).tag(sync=True)
    height = traitlets.Int(64).tag(sync=True)
    scale = traitlets.Float(1.0).tag(sync=True)
    frames_drawn = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.keys_down: set[str] = set()
        self.last_key_time = 0.0
        self.on_msg(self._on_key)

    def _on_key(self, _widget, content, _buffers) -> None:
        if content.get("type") != "key":
            return
        if content["down"]:
            self.keys_down.add(content["key"])
        else:
            self.keys_down.discard(content["key"])
        self.last_key_time = time.monotonic()

    def show(self, frame: np.ndarray) -> None:
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        h, w = frame.shape[:2]
        self.send({"type": "frame", "width": w, "height": h}, buffers=[frame.tobytes()])


def _resolve_policy(source, store=None):
    """(policy, config, live_handle, where, store_dir) from a checkpoint path, run id,
    RunHandle or Run: ``where`` says, in HTML, what is played and from which store, and
    ``store_dir`` is the folder of that store (the default store's for a bare checkpoint)."""
    import os

    from workbench.ppo.run import Run, RunHandle, load_policy, resolve_checkpoint
    from workbench.store import RunStore, default_path

    def code(text) -> str:
        return f"<code>{html.escape(str(text))}</code>"

    if isinstance(source, RunHandle):
        where = f"the live policy of run {code(source.run_id)}, store {code(source.store.path)}"
        return None, source.config, source, where, source.store.path.parent
    if isinstance(source, Run):
        where = f"run {code(source.id)}, store {code(source.store.path)}"
        return source.policy, source.config, None, where, source.store.path.parent
    path = str(source)
    where, folder = f"checkpoint {code(path)}", default_path().parent
    if not os.path.exists(path):
        store = store if isinstance(store, RunStore) else RunStore(store, create=False)
        path = resolve_checkpoint(path, store)[0]
        where = f"run {code(source)}'s checkpoint {code(path)}, store {code(store.path)}"
        folder = store.path.parent
    policy, cfg = load_policy(path)
    return policy, cfg, None, where, folder


class Viewer:
    """Play a policy in a one-copy env at ``fps``; ``mode='play'`` hands you the keyboard."""

    def __init__(
        self,
        source,
        fps: float = 30.0,
        seed: int = 0,
        store=None,
        max_pixels: int = 120_000,
        scale: float | None = None,
    ):
        self.policy, self.config, self.live, where, store_dir = _resolve_policy(source, store)
        self.video_dir = Path(store_dir) / "videos"  # beside the store's checkpoints
        self.env = make(self.config.env, num_envs=1, seed=seed, **self.config.env_params)
        self.fps = fps
        self.keymap = {k: int(v) for k, v in facts(self.config.env).keymap.items()}
        h, w = self.env.frame_shape[:2]
        self.stride = max(1, int(np.ceil(np.sqrt(h * w / max_pixels))))
        self.canvas = FrameCanvas(
            width=w // self.stride,
            height=h // self.stride,
            scale=scale or (1.0 * self.stride if self.stride > 1 else 2.0),
        )
        self.mode = W.ToggleButtons(options=["watch", "play"], value="watch")
        self.start_button = W.Button(description="Start", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop")
        self.status = W.HTML()
        self.save_path = W.Text(
            placeholder=f"{self.video_dir}/{self.config.env}-<time>.gif (or .mp4)",
            layout=W.Layout(width="min(640px, 70%)"),
        )
        self.save_button = W.Button(description="Save video", icon="download")
        self.save_message = W.HTML()
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.save_button.on_click(lambda _: self._save_clicked())
        help_keys = ", ".join(self.keymap) or "none"
        self.widget = W.VBox(
            [
                W.HTML(f"<small>plays {where}</small>"),
                W.HBox([self.start_button, self.stop_button, self.mode]),
                W.HTML(
                    f"<small>play mode: click the picture, then use {help_keys}; the agent "
                    f"takes over {TAKEOVER_S}s after you let go</small>"
                ),
                self.canvas,
                self.status,
                W.HBox([self.save_button, self.save_path], layout=W.Layout(align_items="center")),
                self.save_message,
            ]
        )
        self._save_thread: threading.Thread | None = None
        self.state = None
        self.gen = torch.Generator().manual_seed(seed)
        self.frames = 0
        self.controller = "agent"
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self._policy_time = 0.0
        self.env.reset()
        self.canvas.show(self._frame())

    def _frame(self) -> np.ndarray:
        return self.env.render(0)[:: self.stride, :: self.stride]

    def _current_policy(self):
        # For a live run, refresh a private copy of the training weights every 5 s.
        stale = self.policy is None or time.monotonic() - self._policy_time > 5.0
        if self.live is not None and stale and self.live.policy is not None:
            self.policy = copy.deepcopy(self.live.policy).cpu()
            self._policy_time = time.monotonic()
        return self.policy

    def user_action(self):
        """The action the keyboard asks for, or None when the agent is in control."""
        if self.mode.value != "play" or not self.keymap:
            return None
        for key in self.canvas.keys_down:
            if key in self.keymap:
                return self.keymap[key]
        recent = time.monotonic() - self.canvas.last_key_time < TAKEOVER_S
        if recent and self._last_user is not None:
            return self._last_user
        return None

    _last_user = None

    @torch.no_grad()
    def step(self) -> None:
        """Advance one env step (user or agent acts) and draw the frame."""
        action = self.user_action()
        policy = self._current_policy()
        if action is not None:
            self.controller, self._last_user = "you", action
            self.env.actions[0] = action
            if policy is not None:  # keep the agent's memory in step with the game
                _, _, self.state = policy.step(torch.from_numpy(self.env.observations), self.state)
        elif policy is not None:
            self.controller, self._last_user = "agent", None
            out, _, self.state = policy.step(torch.from_numpy(self.env.observations), self.state)
            act, _ = policy.head.sample(out, policy.log_std, self.gen)
            self.env.actions[...] = act.numpy().reshape(self.env.actions.shape)
        _, _, terminals, truncations, _ = self.env.step(self.env.actions)
        if (terminals[0] or truncations[0]) and self.state is not None:
            self.state = tuple(torch.zeros_like(s) for s in self.state)
        self.canvas.show(self._frame())
        self.frames += 1

    def _loop(self) -> None:
        period = 1.0 / self.fps
        next_time = time.monotonic()
        started, frames0 = time.monotonic(), self.frames
        while self._running.is_set():
            self.step()
            if self.frames % 15 == 0:
                rate = (self.frames - frames0) / max(time.monotonic() - started, 1e-6)
                self.status.value = (
                    f"{rate:.1f} fps, {self.controller} in control, frame {self.frames}"
                )
            next_time += period
            delay = next_time - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_time = time.monotonic()  # fell behind: do not try to catch up

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._running.set()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="wb-viewer")
        self._thread.start()

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    # -- saving a video --
    def save(self, path=None, seconds: float = 10.0, seed: int = 0) -> Path:
        """Record the agent playing one episode (at most ``seconds`` at ``fps``) in a fresh
        copy of the env and save it as a GIF or MP4 at ``path`` (default: the path box, else
        ``<video_dir>/<env>-<time>.gif``); returns the path. The picture above plays on."""
        from workbench.video import record

        path = path or self.save_path.value.strip()
        if not path:
            path = self.video_dir / f"{self.config.env}-{time.strftime('%Y%m%d-%H%M%S')}.gif"
        policy = self._current_policy()
        if policy is None:
            raise ValueError("no policy yet: the run has not finished its first epoch")
        policy = copy.deepcopy(policy).cpu()  # the viewer's own keeps playing meanwhile
        max_frames = max(2, int(seconds * self.fps))
        return record(policy, self.config, path, fps=self.fps, seed=seed, max_frames=max_frames)

    def _save_clicked(self) -> None:
        if self._save_thread is not None and self._save_thread.is_alive():
            return
        self.save_button.disabled = True
        self.save_message.value = "<i>recording...</i>"
        self._save_thread = threading.Thread(target=self._save_in_background, daemon=True)
        self._save_thread.start()

    def _save_in_background(self) -> None:
        try:
            path = self.save()
            self.save_message.value = f"saved <code>{html.escape(str(path.resolve()))}</code>"
        except (ValueError, ImportError, OSError) as e:  # a bad path, or no encoder: say so
            self.save_message.value = (
                f"<span style='color:#b00020'>Not saved: {html.escape(str(e))}</span>"
            )
        finally:
            self.save_button.disabled = False

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

"""Watch an agent play, or play yourself with the agent taking over when you stop.

``FrameCanvas`` is an anywidget canvas: frames travel as raw RGB bytes in a binary
message buffer (no PNG encoding), and key presses come back as messages. ``Viewer`` runs
a policy (checkpoint, run id, or a live run's current policy) in a one-copy env at a
steady frame rate on a background thread.
"""

from __future__ import annotations

import copy
import threading
import time

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
    """(policy, config, live_handle) from a checkpoint path, run id, RunHandle or Run."""
    from workbench.ppo.run import Run, RunHandle, load_policy, resolve_checkpoint
    from workbench.store import RunStore

    if isinstance(source, RunHandle):
        return None, source.config, source
    if isinstance(source, Run):
        return source.policy, source.config, None
    path = str(source)
    import os

    if not os.path.exists(path):
        store = store if isinstance(store, RunStore) else RunStore(store, create=False)
        path = resolve_checkpoint(path, store)[0]
    policy, cfg = load_policy(path)
    return policy, cfg, None


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
        self.policy, self.config, self.live = _resolve_policy(source, store)
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
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        help_keys = ", ".join(self.keymap) or "none"
        self.widget = W.VBox(
            [
                W.HBox([self.start_button, self.stop_button, self.mode]),
                W.HTML(
                    f"<small>play mode: click the picture, then use {help_keys}; the agent "
                    f"takes over {TAKEOVER_S}s after you let go</small>"
                ),
                self.canvas,
                self.status,
            ]
        )
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

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

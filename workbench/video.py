"""Videos of an agent playing: frames from a one-copy env, saved as GIF (or MP4 where an
encoder is installed) with imageio. Used by ``python -m workbench eval --video`` and by
the notebook viewer's Save button.

imageio (GIF through Pillow) comes with the main install; MP4 also needs
``imageio-ffmpeg`` (``pip install 'workbench[video]'``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

FORMATS = (".gif", ".mp4")
MAX_PIXELS = 120_000  # frames are strided down to about this many pixels


def stride_for(shape, max_pixels: int = MAX_PIXELS) -> int:
    h, w = shape[:2]
    return max(1, int(np.ceil(np.sqrt(h * w / max_pixels))))


def agent_frames(
    policy, cfg, episodes: int = 1, seed: int = 0, max_frames: int = 5_000
) -> Iterator[np.ndarray]:
    """RGB frames of ``policy`` playing ``episodes`` episodes of ``cfg``'s env (one copy),
    the first frame after reset included, at most ``max_frames``."""
    import torch

    from workbench.envs import make

    env = make(cfg.env, num_envs=1, seed=seed, **cfg.env_params)
    try:
        stride = stride_for(env.frame_shape)
        gen = torch.Generator().manual_seed(seed)
        env.reset(seed=seed)
        state = policy.initial_state(env.num_agents)
        yield env.render(0)[::stride, ::stride]
        done_episodes, frames = 0, 1
        with torch.no_grad():
            while done_episodes < episodes and frames < max_frames:
                out, _, state = policy.step(torch.from_numpy(env.observations), state)
                action, _ = policy.head.sample(out, policy.log_std, gen)
                env.actions[...] = action.numpy().reshape(env.actions.shape)
                _, _, terminals, truncations, _ = env.step(env.actions)
                yield env.render(0)[::stride, ::stride]
                frames += 1
                if terminals[0] or truncations[0]:
                    done_episodes += 1
                    if state is not None:
                        state = tuple(torch.zeros_like(s) for s in state)
    finally:
        env.close()


def save_video(frames, path, fps: float = 30.0) -> Path:
    """Write ``frames`` (an iterable of HxWx3 uint8) to ``path`` (.gif or .mp4)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"video path must end in .gif or .mp4, got {str(path)!r}")
    try:
        import imageio.v3 as iio
    except ImportError:
        raise ImportError("videos need imageio: pip install imageio") from None
    frames = [np.ascontiguousarray(f, dtype=np.uint8) for f in frames]
    if not frames:
        raise ValueError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        # GIF stores frame durations in milliseconds; loop forever.
        iio.imwrite(path, np.stack(frames), duration=1000.0 / fps, loop=0)
    else:
        try:
            import imageio_ffmpeg  # noqa: F401 - the MP4 encoder
        except ImportError:
            raise ImportError(
                "MP4 needs an encoder: pip install 'workbench[video]' (or save a .gif)"
            ) from None
        import imageio.v2 as iio2

        even = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]  # H.264
        iio2.mimwrite(path, even, fps=fps, macro_block_size=1)
    return path


def record(
    policy, cfg, path, episodes: int = 1, fps: float = 30.0, seed: int = 0, max_frames=5_000
) -> Path:
    """Play ``episodes`` episodes and save them as a video at ``path``."""
    return save_video(agent_frames(policy, cfg, episodes, seed, max_frames), path, fps)

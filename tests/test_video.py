"""Videos of the agent: frames of a trained policy saved as a GIF, read back."""

import itertools

import numpy as np
import pytest

import workbench
from workbench.video import agent_frames, save_video


def test_an_agent_plays_into_a_gif(tmp_path):
    iio = pytest.importorskip("imageio.v3")
    run = workbench.train(
        "breakout",
        store=tmp_path / "wb.db",
        num_envs=8,
        bptt_horizon=16,
        minibatch_size=128,
        total_steps=256,
        eval_episodes=0,
    )
    frames = list(agent_frames(run.policy, run.config, episodes=1, max_frames=60))
    assert len(frames) == 60 and frames[0].ndim == 3 and frames[0].dtype == np.uint8
    assert frames[0].shape[0] * frames[0].shape[1] <= 120_000  # strided down
    assert any((a != b).any() for a, b in itertools.pairwise(frames))  # it moves
    path = save_video(frames, tmp_path / "agent.gif", fps=30)
    back = iio.imread(path)
    assert back.shape[1:3] == frames[0].shape[:2] and back.shape[0] >= 10


def test_a_bad_video_path_says_what_works(tmp_path):
    with pytest.raises(ValueError, match=r"\.gif or \.mp4"):
        save_video([np.zeros((4, 4, 3), np.uint8)], tmp_path / "agent.avi")

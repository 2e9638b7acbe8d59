"""Torch threads chosen by measurement: candidates, timing, and the process left as it was."""

import os

import torch

from workbench.ppo.config import make_config
from workbench.ppo.threads import best_torch_threads, candidate_threads, time_minibatch

CFG = dict(num_envs=8, bptt_horizon=8, minibatch_size=64)


def test_candidates_run_from_one_to_the_allowed_cores():
    counts = candidate_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert counts[0] == 1 and counts[-1] == cores
    assert counts == sorted(set(counts))


def test_best_threads_picks_a_candidate_and_restores_the_setting():
    before = torch.get_num_threads()
    for rnn in (False, True):
        cfg = make_config("bandit", rnn=rnn, **CFG)
        assert time_minibatch(cfg, 1, repeats=1) > 0
        assert best_torch_threads(cfg, [1, 1]) == 1
        assert best_torch_threads(cfg, [3]) == 3  # one candidate: nothing timed
    assert torch.get_num_threads() == before

"""Each env's facts live in its own folder, read by one loader; the repo stands alone."""

import re
import subprocess
from pathlib import Path

import pytest

import workbench
from workbench.envs import names
from workbench.envs.facts import facts
from workbench.ppo.config import make_config

REPO = Path(__file__).resolve().parents[2]
GAMES = ("breakout", "pong", "snake", "puzzle")


@pytest.mark.parametrize("name", names())
def test_every_env_folder_has_its_rules(name):
    f = facts(name)
    assert f.folder is not None and f.folder.is_dir()
    assert f.rules is not None, f"{f.folder} has no README.md with the rules"
    text = f.rules.read_text()
    assert len(text) > 400 and "perf" in text


@pytest.mark.parametrize("name", GAMES)
def test_game_facts_load_and_are_used(name):
    f = facts(name)
    assert f.train and f.bench["metric"] in ("score", "perf", "episode_return")
    assert f.keymap and all(isinstance(v, int) for v in f.keymap.values())
    assert f.sweep["space"] and f.sweep["constraints"]
    cfg = make_config(name)
    for key, value in f.train.items():
        assert getattr(cfg, key) == value
    assert cfg.env_params == f.env


def test_adapter_envs_keep_facts_in_their_own_folder():
    f = facts("gym:CartPole-v1")
    assert f.folder.name == "gym_CartPole-v1" and f.train["num_envs"] == 8
    assert make_config("gym:CartPole-v1").torch_threads == 1
    assert facts("gym:Acrobot-v1").train == {}  # none known: TrainConfig defaults


def test_a_notebook_class_has_no_facts():
    from workbench.envs.bandit import Bandit

    class Local(Bandit):
        pass

    Local.__module__ = "__main__"  # as if defined in a notebook cell
    workbench.envs.register("local-bandit", Local)
    assert facts("local-bandit").train == {}


def test_a_broken_facts_file_names_itself(tmp_path, monkeypatch):
    import workbench.envs.facts as F

    folder = tmp_path / "gym_Broken-v0"
    folder.mkdir()
    (folder / "env.toml").write_text("[trian]\nnum_envs = 3\n")
    monkeypatch.setattr(F, "ADAPTERS_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"env.toml: unknown table \[trian\]"):
        facts("gym:Broken-v0")


def test_no_per_game_facts_outside_the_game_folders():
    # Game names may appear elsewhere as examples, but not as keys of a per-game table.
    pattern = re.compile(r'^\s*"(breakout|pong|snake|puzzle)"\s*:', re.M)
    for path in (REPO / "workbench").rglob("*.py"):
        if "envs" in path.relative_to(REPO / "workbench").parts[:1]:
            continue
        assert not pattern.search(path.read_text()), f"{path} lists per-game facts"


def test_no_file_in_the_repo_points_outside_it():
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    # Written in pieces so that this file does not match itself.
    outside = re.compile(
        "|".join([r"shared/envs\.md", r"\.\./shared", r"\.\./\.\.", "/wo" + "rk/"])
    )
    offenders = []
    for rel in out.stdout.split():
        path = REPO / rel
        if not path.is_file() or path.suffix in (".json", ".so", ".png"):
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        offenders += [f"{rel}: {m.group(0)}" for m in outside.finditer(text)]
    assert not offenders, offenders

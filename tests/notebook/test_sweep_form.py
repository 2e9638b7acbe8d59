"""The launcher's sweep form: pick a definition, a budget, start, watch, stop."""

import time

from workbench.notebook import Launcher
from workbench.notebook.launcher import SweepForm, sweep_files
from workbench.store import RunStore

DEFINITION = """
name = "form"
env = "bandit"
metric = "score"
cost = "agent_steps"

[budget]
trials = 3

[train]
num_envs = 16
bptt_horizon = 16
minibatch_size = 256
eval_episodes = 4
rnn = false

[space]
learning_rate = { kind = "log", min = 0.001, max = 0.1 }
total_steps = { kind = "log", min = 1_000_000, max = 2_000_000 }
"""


def test_the_shipped_definitions_are_found_from_the_notebooks_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # not the checkout: falls back to the checkout's sweeps/
    assert {"pong.toml", "cartpole.toml"} <= set(sweep_files())


def test_the_launcher_starts_and_stops_a_sweep(tmp_path):
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "form.toml").write_text(DEFINITION)
    (tmp_path / "sweeps" / "broken.toml").write_text('env = "bandit"\nmetric = "scor"\n')
    store = RunStore(tmp_path / "wb.db")
    launcher = Launcher(store=store, env="bandit", sweeps=tmp_path / "sweeps")
    form = launcher.sweep
    assert isinstance(form, SweepForm) and list(form.definition.options) == [
        "broken.toml",
        "form.toml",
    ]
    form.definition.value = "form.toml"
    assert (form.unit.value, form.budget.value) == ("trials", 3)  # the definition's budget
    form.unit.value, form.budget.value = "minutes", 10
    form.start_button.click()
    handle = form.handle
    assert handle is not None and handle.definition.hours == 10 / 60
    assert form.view_box.children == (form.view.widget,)
    deadline = time.time() + 60
    while time.time() < deadline and not handle.running.get(0, {}).get("run_id"):
        time.sleep(0.05)
    form.start_button.click()  # one sweep at a time
    assert "stop it first" in form.message.value
    form.stop_button.click()
    handle.wait(60)
    assert handle.status == "stopped"
    runs = store.runs(sweep=handle.id)
    assert list(runs["status"]) == ["stopped"]  # the trial in flight was stopped, none began
    deadline = time.time() + 5
    while "[stopped]" not in form.message.value and time.time() < deadline:
        time.sleep(0.05)
    assert "[stopped]" in form.message.value and form.stop_button.disabled
    form.definition.value = "broken.toml"
    form.unit.value, form.budget.value = "trials", 2
    form.start_button.click()
    assert "Not started" in form.message.value and "did you mean" in form.message.value
    form.view.close()

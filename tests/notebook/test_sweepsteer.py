"""The sweep view's steering panel: each button does what it says through the sweep's
handle (requests in the store, applied by the sweep's driver), a refused request shows the
handle's sentence, and a sweep owned by another handle is steered through the store."""

import time

import pytest

import workbench
from tests.sweep.test_steering import LONG, SMALL, SPACE
from workbench.notebook import SweepView
from workbench.notebook.sweepmonitor import SweepMonitor
from workbench.notebook.sweepsteer import RED, SteeringPanel
from workbench.store import RunStore
from workbench.sweep.definition import build_sweeper, load
from workbench.sweep.handle import SweepHandle
from workbench.sweep.steering import allowed_values, edited


def _wait(predicate, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def assert_sentence(message: str, words: str) -> None:
    """A refusal: the handle's words in red, no exception repr or traceback."""
    assert RED in message and words in message, message
    assert "Error(" not in message and "Traceback" not in message


def test_trial_buttons_queue_a_copy_and_reruns_that_run_when_extended(tmp_path):
    db = tmp_path / "wb.db"
    h = workbench.sweep(SMALL, store=db, background=False)
    view = SweepView(h)  # polls the ended sweep once, then stops
    for t in view._threads:
        t.join(timeout=120)
    panel = view.steer
    parts = view.widget.children
    assert panel.trial_widget in parts and panel.sweep_widget in parts
    assert "Steer the sweep" in parts[parts.index(panel.sweep_widget) - 1].value
    assert panel.queue_button.disabled and panel.rerun_button.disabled  # nothing selected
    first = h.results().iloc[0]
    view.select(first["run_id"])
    assert panel.run_id == first["run_id"] and panel.stop_button.disabled  # it finished
    form = {k: box.value for k, box in panel.copy_fields.items()}
    assert form == pytest.approx({k: first[k] for k in SPACE})
    assert "ended: Extend runs it again" in panel.sweep_status.value

    # a copy breaking a constraint is refused with the handle's sentence; nothing recorded
    panel.copy_fields["learning_rate"].value = 0.09
    panel.queue_button.click()
    assert_sentence(panel.trial_message.value, "breaks the constraint")
    assert h.history().empty
    panel.copy_fields["learning_rate"].value = 0.05
    panel.queue_button.click()
    assert "queued a copy of" in panel.trial_message.value
    panel.seeds.value = 2
    panel.rerun_button.click()
    assert "on 2 seeds" in panel.trial_message.value
    assert h.history()["kind"].tolist() == ["enqueue", "enqueue"]
    assert panel.history_html.value.count("pending: runs when extended") == 2
    panel.extend_button.click()  # +0 trials, +0 hours
    assert_sentence(panel.sweep_message.value, "extend by how much?")

    panel.more_trials.value = 3
    panel.extend_button.click()
    assert "the sweep runs again" in panel.sweep_message.value
    assert any(t.is_alive() for t in view._threads)  # the request woke the view
    h.wait(300)
    assert h.status == "finished"
    for t in view._threads:
        t.join(timeout=120)
    view.refresh(force=True)  # (its last redraw may have been held back by the throttle)
    assert len(view.traced("trials")["x"]) == 6
    runs = RunStore(db).runs(sweep=h.id)
    assert len(runs) == 6  # 3, then the 3 queued ones first (the extended budget)
    copy, *again = runs.iloc[3:].to_dict("records")
    assert copy["learning_rate"] == 0.05
    assert (copy["total_steps"], copy["gamma"]) == (first["total_steps"], first["gamma"])
    for run in again:
        assert [run[k] for k in SPACE] == pytest.approx([first[k] for k in SPACE])
    assert len({first["seed"], *(r["seed"] for r in again)}) == 3  # fresh seeds
    panel.refresh()
    assert panel.history_html.value.count("applied ") == 3 and "pending" not in (
        panel.history_html.value
    )
    panel.reseed_k.value, panel.reseed_seeds.value = 1, 2
    panel.reseed_button.click()
    assert "the best 1 config on 2 fresh seeds each" in panel.sweep_message.value
    last = h.history().iloc[-1]
    assert last["kind"] == "reseed" and last["payload"] == {"k": 1, "seeds": 2}


def test_a_sweep_owned_by_another_handle_is_paused_stopped_and_edited_through_the_store(tmp_path):
    db = tmp_path / "wb.db"
    owner = workbench.sweep(LONG, store=db, trials=50)
    try:
        _wait(lambda: any(p.get("run_id") for p in owner.running.values()))
        run_id = next(p["run_id"] for p in owner.running.values() if p.get("run_id"))
        panel = SteeringPanel(SweepMonitor(owner.id, db))  # as another process's view

        assert panel.pause_button.description == "Pause"

        panel.pause_button.click()
        assert "pause requested" in panel.sweep_message.value
        _wait(lambda: owner.paused)  # the owner's driver applied it
        view = SweepView(owner.id, store=db)  # a live view follows it on its own
        _wait(lambda: view.steer.pause_button.description == "Resume", timeout=10)
        assert "<b>paused</b>" in view.steer.sweep_status.value
        view.close()
        panel.refresh()
        assert panel.pause_button.description == "Resume" and "paused" in (panel.sweep_status.value)

        panel.select(run_id, {"name": RunStore(db).run(run_id)["name"], "params": {}})
        assert not panel.stop_button.disabled  # running
        panel.stop_button.click()
        assert "stopping" in panel.trial_message.value
        _wait(lambda: RunStore(db).run(run_id)["status"] != "running")
        record = RunStore(db).run(run_id)
        assert record["status"] == "stopped" and record["reason"] == "stopped from the sweep view"
        panel.refresh()
        assert panel.stop_button.disabled

        # a refused edit: the space's own sentence, nothing recorded
        rows = panel.param_rows
        rows["learning_rate"].low.value = 0.5
        panel.apply_button.click()
        assert_sentence(panel.edit_message.value, "min (0.5) must be below max")
        assert panel.handle.history()["kind"].tolist() == ["pause", "stop_trial"]
        rows["learning_rate"].low.value = 0.01
        rows["learning_rate"].high.value = 0.02
        rows["gamma"].pin.value = True
        rows["gamma"].pin_value.value = 0.99
        panel.apply_button.click()
        assert "pinned gamma" in panel.edit_message.value
        _wait(lambda: RunStore(db).events(owner.id)["applied_at"].notna().all())  # applied
        assert "gamma" not in owner.definition.space
        panel.refresh()  # the panel's handle follows the owner's definition from the store
        assert "gamma" not in panel.handle.definition.space and "gamma" not in panel.param_rows
        assert panel.handle is not owner
        assert panel.param_rows["learning_rate"].high.value == 0.02
        assert "applied" in panel.history_html.value

        time.sleep(1.0)  # paused: nothing new starts
        assert len(RunStore(db).runs(sweep=owner.id)) == 1 and not owner.done
        panel.pause_button.click()  # Resume
        _wait(lambda: len(RunStore(db).runs(sweep=owner.id)) == 2)
        config = RunStore(db).runs(sweep=owner.id).iloc[-1]
        assert config["gamma"] == 0.99 and 0.01 <= config["learning_rate"] <= 0.02
    finally:
        owner.stop()
        owner.wait(120)
    assert owner.status == "stopped"


def test_the_edit_form_narrows_widens_and_pins_in_one_edit(tmp_path):
    store = RunStore(tmp_path / "wb.db")
    d = load(SMALL)
    handle = SweepHandle(store.create_sweep(d.name, d.to_record()), d, store, build_sweeper(d))
    panel = SteeringPanel(SweepMonitor(handle))
    rows = panel.param_rows
    assert rows["total_steps"].high.value == 8192 and rows["gamma"].range.value == "0.9, 0.95, 0.99"
    rows["learning_rate"].high.value = 0.5  # widened
    rows["total_steps"].pin.value = True
    rows["total_steps"].pin_value.value = 4096
    rows["gamma"].range.value = "0.95, 0.99"  # narrowed
    panel.constraint.value = "learning_rate >= 0.002"
    after = panel.apply_edit()
    assert after is not None and panel.constraint.value == ""
    (payload,) = handle.history()["payload"]
    assert payload["space"]["learning_rate"] == {"kind": "log", "min": 1e-3, "max": 0.5}
    assert payload["space"]["total_steps"] == 4096 and isinstance(
        payload["space"]["total_steps"], int
    )
    assert payload["space"]["gamma"]["values"] == [0.95, 0.99]
    assert payload["constraints"] == ["learning_rate >= 0.002"]
    # the edited definition's form shows the values still allowed, not the model's union
    steered = edited(d, **payload)
    assert allowed_values(steered, "gamma") == [0.95, 0.99]
    handle.definition = steered
    panel.refresh()
    assert set(panel.param_rows) == {"learning_rate", "gamma"}
    assert panel.param_rows["gamma"].range.value == "0.95, 0.99"
    assert "pin total_steps = 4,096" in panel.history_html.value
    panel.apply_button.click()  # unchanged form
    assert_sentence(panel.edit_message.value, "nothing to apply")


def test_a_python_objective_sweep_is_steered_the_same_way(tmp_path):
    from tests.sweep.test_objective import XY, quadratic

    h = workbench.sweep(
        objective=quadratic, space=XY, store=tmp_path / "wb.db", trials=4, background=False
    )
    view = SweepView(h, autostart=False)
    panel = view.steer
    first = h.results().iloc[0]
    view.select(first["run_id"])
    assert panel.copy_fields["x"].value == pytest.approx(first["x"])
    panel.copy_fields["x"].value = 0.25
    panel.queue_button.click()
    assert "queued a copy" in panel.trial_message.value
    panel.param_rows["y"].pin.value = True
    panel.param_rows["y"].pin_value.value = -0.2
    panel.apply_button.click()
    assert "pinned y" in panel.edit_message.value
    panel.extend(trials=2)
    h.wait(120)
    runs = RunStore(tmp_path / "wb.db").runs(sweep=h.id)
    copy, after = (RunStore(tmp_path / "wb.db").run(i)["config"] for i in runs["id"].iloc[4:])
    assert copy["x"] == 0.25 and copy["y"] == pytest.approx(first["y"])
    assert after["y"] == -0.2  # the pin holds for the next suggestion
    panel.refresh()
    assert list(panel.param_rows) == ["x"]

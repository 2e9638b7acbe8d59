"""The terminal view of a sweep reads whole: run ids and figures on one line, the reason a
trial ended in full, whole numbers as written, no suggestion once the sweep has ended."""

import io

import workbench
from tests.sweep.test_steering import SMALL
from workbench.dashboard import number
from workbench.sweep.console import SweepConsole


def test_numbers_read_as_written():
    assert number(1024) == "1024" and number(1024.0) == "1024" and number(2_500_000) == "2500000"
    assert number(0.01729) == "0.0173" and number(None) == "-" and number(True) == "True"


def test_the_panel_of_an_ended_sweep(tmp_path):
    space = {**SMALL["space"], "num_envs": {"kind": "categorical", "values": [1024, 2048]}}
    train = {**SMALL["train"], "minibatch_size": 256}
    h = workbench.sweep(
        {**SMALL, "space": space, "train": train}, store=tmp_path / "wb.db", background=False
    )
    h.trials[-1]["reason"] = "stopped by hand: " + "a long reason, " * 6 + "the end"
    out = io.StringIO()
    view = SweepConsole(h, stream=out, live=False)
    view.console.width = 200
    view.console.print(view.panel())
    text = out.getvalue()
    assert all(t["run_id"] in text for t in h.trials)  # never folded over two lines
    assert "the end" in text  # the reason in full
    assert "1.02e+03" not in text and ("1024" in text or "2048" in text)
    assert "next suggestion" not in text  # ended: nothing more will be suggested

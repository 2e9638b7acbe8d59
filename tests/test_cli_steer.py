"""``python -m workbench sweep VERB SWEEP_ID``: steering and reading a recorded sweep from
the command line, through the store; mistakes get one line and exit code 2."""

import subprocess
import sys

import workbench
from tests.sweep.test_steering import SMALL
from workbench.store import RunStore


def cli(*args, db, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_steering_verbs_act_through_the_store(tmp_path):
    db = tmp_path / "wb.db"
    a = workbench.sweep(SMALL, store=db, background=False)
    b = workbench.sweep(SMALL, store=db, trials=2, seed=1, background=False)

    out = cli("sweep", "best", a.id, db=db)
    assert out.returncode == 0 and out.stdout.startswith("best perf"), out.stderr
    # a hand-picked config breaking a constraint: one line, nothing recorded
    out = cli("sweep", "enqueue", a.id, "learning_rate=0.09", db=db)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "breaks the constraint 'learning_rate <= 0.08'" in out.stderr
    assert RunStore(db).events(a.id).empty
    # a good one, and an edit: requests the sweep applies when it runs again
    out = cli("sweep", "enqueue", a.id, "learning_rate=0.05", "total_steps=4096", db=db)
    assert out.returncode == 0 and "queued" in out.stdout, out.stderr
    out = cli("sweep", "edit", a.id, "--pin", "gamma=0.99", "--trials", "4", db=db)
    assert out.returncode == 0 and "space now learning_rate, total_steps" in out.stdout
    assert RunStore(db).events(a.id)["kind"].tolist() == ["enqueue", "edit"]
    # an ended sweep extended from the command line runs here, queued trial first
    out = cli("sweep", "extend", a.id, "--trials", "1", db=db)
    assert out.returncode == 0, out.stderr
    runs = RunStore(db).runs(sweep=a.id)
    assert len(runs) == 5  # the edited budget of 4, and 1 more
    assert runs.iloc[3]["learning_rate"] == 0.05  # the queued trial ran first
    assert runs.iloc[4]["gamma"] == 0.99  # the pin holds for new suggestions

    out = cli("sweeps", db=db)
    assert out.returncode == 0
    for word in ("env", "metric", "best", "cost", "why it ended", "bandit", "budget of"):
        assert word in out.stdout
    out = cli("sweep", "compare", a.id, b.id, db=db)
    assert out.returncode == 0 and out.stdout.count("hypervolume") == 3, out.stderr
    out = cli("sweep", "pause", "sweep-nope", db=db)
    assert out.returncode == 2 and "no sweep 'sweep-nope'" in out.stderr


def test_a_misspelled_definition_lists_the_definitions_and_the_nearest(tmp_path):
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "pong.toml").write_text("env = 'pong'\n")
    (tmp_path / "sweeps" / "breakout.toml").write_text("env = 'breakout'\n")
    out = cli("sweep", "sweeps/pogn.toml", db=tmp_path / "wb.db", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "did you mean 'sweeps/pong.toml'?" in out.stderr and "breakout.toml" in out.stderr

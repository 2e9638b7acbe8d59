"""The command line: train (plain dashboard lines when piped), runs, eval, errors."""

import os
import subprocess
import sys

import pytest

from workbench.dashboard import Dashboard


def cli(*args, db, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_train_runs_eval_round_trip(tmp_path):
    db = tmp_path / "wb.db"
    out = cli(
        "train",
        "bandit",
        "--total-steps",
        "40000",
        "--num-envs",
        "64",
        "--bptt-horizon",
        "16",
        "--minibatch-size",
        "512",
        "--learning-rate",
        "0.01",
        "--rnn",
        "false",
        "--arms",
        "5",
        db=db,
    ).stdout
    assert "\x1b[" not in out  # not a terminal: plain lines
    assert "sps" in out and "finished" in out
    from workbench.store import RunStore

    run = RunStore(db).runs().iloc[0]
    assert run["arms"] == 5 and run["rnn"] == False  # noqa: E712 - flags reached the config
    assert run["eval/perf"] >= 0.9
    table = cli("runs", db=db).stdout
    assert run["id"] in table and "finished" in table
    assert "no runs match" in cli("runs", "--query", "perf > 2", db=db).stdout
    result = cli("eval", run["id"][:-2], "--episodes", "20", db=db).stdout  # an id prefix
    perf = next(line for line in result.splitlines() if line.strip().startswith("perf"))
    assert float(perf.split()[1]) >= 0.9 and "±" in perf and "[" in perf  # mean, std, 95%
    assert f"run {run['id']} ({run['name']})" in result and "20 episodes" in result


@pytest.mark.parametrize(
    "args,message",
    [
        (["--minibatch-size", "100", "--bptt-horizon", "16"], "nearest valid: 96 or 112"),
        (["--gamma", "2"], "gamma must be in (0.0, 1.0], got 2.0"),
        (["--arms", "1"], "'arms' must be int in [2, 64], got 1"),
    ],
)
def test_bad_flags_are_one_line_errors(tmp_path, args, message):
    proc = cli("train", "bandit", *args, db=tmp_path / "wb.db", check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_live_dashboard_redraws_in_place():
    import io

    stream = io.StringIO()
    board = Dashboard(1000, stream=stream, live=True, redraw_every=0)
    row = {
        "agent_steps": 500,
        "wall_time": 2.0,
        "epoch": 3,
        "sps": 250.0,
        "env/score": 7.0,
        "env/perf": 0.5,
        **{
            f"losses/{k}": 0.1
            for k in ("policy", "value", "entropy", "approx_kl", "clipfrac", "explained_variance")
        },
        **{f"timing/{k}": 1.0 for k in ("env", "forward", "copy", "learn", "misc")},
    }
    board(row)
    board(row)
    board.close()
    text = stream.getvalue()
    assert "50.0%" in text and "eta 0:00:02" in text and "score     7.00" in text
    assert "\x1b[2K" in text and "\x1b[1A" in text  # the second draw erases the first


def test_train_takes_a_config_file_under_its_flags(tmp_path):
    (tmp_path / "c.toml").write_text(
        "[train]\nlearning_rate = 0.02\nnum_envs = 16\n[env]\narms = 3\n"
    )
    db = tmp_path / "wb.db"
    common = ("--total-steps", "512", "--bptt-horizon", "16", "--minibatch-size", "256")
    cli("train", "bandit", "--config", str(tmp_path / "c.toml"), "--num-envs", "32", *common, db=db)
    from workbench.store import RunStore

    run = RunStore(db).runs().iloc[0]
    assert run["learning_rate"] == 0.02 and run["num_envs"] == 32 and run["arms"] == 3
    bad = cli("train", "bandit", "--config", str(tmp_path / "nope.toml"), db=db, check=False)
    assert bad.returncode == 2 and "no config file" in bad.stderr


def test_sweeps_lists_the_store_and_never_creates_one(tmp_path):
    proc = cli("sweeps", db=tmp_path / "none" / "wb.db", check=False)
    assert proc.returncode == 2 and "no run store" in proc.stderr
    assert not (tmp_path / "none").exists()
    from workbench.store import RunStore

    store = RunStore(tmp_path / "wb.db")
    store.create_sweep("lr-sweep", {"env": "bandit"})
    assert "lr-sweep" in cli("sweeps", db=tmp_path / "wb.db").stdout


def test_sigterm_stops_a_cli_run_with_its_checkpoint_and_summary(tmp_path):
    import signal
    import time

    from workbench.store import RunStore

    db = tmp_path / "wb.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench",
            "train",
            "memory",
            "--total-steps",
            "1e9",
            "--num-envs",
            "32",
            "--bptt-horizon",
            "16",
            "--minibatch-size",
            "256",
            "--db",
            str(db),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.3)
        if db.exists():
            runs = RunStore(db).runs()
            if len(runs) and len(RunStore(db).curve(runs["id"].iloc[0])) >= 3:
                break
    proc.send_signal(signal.SIGTERM)  # what Slurm, Kubernetes and docker stop send
    _, err = proc.communicate(timeout=60)
    run = RunStore(db).runs().iloc[0]
    assert proc.returncode == 143 and "SIGTERM" in err and run["id"] in err
    assert run["status"] == "stopped" and run["reason"] == "SIGTERM"
    assert run["agent_steps"] > 0 and run["wall_time"] > 0  # a summary, not NaN
    assert run["checkpoint"] and os.path.exists(run["checkpoint"])


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "bandit", "--learing-rate", "0.01"], "did you mean --learning-rate?"),
        (["train", "bandit", "--rnn", "maybe"], "expected true or false, got 'maybe'"),
        (["train", "bandit", "--total-steps", "2.5e0"], "expected an integer, got '2.5e0'"),
        (["train", "bandt"], "did you mean 'bandit'?"),
        (["eval", "xyz", "--episodes", "-3"], "--episodes must be >= 1, got -3"),
        (["runs", "--query", "scor >= 3"], "bad query 'scor >= 3'"),
        (["runs", "--columns", "id,foo"], "no column 'foo'; available: id,"),
        (["train", "bandit", "--resume", "nonexist"], "neither a checkpoint file nor a run"),
    ],
)
def test_mistakes_get_one_line_and_write_nothing(tmp_path, args, message):
    from workbench.store import RunStore

    db = tmp_path / "wb.db"
    store = RunStore(db)
    store.create_run("existing", "bandit", {})
    store.close()
    before = db.read_bytes()
    proc = cli(*args, db=db, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr
    assert len(RunStore(db).runs()) == 1  # nothing recorded
    assert not (tmp_path / "checkpoints").exists()
    del before


def test_help_shows_defaults_and_where_they_come_from():
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "train", "breakout", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = " ".join(proc.stdout.split())
    assert "(default: 512 from breakout's env.toml)" in text  # num_envs
    assert "(default: 0.015)" in text  # learning_rate, from TrainConfig
    assert "--rnn {true,false}" in text and "--optimizer {muon,adam}" in text
    assert "gym:<id>" in text and "pettingzoo:<id>" in text and "``" not in text


def test_integral_floats_are_integers():
    from workbench.cli.flags import integer

    assert integer("1e6") == 1_000_000 and integer("20e6") == 20_000_000
    assert integer("1_000") == 1000 and integer("64") == 64


def test_ctrl_c_leaves_one_whole_sweep_panel_and_says_so(tmp_path):
    """``python -m workbench sweep`` on a terminal (a pty), Ctrl-C while it draws: exit 130,
    the last frame is one whole panel (a frame cut mid-write used to leave the cursor inside
    it, and the panel's top border showed twice), and the line says Ctrl-C stopped it."""
    import pty
    import re
    import select
    import signal
    import time

    definition = tmp_path / "bandit.toml"
    definition.write_text(
        'env = "bandit"\nname = "ctrlc"\nmetric = "score"\ncost = "agent_steps"\n'
        "[budget]\ntrials = 200\n"
        "[train]\nnum_envs = 16\nbptt_horizon = 16\nminibatch_size = 256\nrnn = false\n"
        "[space]\n"
        'learning_rate = { kind = "log", min = 0.001, max = 0.1 }\n'
        'total_steps = { kind = "log", min = 2048, max = 16384 }\n'
    )
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on a terminal
        os.environ["WORKBENCH_DB"] = str(tmp_path / "wb.db")
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execv(sys.executable, [sys.executable, "-m", "workbench", "sweep", str(definition)])
    out, sent, started = b"", None, time.monotonic()
    while time.monotonic() - started < 120:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
        if sent is None and out.count("╭".encode()) >= 3:  # drawn a few times: interrupt
            os.kill(pid, signal.SIGINT)
            sent = time.monotonic()
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert sent is not None and os.waitstatus_to_exitcode(status) == 130, text[-1500:]
    last = re.split(r"\x1b\[\d*A", text)[-1]  # what was drawn after the cursor last went up
    assert last.count("╭") == 1 and last.count("╰") == 1, last
    assert re.search(r"Ctrl-C: sweep sweep-\S+ stopped; resume with --resume", text), text[-800:]

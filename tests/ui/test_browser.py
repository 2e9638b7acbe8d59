"""Real browser: JupyterLab + headless Chromium run the quickstart through the keyboard.

Starts JupyterLab on 127.0.0.1 (free port, no token) over a copy of the notebooks, opens
the quickstart with ``?reset``, runs every cell with Shift+Enter, then checks that the
learning curve has plotted points, that Start and Stop drive a run, and that no cell
raised. A screenshot goes to ``test-artifacts/``. Every process started is stopped.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    for name in ("01_quickstart.ipynb", "04_watch_and_play.ipynb", "05_live_sweep.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    port = free_port()
    env = dict(
        os.environ,
        WORKBENCH_SMOKE="1",
        WORKBENCH_DB=str(tmp_path / "wb.db"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={tmp_path}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=",
        "--allow-root",
    ]
    log = open(tmp_path / "lab.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError(
                        "JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()
                    ) from None
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its kernels
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def open_and_run(page, lab, notebook):
    """Open ``notebook`` with ?reset and run every cell with Shift+Enter, waiting for all."""
    page.goto(f"{lab}/lab/tree/{notebook}?reset", timeout=60_000)
    cells = page.locator(".jp-NotebookPanel .jp-Cell")
    cells.first.wait_for(timeout=60_000)
    # Keys pressed before the kernel is up run nothing: wait for the status bar's "Idle".
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
        ".some(e => /\\|\\s*Idle/.test(e.textContent))",
        timeout=120_000,
    )
    time.sleep(1.0)
    news = page.get_by_role("button", name="No")  # JupyterLab's news prompt
    if news.count():
        news.first.click()
    n = cells.count()
    code = page.locator(".jp-NotebookPanel .jp-CodeCell").count()
    cells.first.click()
    page.keyboard.press("Escape")  # command mode: Shift+Enter runs and moves on
    for _ in range(n):
        page.keyboard.press("Shift+Enter")
        time.sleep(0.3)
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.jp-InputPrompt')]"
        ".some(e => e.textContent.includes('*'))",
        timeout=180_000,
    )
    try:
        page.wait_for_function(  # every code cell ran (numbered), or one raised (the rest won't)
            "n => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')]"
            ".filter(e => /\\[\\d+\\]/.test(e.textContent)).length >= n"
            " || !!document.querySelector('[data-mime-type=\"application/vnd.jupyter.error\"]')",
            arg=code,
            timeout=180_000,
        )
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{Path(notebook).stem}-not-run.png"))
        raise
    assert_no_errors(page)


# JupyterLab renders a cell's exception as text (not always under the error MIME type).
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\w*Error\b", re.MULTILINE)


def assert_no_errors(page):
    """No output of any cell shows an exception."""
    outputs = page.locator(".jp-OutputArea-output")
    errors = page.locator('[data-mime-type="application/vnd.jupyter.error"]')
    shown = outputs.filter(has_text=ERROR_TEXT)
    assert errors.count() == 0, errors.first.inner_text()
    assert shown.count() == 0, shown.first.inner_text()


def launch_browser(p):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    return p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def test_quickstart_runs_in_a_real_browser(lab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_and_run(page, lab, "01_quickstart.ipynb")
            page.get_by_text("finished", exact=True).first.wait_for(timeout=60_000)

            # The live learning curve drew a line through the run's rows (lines, no markers).
            plot = page.locator(".js-plotly-plot").first
            plot.wait_for(timeout=30_000)
            line = page.locator(".js-plotly-plot .scatterlayer .trace path.js-line").first
            line.wait_for(timeout=30_000)
            assert "L" in (line.get_attribute("d") or "")  # at least two points joined

            # Start and Stop respond: a long run starts from the form and stops on Stop.
            total = page.locator(".widget-text", has_text="total_steps").locator("input")
            total.first.fill("1000000000")
            total.first.press("Enter")
            page.get_by_role("button", name="Start").first.click()
            page.get_by_text("[running]").first.wait_for(timeout=60_000)
            page.get_by_role("button", name="Stop").first.click()
            page.get_by_text("[stopped]").first.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "quickstart.png"), full_page=True)
            page.keyboard.press("Escape")
            page.keyboard.press("Control+End")  # last cell: the curves against wall-clock
            page.locator(".jp-NotebookPanel .jp-Cell").last.scroll_into_view_if_needed()
            time.sleep(1.0)
            page.screenshot(path=str(ARTIFACTS / "quickstart-end.png"), full_page=True)
            # The finished run against wall-clock sits where it trained, not in the future:
            # its last point is no later than now (it was drawn minutes ahead).
            clock = page.locator(".js-plotly-plot", has_text="wall-clock").first
            clock.scroll_into_view_if_needed()
            time.sleep(1.0)
            latest = page.evaluate(
                """() => Math.max(...[...document.querySelectorAll('.js-plotly-plot')]
                  .filter(g => g._fullLayout?.xaxis?.type === 'date')
                  .flatMap(g => g.data.flatMap(t => (t.x || []).map(v => Date.parse(v)))))"""
            )
            assert latest <= time.time() * 1000 + 5_000
            page.screenshot(path=str(ARTIFACTS / "quickstart-clock.png"))
        finally:
            browser.close()


def test_viewer_draws_frames_and_hands_over_the_keyboard(lab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_and_run(page, lab, "04_watch_and_play.ipynb")
            page.get_by_text("frames shown: True").first.wait_for(timeout=30_000)
            canvas = page.locator("canvas.wb-canvas").first
            canvas.scroll_into_view_if_needed()
            # The canvas really drew frames: some pixels are not black.
            lit = canvas.evaluate(
                "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                " let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] + d[i+1] + d[i+2] > 0;"
                " return n; }"
            )
            assert lit > 100
            # Play mode: hold a key and the user is in control; let go and the agent returns.
            page.get_by_role("button", name="play", exact=True).click()
            page.locator(".jupyter-widgets button", has_text="Start").last.click()
            canvas.click()
            page.keyboard.down("ArrowLeft")
            page.get_by_text("you in control").first.wait_for(timeout=15_000)
            page.keyboard.up("ArrowLeft")
            page.get_by_text("agent in control").first.wait_for(timeout=15_000)
            page.screenshot(path=str(ARTIFACTS / "watch_and_play.png"), full_page=True)
            page.locator(".jupyter-widgets button", has_text="Stop").last.click()
            # Save video: a GIF of the agent is written beside the store, and the path shown.
            page.get_by_role("button", name="Save video").first.click()
            saved = page.locator(".widget-html", has_text=re.compile(r"saved .*\.gif"))
            saved.first.wait_for(timeout=60_000)
            assert Path(saved.first.locator("code").inner_text()).stat().st_size > 1000
        finally:
            browser.close()

"""Real browser: the sweep view's steering panel in JupyterLab + headless Chromium.

A small notebook (written here) runs a two-trial bandit sweep, shows its ``SweepView`` and
selects a trial. In the page, real clicks on Queue a copy and Pause must reach the store
as requests, the panel must say so in a sentence and list them in its history, and a
refused edit must show the space's sentence, never a traceback. Screenshots of the panel
go to ``test-artifacts/steer-NN.png``.
"""

import re
import time

import nbformat

from tests.ui.test_browser import (  # noqa: F401
    ARTIFACTS,
    assert_no_errors,
    lab,
    launch_browser,
    open_and_run,
)
from workbench.store import RunStore

SWEEP = {
    "env": "bandit",
    "name": "steer",
    "metric": "perf",
    "cost": "agent_steps",
    "budget": {"trials": 2},
    "train": {
        "num_envs": 16,
        "bptt_horizon": 16,
        "minibatch_size": 256,
        "eval_episodes": 4,
        "rnn": False,
        "hidden_size": 32,
    },
    "space": {
        "learning_rate": {"kind": "log", "min": 1e-3, "max": 0.1},
        "total_steps": {"kind": "log", "min": 1024, "max": 2048},
    },
}

CELLS = [
    "import os\n\nimport workbench\nfrom workbench.notebook import SweepView",
    f"handle = workbench.sweep({SWEEP!r}, store=os.environ['WORKBENCH_DB'], background=False)",
    "view = SweepView(handle)\nview.select(handle.results()['run_id'].iloc[0])\nview",
]


def button(page, text: str):
    """An ipywidgets button by its text. (JupyterLab's windowed notebook hides cells off
    screen from the accessibility tree, so a role locator misses them.)"""
    found = page.locator("button.widget-button", has_text=re.compile(rf"^\s*{text}\s*$")).first
    found.scroll_into_view_if_needed()
    return found


def test_steering_buttons_reach_the_store_from_the_page(lab, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in CELLS],
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
    )
    nbformat.write(nb, tmp_path / "steer.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("steer-*.png"):
        old.unlink()
    with sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_and_run(page, lab, "steer.ipynb")
            store = RunStore(tmp_path / "wb.db")
            (sweep_id,) = store.sweeps()["id"]

            queue = button(page, "Queue a copy")
            queue.click()
            page.get_by_text("queued a copy of steer-000").first.wait_for(timeout=15_000)
            button(page, "Pause").click()
            page.get_by_text("pause requested").first.wait_for(timeout=15_000)
            assert store.events(sweep_id)["kind"].tolist() == ["enqueue", "pause"]
            history = page.locator(".wb-steer-history")
            history.filter(has_text="pause").first.wait_for(state="attached", timeout=15_000)
            assert history.first.inner_text().count("pending: runs when extended") == 2
            button(page, "Resume").wait_for(timeout=15_000)

            # a refused edit: min above max, in the page's own boxes
            low = page.locator(".widget-text:has(label:text-is('min')) input").first
            low.fill("0.5")
            low.press("Enter")
            button(page, "Apply edit").click()
            page.get_by_text("Refused: learning_rate: min (0.5) must be below max").first.wait_for(
                timeout=15_000
            )
            assert len(store.events(sweep_id)) == 2  # nothing recorded
            assert_no_errors(page)

            page.get_by_text("Steer the sweep").first.scroll_into_view_if_needed()
            time.sleep(0.5)
            page.screenshot(path=str(ARTIFACTS / "steer-01.png"))
            history.first.scroll_into_view_if_needed()
            time.sleep(0.5)
            page.screenshot(path=str(ARTIFACTS / "steer-02.png"))
        finally:
            browser.close()

"""Real browser: a 300-trial black-box sweep watched in JupyterLab + headless Chromium.

A notebook written here sweeps a cheap Python function (``workbench.sweep(objective=f)``,
whose trials report curve points) and shows its ``SweepView``. While the sweep runs and
after it ended, the test hovers over points, toggles the cost axis both ways (an objective's
trials have no agent steps: the other axis is empty, not an error) and clicks a trial; then
no output shows error text and JupyterLab's log console holds no traceback. Screenshots go
to ``test-artifacts/blackbox-*.png``.
"""

import re
import time

import nbformat

from tests.ui.test_browser import (  # noqa: F401
    ARTIFACTS,
    ERROR_TEXT,
    assert_no_errors,
    lab,
    launch_browser,
    open_and_run,
)
from tests.ui.test_sweep_browser import (
    FIGURE_DATA,
    POINT_XY,
    hover_points,
    log_console_text,
    open_log_console,
    screenshots,
)
from workbench.store import RunStore

TITLE = "Sweep branin"
CELLS = [
    "import math\nimport time\n\nimport workbench\nfrom workbench.notebook import SweepView",
    '''def branin(x, y, report=None):
    """The Branin function, negated (the engine maximizes), reported on the way; its
    cost: the seconds it took."""
    value = (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
    value += 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10
    for k in (1, 2, 3):
        time.sleep(0.005 * (1 + abs(x)) / 3)
        report(-value * (1 + 0.5 / k), step=k)
    return -value''',
    """handle = workbench.sweep(
    objective=branin,
    name="branin",
    space={
        "x": {"kind": "linear", "min": -5, "max": 10},
        "y": {"kind": "linear", "min": 0, "max": 15},
    },
    trials=300,
)
view = SweepView(handle)
view""",
]


def interact(page) -> None:
    """Hover, toggle the cost axis both ways, hover again, as a person would."""
    hover_points(page, n=4, title=TITLE)
    for axis in ("agent steps", "wall-clock seconds"):
        page.get_by_role("button", name=axis, exact=True).first.click()
        time.sleep(0.8)
        hover_points(page, n=4, title=TITLE)


def test_a_300_trial_black_box_sweep_in_a_real_browser(lab, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "blackbox.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("blackbox-*.png"):
        old.unlink()
    with sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_and_run(page, lab, "blackbox.ipynb")
            open_log_console(page)
            page.wait_for_function(
                f"([t]) => ({FIGURE_DATA})([t])?.points >= 20", arg=[TITLE], timeout=120_000
            )
            store = RunStore(tmp_path / "wb.db")
            (sweep_id,) = store.sweeps()["id"]
            interact(page)  # while it runs
            during = store.sweep(sweep_id)["status"]
            deadline = time.monotonic() + 600
            while store.sweep(sweep_id)["status"] == "running" and time.monotonic() < deadline:
                time.sleep(2)
            assert store.sweep(sweep_id)["status"] == "finished"
            assert len(store.runs(sweep=sweep_id)) == 300
            time.sleep(3)  # the view's last redraw
            interact(page)  # after it ended
            fig = page.evaluate(FIGURE_DATA, [TITLE])
            trials = next(t for t in fig["traces"] if t["name"] == "trials (final)")
            plot = page.locator(".js-plotly-plot", has_text=TITLE).first
            plot.scroll_into_view_if_needed()
            time.sleep(1.0)
            point = page.evaluate(POINT_XY, [TITLE, "trials (final)", len(trials["ids"]) // 2])
            page.screenshot(path=str(ARTIFACTS / "blackbox-before-click.png"))
            page.mouse.move(point["x"], point["y"])
            # points may overlap: the trial clicked is the one the hover label names
            label = page.locator(".hoverlayer .hovertext", has_text="branin-").first
            label.wait_for(timeout=10_000)
            name = re.search(r"branin-\d+", label.text_content()).group(0)
            page.mouse.click(point["x"], point["y"])
            page.get_by_text(f"{name} (").first.wait_for(timeout=15_000)
            assert_no_errors(page)
            logged = log_console_text(page)
            assert not ERROR_TEXT.search(logged), logged[:2000]
            assert "Traceback" not in logged and "Error" not in logged, logged[:2000]
            page.screenshot(path=str(ARTIFACTS / "blackbox-clicked.png"))
            assert screenshots(page, "blackbox") >= 1
            assert during == "running" or trials["n"] > 0
        finally:
            browser.close()

"""Real browser: two sweeps compared in one view, in JupyterLab + headless Chromium.

A notebook written here runs two small bandit sweeps at once and shows
``SweepView([a.id, b.id])``; in the page, once both ended, each sweep's front, trials and
hypervolume line are drawn, the hypervolume chart names its reference point, the table has
a row per sweep, and no output shows error text. Screenshots go to
``test-artifacts/compare-*.png``.
"""

import time

import nbformat

from tests.ui.test_browser import (  # noqa: F401
    ARTIFACTS,
    assert_no_errors,
    lab,
    launch_browser,
    open_and_run,
)
from tests.ui.test_sweep_browser import screenshots
from workbench.notebook.sweepcompare import short_id
from workbench.store import RunStore

CELLS = [
    "import workbench\nfrom workbench.notebook import SweepView",
    """base = {
    "env": "bandit",
    "metric": "perf",
    "cost": "agent_steps",
    "budget": {"trials": 4},
    "early_stopping": False,
    "train": {"num_envs": 32, "bptt_horizon": 16, "minibatch_size": 256,
              "eval_episodes": 8, "rnn": False, "hidden_size": 32},
    "space": {
        "learning_rate": {"kind": "log", "min": 1e-3, "max": 0.1},
        "total_steps": {"kind": "log", "min": 2048, "max": 8192},
    },
}
# the same search twice, but one only tries small learning rates
wide = workbench.sweep({**base, "name": "wide"})
small = {"kind": "log", "min": 1e-4, "max": 1e-3}
narrow = workbench.sweep(
    {**base, "name": "small-lr", "seed": 1, "space": {**base["space"], "learning_rate": small}}
)""",
    "SweepView([wide.id, narrow.id])",
]

SCROLLER = ".jp-NotebookPanel .jp-WindowedPanel-outer"
FIGURES = """
() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
  title: gd.layout?.title?.text || '',
  traces: (gd.data || []).map(t => ({name: t.name, n: (t.x || []).length,
                                     colour: t.line?.color || t.marker?.color})),
}))
"""


def test_two_sweeps_compared_in_a_real_browser(lab, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "compare.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("compare-*.png"):
        old.unlink()
    with sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_and_run(page, lab, "compare.ipynb")
            # the view's cell is the last: scroll there (a windowed notebook renders what is
            # near the screen), and give a busy machine time to draw the figures
            page.eval_on_selector(SCROLLER, "e => { e.scrollTop = e.scrollHeight; }")
            hv_plot = page.locator(".js-plotly-plot", has_text="Hypervolume").first
            try:
                hv_plot.wait_for(timeout=120_000)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "compare-not-drawn.png"))
                raise
            hv_plot.scroll_into_view_if_needed()
            running, deadline = page.get_by_text("of 2 running"), time.time() + 240
            while running.count() and time.time() < deadline:  # the last one while running
                page.screenshot(path=str(ARTIFACTS / "compare-live.png"))
                time.sleep(1.5)
            # the view polls until both sweeps end
            page.get_by_text("all ended").first.wait_for(timeout=240_000)
            store = RunStore(tmp_path / "wb.db")
            sweeps = store.sweeps()
            assert list(sweeps["status"]) == ["finished", "finished"]
            pairs = zip(sweeps["id"], sweeps["name"], strict=True)
            labels = [f"{n} ({short_id(i)})" for i, n in pairs]
            time.sleep(1.5)  # the last redraw reaches the page
            figures = page.evaluate(FIGURES)
            front = next(f for f in figures if f["title"].startswith("2 sweeps compared"))
            hv = next(f for f in figures if f["title"].startswith("Hypervolume"))
            drawn = {t["name"]: t for t in front["traces"]}
            for label in labels:
                assert drawn[label]["n"] >= 2  # a step line
                assert drawn[f"{label}: trials"]["n"] >= 1
                assert drawn[label]["colour"] == drawn[f"{label}: trials"]["colour"]
            assert drawn[labels[0]]["colour"] != drawn[labels[1]]["colour"]
            lines = {t["name"]: t for t in hv["traces"]}
            assert all(lines[label]["n"] >= 3 for label in labels)
            assert "reference point (agent steps " in hv["title"]
            table = page.locator(".jp-OutputArea-output table").first
            for label in labels:
                assert label in table.inner_text()
            # Errors only: two sweeps fitting at once in one kernel can let scikit-learn's
            # convergence warnings through (warnings filters are one global list).
            assert_no_errors(page)
            plot = page.locator(".js-plotly-plot", has_text="2 sweeps compared").first
            plot.scroll_into_view_if_needed()
            time.sleep(0.5)
            page.screenshot(path=str(ARTIFACTS / "compare-view.png"))
            assert screenshots(page, "compare") >= 2
        finally:
            browser.close()

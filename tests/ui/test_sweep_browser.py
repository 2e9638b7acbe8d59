"""Real browser: the live-sweep tutorial in JupyterLab + headless Chromium.

Runs ``05_live_sweep.ipynb`` (smoke budget) with Shift+Enter, then checks in the page that
the score-vs-cost figure plots at least every successful observation, that the model's
band and front are drawn, and that a real mouse click on a trial's point puts that
trial's curve in the curves figure. Screenshots of the whole notebook, scrolled a screen
at a time, go to ``test-artifacts/live_sweep-NN.png``.
"""

import math
import time

from tests.ui.test_browser import (  # noqa: F401
    ARTIFACTS,
    ERROR_TEXT,
    assert_no_errors,
    lab,
    launch_browser,
    open_and_run,
)
from workbench.notebook.curves import run_label
from workbench.store import RunStore

PARETO = "Sweep pong"  # the score-vs-cost figure's title starts so

FIGURE_DATA = """
([title]) => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => (g.layout?.title?.text || '').startsWith(title));
  if (!gd) return null;
  return {
    traces: gd.data.map(t => ({name: t.name, n: (t.x || []).filter(v => v !== null).length,
                               ids: t.customdata || []})),
    points: gd.querySelectorAll('.scatterlayer .trace .points path.point').length,
    fills: gd.querySelectorAll('.scatterlayer .trace path.js-fill').length,
  };
}
"""

POINT_XY = """
([title, trace, index]) => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => (g.layout?.title?.text || '').startsWith(title));
  const t = gd.data.find(d => d.name === trace);
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const box = gd.querySelector('.main-svg').getBoundingClientRect();
  return {x: box.left + xa._offset + xa.c2p(t.x[index]),
          y: box.top + ya._offset + ya.c2p(t.y[index]), id: t.customdata[index]};
}
"""

CURVE_NAMES = """
([title]) => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(g => !(g.layout?.title?.text || '').startsWith(title))
  .flatMap(g => (g.data || []).map(t => t.name))
"""


def open_log_console(page) -> None:
    """JupyterLab's log console (command palette: "Show Log Console"), where output of a
    kernel's comm handlers (a widget's callbacks) goes, tracebacks included."""
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input").first
    palette.wait_for(timeout=10_000)
    palette.fill("Show Log Console")
    page.locator(".lm-CommandPalette-item", has_text="Show Log Console").first.click()
    page.locator(".jp-LogConsole").first.wait_for(timeout=10_000)
    # every level: a warning or an error logged by a widget callback is found too
    level = page.locator(
        ".jp-LogConsole-toolbarLogLevel select, select.jp-LogConsole-toolbarLogLevel"
    )
    if level.count():
        level.first.select_option("debug")


def log_console_text(page) -> str:
    """What the log console holds: its entries, not its toolbar."""
    return "\n".join(page.locator(".jp-LogConsole .jp-OutputArea-output").all_inner_texts())


def hover_points(page, n: int = 8, title: str = PARETO) -> None:
    """Move the mouse over ``n`` points of each clickable trace of the sweep's figure."""
    fig = page.evaluate(FIGURE_DATA, [title])
    for t in fig["traces"][:12]:  # the figure's own traces (POINT_XY finds each by name)
        if not t["ids"] or t["name"] in ("model: ±2σ band", "model: predicted front"):
            continue
        for index in range(0, len(t["ids"]), max(1, len(t["ids"]) // n)):
            point = page.evaluate(POINT_XY, [title, t["name"], index])
            if not all(
                isinstance(v, int | float) and math.isfinite(v) for v in (point["x"], point["y"])
            ):
                continue  # a gap in a line, or off a log axis
            page.mouse.move(point["x"], point["y"])
            time.sleep(0.15)


def screenshots(page, stem: str) -> int:
    """Screenshot the notebook a screen at a time (its panel scrolls, not the page)."""
    scroller = ".jp-NotebookPanel .jp-WindowedPanel-outer"
    last = page.eval_on_selector(  # where the last cell's bottom meets the screen's
        scroller,
        """e => { const cell = [...e.querySelectorAll('.jp-Cell')].pop();
                  const bottom = e.scrollTop + cell.getBoundingClientRect().bottom
                                 - e.getBoundingClientRect().top;
                  return Math.max(0, Math.round(bottom - e.clientHeight + 40)); }""",
    )
    step = page.eval_on_selector(scroller, "e => e.clientHeight") - 80
    n = 0
    for top in [*range(0, last, step), last]:
        page.eval_on_selector(scroller, f"e => {{ e.scrollTop = {top}; }}")
        time.sleep(0.4)
        n += 1
        page.screenshot(path=str(ARTIFACTS / f"{stem}-{n:02d}.png"))
    return n


def test_live_sweep_draws_its_front_and_a_click_selects_a_trial(lab, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("live_sweep-*.png"):
        old.unlink()
    with sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_and_run(page, lab, "05_live_sweep.ipynb")
            store = RunStore(tmp_path / "wb.db")
            sweep_id = store.sweeps()["id"].iloc[0]  # the first: the notebook compares two
            obs = store.observations(sweep_id)
            finished = int((~obs["failed"] & obs["score"].notna()).sum())
            assert finished >= 5

            # The figure caught up with every observation (the view polls a few times a second).
            page.wait_for_function(
                f"([t, n]) => ({FIGURE_DATA})([t])?.points >= n", arg=[PARETO, finished]
            )
            fig = page.evaluate(FIGURE_DATA, [PARETO])
            drawn = {}
            for t in fig["traces"]:  # a WebGL twin and a recent-points trace share a name
                drawn[t["name"]] = drawn.get(t["name"], 0) + t["n"]
            assert drawn["curve points"] + drawn["trials (final)"] >= finished
            assert fig["points"] >= finished
            assert drawn["model: predicted front"] >= 2 and drawn["model: ±2σ band"] >= 4
            assert fig["fills"] >= 1  # the band is a filled area
            assert drawn["observed front"] >= 1

            # A real click on a trial whose curve is not shown yet (the notebook showed the
            # best one): a finished trial's point if there is one, else a pruned or curve point.
            shown = set(page.evaluate(CURVE_NAMES, [PARETO]))
            target = next(
                (t["name"], i)
                for kind in ("trials (final)", "pruned", "curve points")
                for t in fig["traces"]
                if t["name"] == kind
                for i, run_id in enumerate(t["ids"])
                if run_label(store.run(run_id)["name"], run_id) not in shown
            )
            plot = page.locator(".js-plotly-plot", has_text=PARETO).first
            plot.scroll_into_view_if_needed()
            # Figures below refit their width once on the page, moving this one: click where
            # the point is once it stopped moving, and after the hover label names its trial.
            point, last = page.evaluate(POINT_XY, [PARETO, *target]), None
            while point != last:
                time.sleep(0.5)
                point, last = page.evaluate(POINT_XY, [PARETO, *target]), point
            chosen = store.run(point["id"])
            page.mouse.move(point["x"], point["y"])
            page.locator(".hoverlayer .hovertext", has_text=chosen["name"]).first.wait_for(
                timeout=5_000
            )
            page.mouse.click(point["x"], point["y"])
            page.wait_for_function(
                f"([t, name]) => ({CURVE_NAMES})([t]).includes(name)",
                arg=[PARETO, run_label(chosen["name"], chosen["id"])],
                timeout=15_000,
            )
            page.get_by_text(f"{chosen['name']} ({chosen['status']})").first.wait_for(timeout=5_000)
            assert_no_errors(page)
            warned = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
            assert warned.count() == 0, warned.first.inner_text()  # no warnings either
            page.screenshot(path=str(ARTIFACTS / "live_sweep-clicked.png"))

            # As a person would: hover over points, toggle the cost axis both ways, hover
            # again. Plotly's widget then receives the browser's own deltas back; any value
            # the view handed it that it cannot compare shows up as a kernel traceback.
            open_log_console(page)
            for axis in ("wall-clock seconds", "agent steps"):
                page.get_by_role("button", name=axis, exact=True).first.click()
                time.sleep(1.0)
                hover_points(page)
            page.get_by_role("button", name="agent steps", exact=True).first.click()
            time.sleep(2.0)
            assert_no_errors(page)
            logged = log_console_text(page)
            assert not ERROR_TEXT.search(logged), logged[:2000]
            assert "Traceback" not in logged and "Error" not in logged, logged[:2000]
            assert "Log level set to debug" in page.locator(".jp-LogConsole").first.inner_text()
            page.screenshot(path=str(ARTIFACTS / "live_sweep-log-console.png"))
            assert screenshots(page, "live_sweep") >= 3
        finally:
            browser.close()

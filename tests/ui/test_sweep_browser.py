"""Real browser: the live-sweep tutorial in JupyterLab + headless Chromium.

Runs ``05_live_sweep.ipynb`` (smoke budget) with Shift+Enter, then checks in the page that
the score-vs-cost figure plots at least every successful observation, that the model's
band and front are drawn, and that a real mouse click on a trial's point puts that
trial's curve in the curves figure. Screenshots of the whole notebook, scrolled a screen
at a time, go to ``test-artifacts/live_sweep-NN.png``.
"""

import time

from tests.ui.test_browser import (  # noqa: F401
    ARTIFACTS,
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
            (sweep_id,) = store.sweeps()["id"]
            obs = store.observations(sweep_id)
            finished = int((~obs["failed"] & obs["score"].notna()).sum())
            assert finished >= 5

            # The figure caught up with every observation (the view polls a few times a second).
            page.wait_for_function(
                f"([t, n]) => ({FIGURE_DATA})([t])?.points >= n", arg=[PARETO, finished]
            )
            fig = page.evaluate(FIGURE_DATA, [PARETO])
            drawn = {t["name"]: t["n"] for t in fig["traces"]}
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
            assert screenshots(page, "live_sweep") >= 3
        finally:
            browser.close()

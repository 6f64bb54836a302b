"""The HTML adoption report opened in a real browser (issue 12): headless Chromium (Debian's
`chromium`) driven by Playwright. The charts render with sizes, tables sort, the page makes
no request beyond its own file and runs nothing a repository wrote; printing shows the data
tables. The screenshot in docs/ comes from here (TETHER_UPDATE_SCREENSHOT=1 writes it).

Skipped where Chromium or Playwright is missing, unless TETHER_REQUIRE_BROWSER is set (CI
sets it and installs both, so the test cannot pass by not running)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bench.gen_history import generate
from scanner.cli import main
from tests.test_adoption_report import _hostile_state

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "adoption-report.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# what the machine's Chromium needs to start headless as root without reaching out
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHARTS = ("chart-teams", "chart-trend", "chart-rules", "chart-heatmap", "chart-delivery")


def _missing(why: str) -> None:
    if os.environ.get("TETHER_REQUIRE_BROWSER"):
        pytest.fail(f"TETHER_REQUIRE_BROWSER is set but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install playwright)")
    if CHROMIUM is None:
        _missing("no chromium on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _report(state: Path, out: Path) -> Path:
    result = CliRunner().invoke(main, ["report", "--state", str(state), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


class Page:
    """A page of the report, with everything it tried to fetch and every error it raised."""

    def __init__(self, browser: Any, path: Path, width: int = 1280) -> None:
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.problems.append(f"error: {e}"))
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )

        def dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)
        self.url = path.resolve().as_uri()
        self.page.goto(self.url, wait_until="load")

    def column(self, table: str, index: int) -> list[str]:
        cells = self.page.locator(f"#{table} tbody tr td:nth-child({index + 1})")
        return [str(c.get_attribute("data-v") or c.inner_text()) for c in cells.all()]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("history")
    # as docs/adoption.md's demo: the screenshot in docs/ shows what that command gives
    generate(state, repos=60, weeks=8, teams=8)
    return state


def test_charts_render_tables_sort_and_nothing_is_fetched(
    browser: Any, history: Path, tmp_path: Path
) -> None:
    page = Page(browser, _report(history, tmp_path / "report.html"))
    if os.environ.get("TETHER_UPDATE_SCREENSHOT"):
        page.page.screenshot(path=str(SCREENSHOT), full_page=False)
    assert page.requests == [page.url]
    assert page.problems == []  # a blocked script or resource would show here (CSP)
    for chart in CHARTS:
        svg = page.page.locator(f"#{chart}")
        box = svg.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 40, (chart, box)
        marks = svg.locator("rect, circle, path")
        assert marks.count() > 0, chart
        assert any((m.bounding_box() or {"width": 0})["width"] > 0 for m in marks.all()), chart
        # a text alternative: the title and description it is labelled by
        labels = (svg.get_attribute("aria-labelledby") or "").split()
        assert len(labels) == 2, chart
        for label in labels:
            assert page.page.locator(f"#{label}").text_content().strip(), (chart, label)
    # sorting the teams by adoption (third column): ascending, then descending
    header = page.page.locator("#teams thead th").nth(2)
    header.click()
    values = [float(v) for v in page.column("teams", 2) if v]
    assert values == sorted(values) and len(values) >= 2
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    values = [float(v) for v in page.column("teams", 2) if v]
    assert values == sorted(values, reverse=True)
    # text columns sort too, and a key press works like a click
    name = page.page.locator("#repositories thead th").nth(0)
    name.focus()
    name.press("Enter")
    names = page.column("repositories", 0)
    assert names == sorted(names, key=str.lower)
    page.page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    page.page.close()


def test_printing_shows_the_data_tables(browser: Any, history: Path, tmp_path: Path) -> None:
    page = Page(browser, _report(history, tmp_path / "report.html"))
    trend = page.page.locator("#trend")
    assert not trend.is_visible()  # folded on screen
    page.page.emulate_media(media="print")
    assert trend.is_visible()
    # A4 landscape is ~1,050 CSS pixels wide: no table runs off the page
    page.page.set_viewport_size({"width": 1050, "height": 700})
    assert page.page.evaluate("document.documentElement.scrollWidth") <= 1050
    # the list of every change stays folded in print (the JSON report has it)
    assert not page.page.locator("#changes").is_visible()
    pdf = page.page.pdf()
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    page.page.close()


def test_a_narrow_window_keeps_the_page_readable(
    browser: Any, history: Path, tmp_path: Path
) -> None:
    page = Page(browser, _report(history, tmp_path / "report.html"), width=800)
    width = page.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 800  # wide tables scroll inside their own box, not the page
    page.page.close()


def test_hostile_names_neither_run_nor_fetch(browser: Any, tmp_path: Path) -> None:
    state = _hostile_state(tmp_path / "s")
    page = Page(browser, _report(state, tmp_path / "report.html"))
    assert page.dialogs == []
    assert page.requests == [page.url]
    assert page.problems == []
    text = page.page.locator("#teams").inner_text()
    assert "<script>alert(1)</script>" in text  # shown as text
    page.page.close()

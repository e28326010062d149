"""Look at it: the HTML brief of a small run, rendered by a real headless Chromium.

The brief is what an adviser reads, so "the file was written" is not enough: the page must
load without console errors, every chart must decode (an ``<img>`` whose data is broken
has ``naturalWidth`` 0), and nothing may be wider than the window (a table pushing the page
sideways).  Chromium is Debian's ``chromium`` (``make test`` installs it when missing);
the test fails, never skips, without it.  It is driven over a pipe (tests/browser.py), so
nothing listens on any address.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from tests.browser import Chromium, PageReport, chromium_path

SCENARIOS = Path(__file__).parent.parent / "scenarios"
WIDTH = 1280  # a laptop window


@pytest.fixture(scope="module")
def what_if_brief(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Bosphorus what-if against the baseline, two replications each, as HTML."""
    root = tmp_path_factory.mktemp("brief_browser")
    base = sim.run(SCENARIOS / "baseline.yaml", replications=2, seed=7, executor="serial",
                   out=root / "baseline", progress=False)
    what_if = sim.run(SCENARIOS / "bosphorus_closed_10d_winter.yaml", replications=2, seed=7,
                      executor="serial", out=root / "bosphorus", progress=False)
    return sim.brief(what_if.path, vs=base.path, format="html")


@pytest.fixture(scope="module")
def rendered(what_if_brief: Path) -> PageReport:
    assert chromium_path() is not None, "chromium is not installed: run `make test` (it installs it) " \
                                        "or apt-get install chromium"
    with Chromium(width=WIDTH) as browser:
        return browser.inspect(what_if_brief)


@pytest.mark.slow
def test_the_brief_loads_without_console_errors(rendered: PageReport) -> None:
    assert rendered.console_errors == []


@pytest.mark.slow
def test_every_chart_of_the_brief_decodes(rendered: PageReport, what_if_brief: Path) -> None:
    # the brief embeds its charts; count them in the file so a brief with no <img> fails too
    assert len(rendered.images) == what_if_brief.read_text(encoding="utf-8").count("<img ") > 0
    assert rendered.broken_images == []


@pytest.mark.slow
def test_nothing_in_the_brief_is_wider_than_the_window(rendered: PageReport) -> None:
    assert rendered.inner_width == WIDTH
    assert rendered.scroll_width <= rendered.inner_width


@pytest.mark.slow
def test_the_brief_fits_a_half_screen_window(what_if_brief: Path) -> None:
    with Chromium(width=1024) as browser:
        report = browser.inspect(what_if_brief)
    assert report.scroll_width <= report.inner_width == 1024


@pytest.mark.slow
def test_a_broken_page_is_reported(tmp_path: Path) -> None:
    """The checks can fail: a page with a console error, a missing image and a wide table."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><img src='missing.png'><table><tr><td><div style='width:3000px'>"
                    "a wide cell</div></td></tr></table>"
                    "<script>console.error('broken on purpose')</script></body></html>", encoding="utf-8")
    with Chromium(width=800) as browser:
        report = browser.inspect(page)
    assert "broken on purpose" in report.console_errors
    assert any("missing.png" in e for e in report.console_errors)
    assert report.broken_images == [(tmp_path / "missing.png").as_uri()]
    assert report.scroll_width > report.inner_width == 800

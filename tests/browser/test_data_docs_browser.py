"""Great Expectations' Data Docs in headless Chromium, with every outside request blocked.

The site is the one a coordinator gets from an ingest of the small synthetic cohort (the staged
gate writes one validation per table into ``reporting/data_docs/``). Opened from disk, its index
must list every validation (bootstrap-table builds that list in the browser: without jQuery and
bootstrap-table it stays empty) with no console error and no request leaving ``file:``.
Skipped only when Chromium is not installed (``make test`` installs it when it can).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from synth_dates import SYNTH_AS_OF

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not installed (Debian: apt-get install chromium; `make test` installs it when run as root)",
)

TABLE = "#section-1-content-block-2-1-body-table"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from proximite.cohort.sandbox.synth import generate_cohort
    from proximite.config import load_settings
    from proximite.pipeline import ingest

    root = tmp_path_factory.mktemp("data-docs")
    generate_cohort(root / "input", families=40, territories=2, seed=5, as_of=SYNTH_AS_OF)
    settings = load_settings(root / "project")
    ingest(root / "input", settings=settings)
    return settings.reporting_dir / "data_docs"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from cdp import launch

    profile = tmp_path_factory.mktemp("chromium") / "profile"
    with launch(profile) as running:
        yield running


def _kept_suites(site: Path) -> set[str]:
    from proximite.expectations.great_expectations import STORE_FOLDER

    return {json.loads(path.read_text(encoding="utf-8"))["result"]["suite_name"] for path in (site / STORE_FOLDER).glob("*.json")}


def _offline_page(browser: Any, url: str) -> Any:
    page_context = browser.page()
    page = page_context.__enter__()
    # Any request that would leave the machine fails, as it would on an offline workstation.
    page.send("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
    page.navigate(url)
    page.drain(0.5)
    return page_context, page


def test_the_index_lists_every_validation_offline(site: Path, browser: Any) -> None:
    suites = _kept_suites(site)
    assert len(suites) >= 10  # one per staged table of the four sources
    context, page = _offline_page(browser, (site / "index.html").resolve().as_uri())
    try:
        assert page.console_errors() == []
        foreign = [address for address in page.requested_urls() if not address.startswith(("file:", "data:"))]
        assert foreign == [] and _missing_files(page) == []
        assert page.evaluate("typeof jQuery") == "function"
        listed = page.evaluate(f"$('{TABLE}').bootstrapTable('getData', {{useCurrentPage: false}}).map(r => r._table_row_link_path)")
        assert len(listed) == len(suites)
        names = {Path(link).parts[1] + "." + Path(link).parts[2] for link in listed}
        assert names == suites
        # Every row links to a page that exists, and the first page of rows is drawn.
        assert all((site / link).is_file() for link in listed)
        drawn = page.evaluate(f"document.querySelectorAll('{TABLE} tbody tr.clickable-row').length")
        assert drawn == min(len(suites), 10)
        # Font Awesome's font is loaded from the site: the status icons are drawn.
        assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
    finally:
        context.__exit__(None, None, None)


def _missing_files(page: Any) -> list[str]:
    from urllib.parse import unquote, urlparse

    local = [urlparse(address).path for address in page.requested_urls() if address.startswith("file:")]
    return [path for path in local if not Path(unquote(path)).is_file()]


@pytest.mark.parametrize("kind", ["validations", "expectations"])
def test_a_suite_and_a_validation_page_open_offline(site: Path, browser: Any, kind: str) -> None:
    page_path = next(iter(sorted((site / kind).rglob("*.html"))))
    context, page = _offline_page(browser, page_path.resolve().as_uri())
    try:
        assert page.console_errors() == []
        assert [address for address in page.requested_urls() if not address.startswith(("file:", "data:"))] == []
        assert _missing_files(page) == []
        assert page.evaluate("typeof jQuery.fn.bootstrapTable") == "function"
        assert "Expectation" in page.evaluate("document.body.innerText")
    finally:
        context.__exit__(None, None, None)

"""The transfer pages in a real browser: every page kind (overview, region, territory, glossary) in
both languages, opened from disk in headless Chromium through the DevTools protocol.

Each page must load with no console error and no request other than ``file:``/``data:`` (it opens
offline), show its language's words, link only to pages of the snapshot that exist, and give a
screenshot; the territory report must print as a PDF of two to four letter pages (the page count
is read from the PDF's page objects). Skipped only when Chromium is not installed.
"""

from __future__ import annotations

import re
from urllib.parse import unquote
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from proximite.cohort.codebook import load_codebook

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not installed (Debian: apt-get install chromium; `make test` installs it when run as root)",
)

CB = load_codebook()


@pytest.fixture(scope="module")
def snapshot(small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from proximite.indicators import IndicatorParameters, compute_all
    from proximite.indicators.snapshot import write_snapshot

    tables, _truth = small_cohort
    parameters = IndicatorParameters()
    out = tmp_path_factory.mktemp("transfer") / "snapshot"
    return write_snapshot(
        compute_all(tables, parameters=parameters),
        out,
        territory=tables["territory"],
        region=tables["region"],
        context={"build_id": "browser-test", "code_version": "test", "parameters": parameters.to_dict()},
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from cdp import launch

    with launch(tmp_path_factory.mktemp("chromium") / "profile") as running:
        yield running


def _page(snapshot: Path, kind: str, lang: str) -> Path:
    suffix = ".html" if lang == "fr" else ".en.html"
    if kind in ("overview", "glossary"):
        return snapshot / f"{kind}{suffix}"
    folder = "regions" if kind == "region" else "territories"
    first = sorted(path for path in (snapshot / folder).glob("*.html") if path.name.count(".") == 1)[0]
    return snapshot / folder / f"{first.stem}{suffix}"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def pdf_pages(path: Path) -> int:
    """Pages of a PDF: its ``/Type /Page`` objects (``/Pages`` nodes left out)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", path.read_bytes()))


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("kind", ["overview", "region", "territory", "glossary"])
def test_every_transfer_page_opens_offline(snapshot: Path, browser: Any, kind: str, lang: str, tmp_path: Path) -> None:
    path = _page(snapshot, kind, lang)
    with browser.page() as page:
        page.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 1600, "deviceScaleFactor": 1, "mobile": False})
        page.navigate(path.resolve().as_uri())
        assert page.console_errors() == []
        assert [url for url in page.requested_urls() if not url.startswith(("file:", "data:"))] == []
        assert page.evaluate("document.documentElement.lang") == lang
        text = page.evaluate("document.body.innerText")
        assert CB.snapshot_text("glossary_link", lang=lang) in text
        # Every link leads to a page of the snapshot that exists (or to an anchor).
        targets = page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => new URL(a.getAttribute('href'), document.baseURI).href)")
        for target in targets:
            if target.startswith("file:") and "#" not in target:
                assert Path(unquote(target.removeprefix("file://"))).exists(), target
        if kind == "glossary":
            for term in ("freeman_centralisation", "blau_diversity", "jaccard_stability", "delta", "waves", "fixed_effects", "warehouse"):
                assert page.evaluate(f"!!document.getElementById('{term}')"), term
        else:
            assert CB.snapshot_text("transfer_meaning_heading", lang=lang) in text
            # Every chart has a visible size and names itself; the charts have axis titles.
            charts = page.evaluate(
                "Array.from(document.querySelectorAll('svg[role=img]')).map(s => s.getBoundingClientRect().width)"
            )
            assert charts and all(width > 100 for width in charts)
            assert page.evaluate("document.querySelectorAll('svg .axis-title').length") >= 1
        if kind == "overview":
            # Three maps of the 17 regions; the regions that have a page link to it.
            assert page.evaluate("document.querySelectorAll('svg.tile-map').length") == 3
            assert page.evaluate("document.querySelectorAll('svg.tile-map a.tile').length") == 3 * 17
            linked = page.evaluate("Array.from(document.querySelectorAll('a.tile')).filter(a => a.getAttribute('href') !== '#').length")
            assert linked >= 3 * len(list((snapshot / "regions").glob("??.html")))
        shot = page.screenshot(tmp_path / f"{kind}-{lang}.png")
        assert _png_size(shot) == (1280, 1600) and shot.stat().st_size > 10_000
        if kind == "territory":
            pdf = page.print_pdf(tmp_path / f"territory-{lang}.pdf")
            assert 2 <= pdf_pages(pdf) <= 4, pdf_pages(pdf)
        page.drain(0.2)
        assert page.console_errors() == []

"""The snapshot in a real browser: headless Chromium driven through the DevTools protocol.

The snapshot is written from the small synthetic cohort's indicators (``compute_all``, no
warehouse) and opened from disk in both languages. The test fails on any console error or
uncaught exception, and on any request whose URL is not ``file:`` or ``data:`` (the page must
open offline). Skipped only when Chromium is not installed (``make test`` installs it when it can).
"""

from __future__ import annotations

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
PAGES = {"fr": "index.html", "en": "index.en.html"}


@pytest.fixture(scope="module")
def snapshot(small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from proximite.indicators import IndicatorParameters, compute_all
    from proximite.indicators.snapshot import write_snapshot

    tables, _truth = small_cohort
    parameters = IndicatorParameters()
    computed = compute_all(tables, parameters=parameters)
    out = tmp_path_factory.mktemp("browser") / "snapshot"
    return write_snapshot(
        computed,
        out,
        territory=tables["territory"],
        region=tables["region"],
        context={"build_id": "browser-test", "code_version": "test", "parameters": parameters.to_dict()},
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from cdp import launch

    profile = tmp_path_factory.mktemp("chromium") / "profile"
    with launch(profile) as running:
        yield running


def _is_png(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_snapshot_opens_offline_without_errors(snapshot: Path, browser: Any, lang: str, tmp_path: Path) -> None:
    url = (snapshot / PAGES[lang]).resolve().as_uri()
    with browser.page() as page:
        page.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 1600, "deviceScaleFactor": 1, "mobile": False})
        page.navigate(url)
        assert page.console_errors() == []
        requested = page.requested_urls()
        assert requested, "the page was never requested"
        foreign = [address for address in requested if not address.startswith(("file:", "data:"))]
        assert foreign == []

        assert page.evaluate("document.documentElement.lang") == lang
        text = page.evaluate("document.body.innerText")
        assert CB.indicator_label("reach.families_reached", lang=lang) in text
        assert CB.indicator_label("isolation.mean_index", lang=lang) in text
        assert CB.snapshot_text("toc_heading", lang=lang) in text
        assert CB.label("component", "soutien", lang=lang) in text
        other = "en" if lang == "fr" else "fr"
        assert CB.snapshot_text("other_language", lang=lang) in text
        assert page.evaluate(f"document.querySelector('a[hreflang=\"{other}\"]').getAttribute('href')") == (
            "index.en.html" if lang == "fr" else "index.html"
        )

        # Charts render as SVG with a size, and each names itself.
        charts = page.evaluate(
            "Array.from(document.querySelectorAll('svg[role=img]')).map(s => "
            "[s.getBoundingClientRect().width, s.getAttribute('aria-labelledby')])"
        )
        assert len(charts) >= 5
        assert all(width > 100 and label for width, label in charts)
        # Every table has a caption; the contents link to every section.
        assert page.evaluate("Array.from(document.querySelectorAll('table')).every(t => t.caption && t.caption.textContent.trim())")
        assert page.evaluate(
            "Array.from(document.querySelectorAll('nav.toc a')).every(a => document.getElementById(a.hash.slice(1)))"
        )

        # Printable: every section starts a new page under print media.
        page.send("Emulation.setEmulatedMedia", {"media": "print"})
        breaks = page.evaluate(
            "Array.from(document.querySelectorAll('section.scope')).map(s => getComputedStyle(s).breakBefore)"
        )
        assert breaks and set(breaks) == {"page"}
        page.send("Emulation.setEmulatedMedia", {"media": ""})

        shot = page.screenshot(tmp_path / f"snapshot-{lang}.png")
        width, height = _is_png(shot)
        assert shot.stat().st_size > 10_000 and (width, height) == (1280, 1600)
        page.drain(0.2)
        assert page.console_errors() == []
        assert [address for address in page.requested_urls() if not address.startswith(("file:", "data:"))] == []

"""The snapshot's effectiveness section: empowerment and parental stress from a computed cohort.

The small synthetic cohort's effectiveness family, after public disclosure control, written as a
snapshot: the Québec page and a territory page carry the section's heading, a chart on the 1–5
scale and one table per score with its mean, change, meaningful change and weighted effect.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from proximite.cohort.codebook import load_codebook
from proximite.indicators import compute_all
from proximite.indicators.base import IndicatorParameters
from proximite.indicators.disclosure import apply_disclosure
from proximite.indicators.snapshot import write_snapshot

CB = load_codebook()


@pytest.fixture(scope="module")
def snapshot(small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]], tmp_path_factory) -> tuple[Path, Any]:
    tables, _ = small_cohort
    table = compute_all(tables, parameters=IndicatorParameters(), families=["reach", "isolation", "effectiveness"])
    published = apply_disclosure(table, level="public", territory=tables["territory"])
    out = tmp_path_factory.mktemp("snapshot") / "snapshot"
    context = {"lang": "en", "level": "public"}
    return write_snapshot(published, out, territory=tables["territory"], region=tables["region"], context=context,
                          formats=["html"]), tables


def _section(html: str) -> str:
    """The effectiveness block of a page (from its heading to the next block's heading)."""
    start = html.index("Empowerment and parental stress")
    following = re.search(r"<h3", html[start:])
    return html[start: start + following.start()] if following else html[start:]


def test_quebec_page_has_the_effectiveness_section(snapshot: tuple[Path, Any]) -> None:
    out, _ = snapshot
    block = _section((out / "index.html").read_text(encoding="utf-8"))
    for indicator in ("effectiveness.empowerment_mean", "effectiveness.parental_stress_mean",
                      "effectiveness.empowerment_change", "effectiveness.parental_stress_meaningful_change",
                      "effectiveness.empowerment_adjusted_effect_ipw"):
        assert CB.indicator_label(indicator, lang="en") in block, indicator
    assert "<svg" in block  # the chart of the two means
    assert "Mean empowerment and parental stress by wave (1 to 5)" in block


def test_every_scope_section_has_it(snapshot: tuple[Path, Any]) -> None:
    out, tables = snapshot
    html = (out / "index.html").read_text(encoding="utf-8")
    # Québec, each region and each territory has its section (headings in the blocks' <h3>).
    scopes = 1 + tables["territory"]["region_code"].nunique() + tables["territory"]["territory_id"].nunique()
    assert len(re.findall(r"<h3[^>]*>Empowerment and parental stress</h3>", html)) == scopes

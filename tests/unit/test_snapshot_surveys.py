"""The snapshot's questionnaire sections: the partner and the PTP/manager questionnaires by year.

The small synthetic cohort's two questionnaire families (and the concertation family, whose
periods share the page), after public disclosure control, written as a snapshot: each scope's
section has a block per questionnaire whose table has one column per survey year, the labels of
the catalogue in the page's language, and hidden cells marked as every other hidden cell.
"""

from __future__ import annotations

import html
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
from proximite.indicators.snapshot.html import SURVEY_TABLES

CB = load_codebook()


@pytest.fixture(scope="module")
def snapshot(small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]], tmp_path_factory) -> tuple[Path, pd.DataFrame, Any]:
    tables, _ = small_cohort
    table = compute_all(tables, parameters=IndicatorParameters(), families=["concertation", "partner_survey", "staff_survey"])
    published = apply_disclosure(table, level="public", territory=tables["territory"])
    out = tmp_path_factory.mktemp("snapshot") / "snapshot"
    write_snapshot(published, out, territory=tables["territory"], region=tables["region"],
                   context={"lang": "fr", "level": "public"}, formats=["html"])
    return out, published, tables


def _block(page: str, family: str) -> str:
    """A questionnaire's block of a page (entities decoded: labels compare as written)."""
    start = page.index(f'class="block block-{family}"')
    following = page.find('class="block ', start + 10)
    return html.unescape(page[start: following if following > 0 else len(page)])


@pytest.mark.parametrize("family", list(SURVEY_TABLES))
def test_quebec_block_has_a_column_per_survey_year(snapshot, family: str) -> None:
    out, published, _ = snapshot
    block = _block((out / "index.html").read_text(encoding="utf-8"), family)
    years = sorted(published.loc[published["indicator"].str.startswith(family + "."), "period"].unique())
    assert years and all(re.fullmatch(r"\d{4}", year) for year in years)
    assert CB.indicator_family_label(family) in block
    header = re.search(r"<thead>(.*?)</thead>", block, re.S).group(1)
    assert [year for year in years if f">{year}<" in header] == years
    quebec = published[(published["scope"] == "quebec") & (published["stratum"] == "all")
                       & (published["breakdown"] == "all") & published["indicator"].isin(SURVEY_TABLES[family])]
    for indicator in quebec["indicator"].unique():
        assert CB.indicator_label(indicator) in block, indicator
    if quebec["suppressed"].any():
        assert ">x<" in block  # the page's mark of a hidden cell


def test_english_labels_and_every_scope_has_both_blocks(snapshot) -> None:
    out, _, tables = snapshot
    english = (out / "index.en.html").read_text(encoding="utf-8")
    assert CB.indicator_label("partner_survey.tie_overlap", lang="en") in _block(english, "partner_survey")
    assert CB.indicator_label("staff_survey.registry_worker_turnover", lang="en") in _block(english, "staff_survey")
    scopes = 1 + tables["territory"]["region_code"].nunique() + tables["territory"]["territory_id"].nunique()
    for family in SURVEY_TABLES:
        assert english.count(f'class="block block-{family}"') == scopes


def test_respondents_counts_are_disclosure_controlled(snapshot) -> None:
    _, published, _ = snapshot
    staff = published[published["indicator"].str.startswith("staff_survey.") & (published["unit"] == "share")]
    small = staff["n"].notna() & (staff["n"] < 5) & (staff["n"] > 0)
    assert not small.any()  # a published share never rests on one to four people
    assert staff["suppressed"].any()
    territory = staff[staff["scope"] == "territory"]
    assert territory["suppressed"].all()  # one PTP and one manager per territory and year

"""Transfer pages: gap ranking, rounding, the tile map, local time, the glossary, the files written."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from proximite.cohort.codebook import load_codebook
from proximite.indicators.snapshot.formatting import format_datetime
from proximite.indicators.snapshot.glossary import glossary_entries
from proximite.indicators.snapshot.html import rankable, rounding_shift, top_service_gaps
from proximite.indicators.snapshot.meaning import change_direction
from proximite.indicators.snapshot.tilemap import TILE_GRID, Tile, class_breaks, tile_map
from proximite.indicators.snapshot.transfer import page_file

CB = load_codebook()


def _gap(category: str, value: float | None, denominator: float, *, suppressed: bool = False) -> dict:
    return {"breakdown_value": category, "value": value, "denominator": denominator, "n": denominator, "unit": "share",
            "suppressed": suppressed, "period": "all", "wave": None}


def test_top_gaps_rank_only_published_non_zero_cells_stable_under_rounding() -> None:
    rows = [
        _gap("garde", 0.0, 200),  # a zero is no gap
        _gap("logement", None, 200, suppressed=True),  # hidden: no rank
        _gap("transport", 0.6, 10),  # 60 % of 10 rounded: may read 50-70 %, never ranked
        _gap("emploi", 0.12, 120),
        _gap("sante", 0.30, 80),
    ]
    assert [row["breakdown_value"] for row in top_service_gaps(rows, rounding_base=5)] == ["sante", "emploi"]
    # Nothing publishable: an empty list (the page then says so), never a list of zeros.
    assert top_service_gaps(rows[:3], rounding_base=5) == []
    # Unrounded (internal) cells are ranked however small.
    assert top_service_gaps(rows, rounding_base=1)[0]["breakdown_value"] == "transport"


def test_rounding_shift_is_half_the_base_over_the_denominator() -> None:
    assert rounding_shift(_gap("x", 0.6, 10), rounding_base=5) == pytest.approx(0.25)
    assert rounding_shift(_gap("x", 0.6, 100), rounding_base=5) == pytest.approx(0.025)
    assert rounding_shift({"unit": "share", "value": 0.5}, rounding_base=5) == 1.0
    assert rounding_shift({"unit": "mean", "value": 50.0}, rounding_base=5) == 0.0
    assert rankable(_gap("x", 0.6, 50), rounding_base=5) and not rankable(_gap("x", 0.6, 49), rounding_base=5)


def test_tile_map_places_the_17_regions_and_never_colours_a_hidden_cell() -> None:
    assert sorted(TILE_GRID) == [f"{code:02d}" for code in range(1, 18)]
    assert len(set(TILE_GRID.values())) == 17  # no two tiles overlap
    tiles = [Tile(code, f"Région {code}", "x" if code == "06" else "1", None if code == "06" else float(int(code)), f"regions/{code}.html")
             for code in TILE_GRID]
    svg = tile_map(tiles, chart_id="m", title="Carte", legend={"not_shown": "masqué", "range": "{low}–{high}"}, format_value=str)
    assert svg.count('<a href="regions/') == 17
    montreal = re.search(r'<a href="regions/06.html".*?</a>', svg).group(0)
    assert 'fill="url(#m-hatch)"' in montreal
    assert class_breaks([1.0, 6.0]) == pytest.approx([2.0, 3.0, 4.0, 5.0]) and class_breaks([3.0, 3.0]) == []


def test_generated_at_is_shown_in_montreal_time() -> None:
    moment = dt.datetime(2025, 11, 21, 19, 24, tzinfo=dt.timezone.utc)
    assert format_datetime(moment) == "2025-11-21 14:24 UTC\u221205:00"
    summer = dt.datetime(2025, 7, 1, 16, 0, tzinfo=dt.timezone.utc)
    assert format_datetime(summer) == "2025-07-01 12:00 UTC\u221204:00"


def test_change_direction_reads_the_interval() -> None:
    assert change_direction({"value": -5.0, "ci_low": -8.0, "ci_high": -2.0}) == "down"
    assert change_direction({"value": -1.0, "ci_low": -4.0, "ci_high": 2.0}) == "unclear"
    assert change_direction({"value": 3.0, "ci_low": 1.0, "ci_high": 5.0}) == "up"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_glossary_explains_every_technical_term(lang: str) -> None:
    entries = {entry["id"]: entry for entry in glossary_entries(CB, lang=lang)}
    for term in ("freeman_centralisation", "blau_diversity", "jaccard_stability", "delta", "waves", "fixed_effects",
                 "warehouse", "suppressed", "rounding", "confidence_interval"):
        assert entries[term]["term"] and len(entries[term]["definition"]) > 40


def test_page_files_per_audience() -> None:
    assert page_file("region", "06", lang="fr", default_lang="fr") == "regions/06.html"
    assert page_file("territory", "T06-01", lang="en", default_lang="fr") == "territories/T06-01.en.html"
    assert page_file("overview", "", lang="fr", default_lang="fr") == "overview.html"

"""The decision-makers' snapshot: page, data files and manifest, from a tiny indicator table.

The table is written here (every family and scope: Québec, two regions, three territories, the
environment and host-type strata, waves, registry periods and breakdowns), so each test knows
which cell holds which number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from proximite.cohort.codebook import load_codebook
from proximite.indicators.base import INDICATOR_COLUMNS, indicator_frame
from proximite.indicators.snapshot import (
    FORMATS,
    SnapshotContext,
    SnapshotError,
    SnapshotFormat,
    parse_scope,
    select_scope,
    snapshot_dir,
    write_snapshot,
)
from proximite.indicators.snapshot.formatting import NBSP, NNBSP, Formatter, format_money, format_number, format_percent
from page_text import number_faults

CB = load_codebook()

TERRITORY = pd.DataFrame(
    {
        "territory_id": ["T06-01", "T06-02", "T03-01"],
        "name": ["Quartier Brisson", "Grand-Clairval", "Petit-Desrosiers"],
        "region_code": ["06", "06", "03"],
        "environment": ["urbain", "rural", "mixte"],
        "host_type": ["OCF", "CPSC", "OCF"],
        "redcap_dag": ["t06_01", "t06_02", "t03_01"],
    }
).astype("string")
REGION = pd.DataFrame(
    {
        "region_code": ["03", "06"],
        "name_fr": ["Capitale-Nationale", "Montréal"],
        "name_en": ["Capitale-Nationale", "Montreal"],
        "children_0_5": [45418, 100000],
    }
)
PERIODS = [
    ("T0", 0, "2024-01-01", "2024-06-30"),
    ("T6", 6, "2024-07-01", "2024-12-31"),
    ("T12", 12, "2025-01-01", "2025-06-30"),
]
WHOLE = ("all", None, "2024-01-01", "2025-06-30")
WAVES = (0, 6, 12)
#: Families reached per territory and period (T03-01 reaches 3 families in T12: suppressed).
REACHED = {"T06-01": (120, 150, 140), "T06-02": (40, 60, 55), "T03-01": (30, 20, 3)}
#: Themes of the qualitative strand: (axis, theme, sessions per territory); 3 is a small count.
QUAL_THEMES = (("pertinence", "Transport", 7), ("acceptabilite", "Confiance envers la PTP", 9), ("autre", "Roulement", 3))
GAPS = {"logement": 0.30, "transport": 0.20, "garde": 0.12, "alimentation": 0.05, "juridique": 0.02}


def _cells() -> list[dict[str, str]]:
    """Every scope cell of the three territories: Québec and regions by stratum, territories."""
    cells = [{"scope": "quebec", "scope_id": "QC", "stratum": "all", "stratum_value": "all"}]
    for stratum in ("environment", "host_type"):
        for value in sorted(set(TERRITORY[stratum])):
            cells.append({"scope": "quebec", "scope_id": "QC", "stratum": stratum, "stratum_value": value})
    for region in ("03", "06"):
        cells.append({"scope": "region", "scope_id": region, "stratum": "all", "stratum_value": "all"})
        members = TERRITORY[TERRITORY["region_code"] == region]
        for stratum in ("environment", "host_type"):
            for value in sorted(set(members[stratum])):
                cells.append({"scope": "region", "scope_id": region, "stratum": stratum, "stratum_value": value})
    for territory in TERRITORY["territory_id"]:
        cells.append({"scope": "territory", "scope_id": territory, "stratum": "all", "stratum_value": "all"})
    return cells


def _members(cell: dict[str, str]) -> list[str]:
    frame = TERRITORY
    if cell["scope"] == "region":
        frame = frame[frame["region_code"] == cell["scope_id"]]
    if cell["scope"] == "territory":
        frame = frame[frame["territory_id"] == cell["scope_id"]]
    if cell["stratum"] != "all":
        frame = frame[frame[cell["stratum"]] == cell["stratum_value"]]
    return list(frame["territory_id"])


def _share(numerator: float, denominator: float, **labels: Any) -> dict[str, Any]:
    value = numerator / denominator
    half = 1.96 * np.sqrt(value * (1 - value) / denominator)
    return {**labels, "numerator": numerator, "denominator": denominator, "value": value,
            "ci_low": max(value - half, 0.0), "ci_high": min(value + half, 1.0), "n": int(denominator),
            "unit": "share", "method": "wilson"}


def indicator_table() -> pd.DataFrame:
    """The tiny indicator table: one row per scope cell × indicator × wave/period × breakdown."""
    rows: list[dict[str, Any]] = []
    for cell in _cells():
        members = _members(cell)
        k = len(members)
        periods = [(label, wave, start, end, [REACHED[t][i] for t in members]) for i, (label, wave, start, end) in enumerate(PERIODS)]
        periods.append((*WHOLE, [sum(REACHED[t]) for t in members]))
        for label, _wave, start, end, reached in periods:
            # Registry rows have a period and no wave, as the indicators write them (waves have period "all").
            base = {**cell, "period": label, "wave": None, "period_start": start, "period_end": end}
            families = float(sum(reached))
            rows.append({**base, "indicator": "reach.families_reached", "value": families, "numerator": families,
                         "n": int(families), "unit": "count", "method": "count"})
            rows.append(_share(round(0.6 * families), families, **base, indicator="reach.isolated_at_contact_share"))
            rows.append({**base, "indicator": "reach.children", "value": 2 * families, "numerator": 2 * families,
                         "n": int(2 * families), "unit": "count", "method": "count"})
            rows.append(_share(round(0.5 * 2 * families), 2 * families, **base, indicator="reach.children_0_5_share"))
            rows.append(_share(round(0.8 * families), families, **base, indicator="needs_offer.referral_completion"))
            rows.append({**base, "indicator": "concertation.active_partners", "value": 7.0 * k, "numerator": 7.0 * k,
                         "n": 7 * k, "unit": "count", "method": "count"})
            for measure, value in (("density", 0.3), ("reciprocity", 0.4), ("degree_centralisation", 0.5), ("blau_diversity", 0.6)):
                rows.append({**base, "indicator": f"concertation.{measure}", "value": value, "n": k, "unit": "ratio",
                             "method": "networkx"})
                if label not in ("T0", "all"):
                    rows.append({**base, "indicator": f"concertation.{measure}_change", "value": 0.05, "n": k,
                                 "unit": "ratio", "method": "difference"})
            hours = {"proximite": 100.0 * k, "soutien": 250.0 * k, "concertation": 50.0 * k}
            for component, value in hours.items():
                rows.append({**base, "indicator": "implementation.ptp_hours", "breakdown": "component",
                             "breakdown_value": component, "value": value, "numerator": value, "n": 10 * k,
                             "unit": "hours", "method": "sum"})
            rows.append({**base, "indicator": "implementation.ptp_hours", "value": sum(hours.values()),
                         "numerator": sum(hours.values()), "n": 30 * k, "unit": "hours", "method": "sum"})
            rows.append({**base, "indicator": "implementation.travel_share", "value": 0.125, "n": 30 * k,
                         "unit": "share", "method": "ratio"})
            rows.append(_share(round(0.3 * 2 * families), 2 * families, **base,
                               indicator="systemic.cross_network_referral_share"))
        for wave in WAVES:
            base = {**cell, "wave": wave, "period": "all"}
            assessed = 50.0 * k - 2 * wave * k
            mean = 60.0 - wave
            rows.append({**base, "indicator": "isolation.mean_index", "value": mean, "ci_low": mean - 3,
                         "ci_high": mean + 3, "n": int(assessed), "unit": "mean", "method": "mean"})
            rows.append(_share(round((0.55 - wave / 100) * assessed), assessed, **base, indicator="isolation.share_isolated"))
            rows.append(_share(round((0.4 + wave / 100) * assessed), assessed, **base, indicator="needs_offer.match_rate"))
            rows.append(_share(round(0.8 * assessed), assessed, **base, indicator="acceptability.trust_agree_share"))
            for score in ("empowerment", "parental_stress"):
                rows.append({**base, "indicator": f"effectiveness.{score}_mean", "value": 3.2, "ci_low": 3.0,
                             "ci_high": 3.4, "n": int(assessed), "unit": "mean", "method": "mean"})
                if wave:
                    rows.append(_share(round(0.4 * assessed), assessed, **base,
                                       indicator=f"effectiveness.{score}_meaningful_change"))
            rows.append({**base, "indicator": "relevance.non_recours_mean", "value": 1.5 - wave / 24, "ci_low": 1.3 - wave / 24,
                         "ci_high": 1.7 - wave / 24, "n": int(assessed), "unit": "mean", "method": "mean"})
            if wave:
                rows.append({**base, "indicator": "isolation.change_from_baseline", "value": -float(wave),
                             "ci_low": -wave - 2.0, "ci_high": -wave + 2.0, "n": int(assessed), "unit": "points",
                             "method": "paired"})
                rows.append(_share(round(0.25 * assessed), assessed, **base, indicator="isolation.leaving_isolation"))
        base = {**cell, "period": "all"}
        needs = 100.0 * k
        for category, share in GAPS.items():
            rows.append(_share(round(share * needs), needs, **base, indicator="needs_offer.service_gaps",
                               breakdown="need_category", breakdown_value=category))
        rows.append(_share(round(0.69 * needs), needs, **base, indicator="needs_offer.service_gaps"))
        rows.append({**base, "indicator": "needs_offer.time_to_met", "value": 42.0, "ci_low": 35.0, "ci_high": 50.0,
                     "n": int(needs), "unit": "days", "method": "Kaplan-Meier"})
        # The yearly questionnaires: their periods are survey years.
        year = {**cell, "period": "2024", "period_start": "2024-01-01", "period_end": "2024-12-31"}
        rows.append(_share(6.0 * k, 10.0 * k, **year, indicator="partner_survey.response_rate"))
        rows.append({**year, "indicator": "partner_survey.reported_density", "value": 0.4, "n": 8 * k, "unit": "ratio",
                     "method": "networkx"})
        rows.append(_share(5.0 * k, 10.0 * k, **year, indicator="staff_survey.intention_to_stay_share"))
        rows.append({**base, "indicator": "qualitative.sessions", "value": 12.0 * k, "numerator": 12.0 * k, "n": 12 * k,
                     "unit": "count", "method": "count"})
        for axis, theme, count in QUAL_THEMES:
            rows.append({**base, "indicator": "qualitative.theme_sessions", "breakdown": axis, "breakdown_value": theme,
                         "value": float(count * k), "numerator": float(count * k), "n": count * k, "unit": "count",
                         "method": "count"})
    frame = pd.DataFrame(rows)
    return indicator_frame(frame)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return indicator_table()


@pytest.fixture(scope="module")
def context() -> SnapshotContext:
    return SnapshotContext(
        lang="fr",
        level="public",
        build_id="20250101T000000Z-abc123",
        code_version="0.1.0+test",
        generated_at=dt.datetime(2025, 11, 21, 14, 24, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        parameters={"confidence": 0.95, "strata": ["environment", "host_type"], "waves": [0, 6, 12]},
    )


@pytest.fixture(scope="module")
def snapshot(table: pd.DataFrame, context: SnapshotContext, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("snapshot") / "snapshot-2025-11-21"
    return write_snapshot(table, out, territory=TERRITORY, region=REGION, context=context)


def _page(snapshot: Path, name: str = "index.html") -> str:
    return (snapshot / name).read_text(encoding="utf-8")


def _text(html: str) -> str:
    """The page's text without tags (entities left as they are)."""
    return re.sub(r"<[^>]+>", " ", html)


# ------------------------------------------------------------------ fixture sanity
def test_the_fixture_table_covers_every_family_and_scope(table: pd.DataFrame) -> None:
    assert list(table.columns) == INDICATOR_COLUMNS
    families = {CB.indicator(indicator)["family"] for indicator in table["indicator"]}
    assert families == set(CB.indicator_families)
    assert set(table["scope"]) == {"quebec", "region", "territory"}
    assert set(table["stratum"]) == {"all", "environment", "host_type"}
    unknown = set(table["indicator"]) - set(CB.indicators)
    assert not unknown


def test_every_snapshot_string_has_both_languages_with_the_same_fields() -> None:
    import string

    fields = lambda text: {name for _, name, _, _ in string.Formatter().parse(text) if name}  # noqa: E731
    assert len(CB.snapshot_strings) > 50
    for key, label in CB.snapshot_strings.items():
        assert label.fr.strip() and label.en.strip(), key
        assert fields(label.fr) == fields(label.en), key
    assert CB.snapshot_text("scope_region", lang="fr", code="06", name="Montréal") == "Région 06 – Montréal"
    with pytest.raises(Exception, match="snapshot.yaml"):
        CB.snapshot_text("no_such_key")


# ------------------------------------------------------------------ formatting
def test_numbers_in_french_and_english() -> None:
    # French: narrow no-break spaces between thousands and before %, a no-break space before $.
    assert format_number(12345.678, decimals=1, lang="fr") == f"12{NNBSP}345,7"
    assert format_number(12345.678, decimals=1, lang="en") == "12,345.7"
    assert format_number(-2.25, decimals=1, lang="en") == "\u22122.2"  # round half to even, then the minus sign
    assert format_percent(0.6112, lang="fr") == f"61,1{NNBSP}%"
    assert format_money(1234567.4, lang="fr") == f"1{NNBSP}234{NNBSP}567{NBSP}$"
    assert format_percent(0.6112, lang="en") == "61.1%"
    fr = Formatter("fr")
    assert fr.value({"value": 1234.0, "unit": "count"}) == f"1{NNBSP}234"
    assert fr.value({"value": 0.599, "unit": "share"}) == f"59,9{NNBSP}%"
    assert Formatter("en").value({"value": 0.599, "unit": "share"}) == "59.9%"
    assert fr.value({"value": -4.0, "unit": "points"}) == "\u22124,0"
    assert fr.value({"value": 4.0, "unit": "points"}) == "+4,0"
    assert fr.value({"value": 0.5, "unit": "share", "suppressed": True}) == "x"
    assert fr.value({"value": float("nan"), "unit": "share"}) == "–"


def test_scopes_parse_and_select(table: pd.DataFrame) -> None:
    assert str(parse_scope("quebec")) == "quebec"
    assert str(parse_scope("region:06")) == "region:06"
    assert str(parse_scope("territory:T06-01")) == "territory:T06-01"
    with pytest.raises(SnapshotError):
        parse_scope("province")
    region = select_scope(table, "region:06", territory=TERRITORY)
    assert set(zip(region["scope"], region["scope_id"])) == {("region", "06"), ("territory", "T06-01"), ("territory", "T06-02")}
    one = select_scope(table, "territory:T03-01", territory=TERRITORY)
    assert set(one["scope_id"]) == {"T03-01"}
    with pytest.raises(SnapshotError, match="region"):
        select_scope(table, "region:99", territory=TERRITORY)
    with pytest.raises(SnapshotError, match="territory"):
        select_scope(table, "territory:nowhere", territory=TERRITORY)


def test_formats_follow_the_registry_rule() -> None:
    assert set(FORMATS) == {"html", "csv", "json"}
    assert all(isinstance(fmt, SnapshotFormat) and fmt.name == name for name, fmt in FORMATS.items())


# ------------------------------------------------------------------ the page
def test_both_languages_are_written_and_index_is_french_by_default(snapshot: Path) -> None:
    assert {path.name for path in snapshot.iterdir()} == {
        "index.html", "index.en.html", "indicators.csv", "indicators.json", "manifest.json",
        # The transfer pages per audience (overview, glossary; one page per region and territory).
        "overview.html", "overview.en.html", "glossary.html", "glossary.en.html", "regions", "territories",
    }
    fr, en = _page(snapshot), _page(snapshot, "index.en.html")
    assert '<html lang="fr">' in fr and '<html lang="en">' in en
    assert 'href="index.en.html"' in fr and 'href="index.html"' in en


@pytest.mark.parametrize("lang,name", [("fr", "index.html"), ("en", "index.en.html")])
def test_the_page_takes_every_label_from_the_codebook(snapshot: Path, lang: str, name: str) -> None:
    page = _page(snapshot, name)
    text = _text(page)
    for indicator in ("reach.families_reached", "isolation.mean_index", "needs_offer.match_rate", "needs_offer.service_gaps",
                      "concertation.density", "implementation.ptp_hours"):
        assert CB.indicator_label(indicator, lang=lang).replace("'", "&#39;") in page, indicator
    for family in ("reach", "needs_offer"):
        assert CB.indicator_family_label(family, lang=lang) in text
    for component in ("proximite", "soutien", "concertation"):
        assert CB.label("component", component, lang=lang) in text
    # The top 3 service gaps by share: logement (30 %), transport (20 %), garde (12 %).
    for category in ("logement", "transport", "garde"):
        assert CB.label("need_category", category, lang=lang) in text
    assert CB.label("need_category", "juridique", lang=lang) not in text
    region_name = REGION.set_index("region_code").loc["06", "name_en" if lang == "en" else "name_fr"]
    assert CB.snapshot_text("scope_region", lang=lang, code="06", name=region_name) in text
    assert "Grand-Clairval" in text
    assert CB.snapshot_text("scope_quebec_heading", lang=lang) in text
    for key in ("toc_heading", "about_heading", "isolation_heading", "ptp_heading", "network_heading"):
        assert CB.snapshot_text(key, lang=lang).replace("'", "&#39;") in page, key


def test_top_three_gaps_are_ranked_by_share(snapshot: Path) -> None:
    text = _text(_page(snapshot, "index.en.html"))
    territory = text[text.index("Quartier Brisson"):]
    gaps = territory[territory.index(CB.snapshot_text("gaps_caption", lang="en")):]
    positions = [gaps.index(CB.label("need_category", code, lang="en")) for code in ("logement", "transport", "garde")]
    assert positions == sorted(positions)


def test_numbers_are_formatted_per_language(snapshot: Path) -> None:
    # Québec's families reached over the whole follow-up: 120+150+140 + 40+60+55 + 30+20+3 = 618,
    # rounded to the nearest 5 in a public snapshot: 620.
    fr, en = _page(snapshot), _page(snapshot, "index.en.html")
    assert ">620<" in fr and ">620<" in en
    # The mean isolation index at T0 is 60 → "60,0" in French, "60.0" in English.
    assert ">60,0<" in fr and ">60.0<" in en
    assert ">60.0<" not in fr
    # Shares: a percentage with a narrow no-break space before % in French only.
    assert re.search(r">\d+,\d\u202f%<", fr)
    assert re.search(r">\d+\.\d%<", en)


def test_every_number_on_every_page_is_written_the_readers_way(snapshot: Path, context: SnapshotContext) -> None:
    """Index, overview, region and territory pages, glossary: tables, charts and generated sentences."""
    pages = sorted(snapshot.rglob("*.html"))
    assert len(pages) >= 2 * (3 + 2 + 3)  # index, overview, glossary; 2 regions; 3 territories; both languages
    not_numbers = [context.code_version, context.build_id]
    for path in pages:
        lang = "en" if path.name.endswith(".en.html") else "fr"
        assert number_faults(path.read_text(encoding="utf-8"), lang, ignore=not_numbers) == [], path.name
    # The generated "what this means" paragraph and the rounding note hold numbers of both kinds.
    region = (snapshot / "regions" / "06.html").read_text(encoding="utf-8")
    meaning = region[region.index('class="meaning"'):region.index("</section>", region.index('class="meaning"'))]
    assert re.search(r"\d+,\d\u202f%", meaning) and "\u2212" in meaning
    assert f"60{NNBSP}% peut se lire 50{NNBSP}% ou 70{NNBSP}%" in region
    english = (snapshot / "regions" / "06.en.html").read_text(encoding="utf-8")
    assert re.search(r"\d+\.\d%", english) and "60% may read 50% or 70%" in english


def test_the_checker_catches_numbers_written_the_other_languages_way() -> None:
    page = "<p>59.9 % des besoins</p><svg><text>1 234</text></svg><p>12,5\u00a0%</p><style>p { width: 1.5em; }</style>"
    assert len(number_faults(page, "fr")) == 4  # 59.9 twice (point, space), 1 234, 12,5\u00a0%
    assert number_faults("<p>59,9\u202f% et 1\u202f234,5</p>", "fr") == []
    assert len(number_faults("<p>59,9% of 1\u202f234</p>", "en")) == 2
    assert number_faults("<p>59.9% of 1,234.5 families</p>", "en") == []


#: What each chart's x ticks are, by the end of its id: waves, or registry periods (here the
#: waves' calendar windows T0, T6, T12, which look like wave labels but are periods).
CHART_TICKS = {
    "-reach": "period_axis_wave", "-network": "period_axis_wave", "-ptp": "period_axis_wave",
    "-concertation-density": "period_axis_wave",
    "-isolation": "wave_axis", "-effectiveness": "wave_axis", "-needs": "wave_axis",
    "-isolation-mean_index": "wave_axis", "-needs_offer-match_rate": "wave_axis",
}


def _axis_titles(svg: str) -> tuple[str | None, str | None]:
    import html

    x = re.search(r'<text class="label axis-title x-title"[^>]*>([^<]*)</text>', svg)
    y = re.search(r'<text class="label axis-title y-title"[^>]*>([^<]*)</text>', svg)
    return (html.unescape(x.group(1)) if x else None), (html.unescape(y.group(1)) if y else None)


def test_every_chart_names_what_its_ticks_are_in_the_pages_language(snapshot: Path) -> None:
    seen = set()
    for path in sorted(snapshot.rglob("*.html")):
        lang = "en" if path.name.endswith(".en.html") else "fr"
        for chart_id, svg in re.findall(r'<svg class="chart"[^>]*aria-labelledby="([^"]+)-t">(.*?)</svg>',
                                        path.read_text(encoding="utf-8"), re.S):
            if chart_id.endswith("-gaps"):  # ranked categories named on each bar: no axis
                continue
            suffix = next(end for end in sorted(CHART_TICKS, key=len, reverse=True) if chart_id.endswith(end))
            x_title, y_title = _axis_titles(svg)
            assert x_title == CB.snapshot_text(CHART_TICKS[suffix], lang=lang), (path.name, chart_id)
            assert y_title, (path.name, chart_id)
            seen.add(suffix)
    assert seen == set(CHART_TICKS)
    # The two kinds of axis read differently in both languages.
    for lang in ("fr", "en"):
        assert CB.snapshot_text("wave_axis", lang=lang) != CB.snapshot_text("period_axis_wave", lang=lang)


def test_a_period_axis_names_the_kind_of_period() -> None:
    from proximite.indicators.snapshot.html import period_kind

    assert [period_kind(label) for label in ("T0", "T24", "2024-T3", "2024", "all", "T1x")] == [
        "wave", "wave", "quarter", "year", None, None]
    for kind, fr, en in (("quarter", "Trimestre", "Quarter"), ("year", "Année", "Year")):
        assert CB.snapshot_text(f"period_axis_{kind}", lang="fr") == fr and CB.snapshot_text(f"period_axis_{kind}", lang="en") == en


def test_suppressed_cells_show_the_symbol_with_a_legend(snapshot: Path) -> None:
    page = _page(snapshot)
    # T03-01 reached 3 families in T12: fewer than 5, suppressed.
    assert 'class="num suppressed">x<' in page
    assert CB.snapshot_text("suppressed_legend", lang="fr", symbol="x", threshold=5) in _text(page)
    territory = page[page.index('id="territory-T03-01"'):]
    reach = territory[territory.index("block-reach"):territory.index("block-isolation")]
    row = re.search(r'<th scope="row">T12</th>(.*?)</tr>', reach)
    assert row and row.group(1).startswith('<td class="num suppressed">x</td>')


def test_the_page_is_self_contained(snapshot: Path) -> None:
    for name in ("index.html", "index.en.html"):
        page = _page(snapshot, name)
        # No URL at all (not even an SVG namespace): nothing to fetch, nothing to leak.
        assert not re.search(r"(?i)https?:|ftp:|//[a-z0-9.-]+\.[a-z]{2,}/", page)
        assert "<script" not in page and "<link" not in page and "<img" not in page and "@import" not in page
        assert "url(" not in page
        assert "@media print" in page and "break-before: page" in page
        assert page.count('role="img"') == page.count("<svg") > 5
        # Every chart is labelled by its title.
        for match in re.finditer(r'<svg[^>]*aria-labelledby="([^"]+)"', page):
            assert f'<title id="{match.group(1)}">' in page
        assert "<caption>" in page and '<th scope="col">' in page and '<th scope="row">' in page
        ids = re.findall(r'\sid="([^"]+)"', page)
        assert len(ids) == len(set(ids))


def test_the_page_states_the_disclosure_rule_and_the_data_version(snapshot: Path, context: SnapshotContext) -> None:
    from proximite.indicators.disclosure import disclosure_statement

    for lang, name in (("fr", "index.html"), ("en", "index.en.html")):
        page = _text(_page(snapshot, name))
        statement = disclosure_statement("public", threshold=5, rounding_base=5, lang=lang)
        assert " ".join(statement.split()) in " ".join(page.split()).replace("&#39;", "'")
        assert context.build_id in page and context.code_version in page
        assert "2025-11-21 14:24" in page


def test_sections_and_contents_follow_the_hierarchy(snapshot: Path) -> None:
    page = _page(snapshot)
    order = [page.index(f'id="{anchor}"') for anchor in
             ("quebec", "region-03", "territory-T03-01", "region-06", "territory-T06-01", "territory-T06-02")]
    assert order == sorted(order)
    toc = page[page.index('id="contents"'):page.index('id="quebec"')]
    for anchor in ("quebec", "region-03", "region-06", "territory-T06-01", "territory-T06-02", "territory-T03-01"):
        assert f'href="#{anchor}"' in toc
    # Strata tables only at Québec and region scope.
    assert page.count('class="block strata"') == 3


# ------------------------------------------------------------------ data files and manifest
def test_csv_and_json_hold_the_disclosed_table(snapshot: Path, table: pd.DataFrame) -> None:
    from proximite.indicators.disclosure import apply_disclosure

    disclosed = apply_disclosure(table, level="public", threshold=5, rounding_base=5, territory=TERRITORY)
    csv = pd.read_csv(snapshot / "indicators.csv", dtype=str, keep_default_na=False)
    document = json.loads((snapshot / "indicators.json").read_text(encoding="utf-8"))
    js = pd.DataFrame(document["rows"], columns=document["columns"])
    assert list(csv.columns) == list(disclosed.columns) + ["label"] == document["columns"]
    assert len(csv) == len(js) == len(disclosed)
    for column in ("numerator", "denominator", "value", "ci_low", "ci_high"):
        expected = disclosed[column].to_numpy(dtype="float64")
        from_csv = pd.to_numeric(csv[column].replace("", np.nan)).to_numpy(dtype="float64")
        from_json = js[column].astype("float64").to_numpy()
        np.testing.assert_allclose(from_csv, expected, rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(from_json, expected, rtol=1e-12, equal_nan=True)
    for column in ("scope", "scope_id", "stratum", "stratum_value", "period", "breakdown", "breakdown_value", "indicator"):
        assert csv[column].tolist() == disclosed[column].astype(str).tolist() == js[column].astype(str).tolist()
    # A public file marks every hidden cell alike: which rule hid it stays internal.
    one_mark = np.where(disclosed["suppressed"].astype(bool), "suppressed", "").tolist()
    assert csv["suppression"].tolist() == one_mark == js["suppression"].astype(str).tolist()
    assert (disclosed["suppression"] == "primary").any()
    assert csv["suppressed"].map({"True": True, "False": False}).tolist() == disclosed["suppressed"].astype(bool).tolist()
    assert js["suppressed"].tolist() == disclosed["suppressed"].astype(bool).tolist()
    assert csv["label"].tolist() == [CB.indicator_label(i, lang="fr") for i in disclosed["indicator"]]
    assert (snapshot / "indicators.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    # The page shows the suppressed cells the data files mark.
    assert disclosed["suppressed"].any()


def test_manifest_describes_the_snapshot(snapshot: Path, context: SnapshotContext) -> None:
    manifest = json.loads((snapshot / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["data_version"] == context.build_id
    assert manifest["code_version"] == context.code_version
    assert manifest["generated_at"] == "2025-11-21T14:24:00-05:00"
    assert manifest["language"] == "fr" and manifest["languages"] == ["fr", "en"]
    assert manifest["scope"] == "quebec"
    assert manifest["disclosure"]["level"] == "public"
    assert manifest["disclosure"]["threshold"] == 5 and manifest["disclosure"]["rounding_base"] == 5
    assert set(manifest["disclosure"]["statement"]) == {"fr", "en"}
    assert manifest["parameters"]["confidence"] == 0.95
    files = {entry["path"]: entry for entry in manifest["files"]}
    assert {"index.html", "index.en.html", "indicators.csv", "indicators.json", "overview.html", "glossary.en.html"} <= set(files)
    assert {name.split("/")[0] for name in files if "/" in name} == {"regions", "territories"}
    for name, entry in files.items():
        data = (snapshot / name).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()


def test_english_first_scope_and_internal_level(table: pd.DataFrame, tmp_path: Path) -> None:
    out = write_snapshot(
        table, tmp_path / "snap", territory=TERRITORY, region=REGION,
        context={"lang": "en", "level": "internal", "scope": "region:06", "build_id": "b1", "code_version": "c1"},
    )
    assert {path.name for path in out.iterdir()} >= {"index.html", "index.fr.html"}
    page = _page(out)
    assert '<html lang="en">' in page and 'href="index.fr.html"' in page
    assert 'id="region-06"' in page and 'id="territory-T06-02"' in page
    assert 'id="quebec"' not in page and 'id="territory-T03-01"' not in page
    csv = pd.read_csv(out / "indicators.csv", dtype=str, keep_default_na=False)
    assert set(csv["scope_id"]) == {"06", "T06-01", "T06-02"}
    # Internal level: counts are not rounded (region 06 over the whole follow-up: 410 + 155 = 565).
    row = csv[(csv["scope_id"] == "06") & (csv["indicator"] == "reach.families_reached") & (csv["period"] == "all")
              & (csv["stratum"] == "all")]
    assert float(row["value"].iloc[0]) == 120 + 150 + 140 + 40 + 60 + 55
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["language"] == "en" and manifest["scope"] == "region:06" and manifest["disclosure"]["level"] == "internal"


def test_a_second_snapshot_replaces_the_first_and_a_failure_keeps_it(
    table: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "snapshot-2025-11-21"
    write_snapshot(table, out, territory=TERRITORY, region=REGION, context={"build_id": "first"})
    write_snapshot(table, out, territory=TERRITORY, region=REGION, context={"build_id": "second"})
    assert json.loads((out / "manifest.json").read_text())["data_version"] == "second"

    class Broken(SnapshotFormat):
        name = "broken"

        def write(self, table: pd.DataFrame, out_dir: Path, *, context: Any) -> list[Path]:
            (out_dir / "half.txt").write_text("half")
            raise RuntimeError("disk full")

    monkeypatch.setitem(FORMATS, "broken", Broken())
    with pytest.raises(RuntimeError, match="disk full"):
        write_snapshot(table, out, territory=TERRITORY, region=REGION, context={"build_id": "third"},
                       formats=["html", "broken"])
    assert json.loads((out / "manifest.json").read_text())["data_version"] == "second"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["snapshot-2025-11-21"]


def test_bad_requests_are_refused(table: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="language"):
        write_snapshot(table, tmp_path / "a", territory=TERRITORY, region=REGION, context={"lang": "de"})
    with pytest.raises(SnapshotError, match="level"):
        write_snapshot(table, tmp_path / "a", territory=TERRITORY, region=REGION, context={"level": "open"})
    with pytest.raises(SnapshotError, match="format"):
        write_snapshot(table, tmp_path / "a", territory=TERRITORY, region=REGION, formats=["pdf"])
    with pytest.raises(SnapshotError, match="context key"):
        write_snapshot(table, tmp_path / "a", territory=TERRITORY, region=REGION, context={"colour": "blue"})
    assert not (tmp_path / "a").exists()


def test_the_writer_audits_what_it_publishes(table: pd.DataFrame, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from proximite.indicators.disclosure import apply_disclosure, audit

    calls: list[dict[str, Any]] = []
    real = audit.refuse_leaks
    monkeypatch.setattr(audit, "refuse_leaks", lambda *a, **k: calls.append(k) or real(*a, **k))
    # Québec: the disclosure control's last audit read exactly the cells published; not run twice.
    write_snapshot(table, tmp_path / "qc", territory=TERRITORY, region=REGION, formats=["csv"])
    assert calls == []
    # A region: fewer cells, other guesses for the attacker; audited again, from the table before disclosure.
    write_snapshot(table, tmp_path / "r06", territory=TERRITORY, region=REGION, formats=["csv"],
                   context={"scope": "region:06"})
    assert len(calls) == 1 and calls[0]["known"] is not None
    # A table that comes disclosed is audited as it is, and refused when it gives a small count away:
    # publish the complementary cells (counts not rounded), the primary ones follow from their totals.
    disclosed = apply_disclosure(table, level="public", rounding_base=1, territory=TERRITORY).reset_index(drop=True)
    complementary = (disclosed["suppression"] == "complementary").to_numpy()
    assert complementary.any()
    truth = table.reset_index(drop=True)
    for column in ("numerator", "denominator", "value", "n"):
        disclosed.loc[complementary, column] = truth.loc[complementary, column]
    disclosed.loc[complementary, ["suppressed", "suppression"]] = [False, ""]
    with pytest.raises(SnapshotError, match="refusing to publish: the disclosure audit recovers"):
        write_snapshot(disclosed, tmp_path / "leaky", territory=TERRITORY, region=REGION, formats=["csv"],
                       context={"rounding_base": 1})
    assert calls[-1]["known"] is None and not (tmp_path / "leaky").exists()


def test_the_input_table_is_not_modified(table: pd.DataFrame, tmp_path: Path) -> None:
    before = table.copy()
    write_snapshot(table, tmp_path / "s", territory=TERRITORY, region=REGION, formats=["csv"])
    pd.testing.assert_frame_equal(table, before)


def test_snapshot_dir_is_named_by_date_level_and_scope() -> None:
    day = dt.date(2025, 11, 21)
    assert snapshot_dir("reporting", today=day) == Path("reporting/snapshot-2025-11-21-public-quebec")
    assert snapshot_dir("r", today=day, level="internal", scope="region:06") == Path("r/snapshot-2025-11-21-internal-region-06")


# ------------------------------------------------------------------ the real indicators
@pytest.mark.parametrize(("lang", "name"), [("fr", "territories/T06-01.html"), ("en", "territories/T06-01.en.html")])
def test_a_territory_page_has_the_joint_display(snapshot: Path, lang: str, name: str) -> None:
    text = html.unescape(_text(_page(snapshot, name)))
    caption = CB.snapshot_text("joint_caption", lang=lang, scope=CB.snapshot_text("scope_territory", lang=lang, name="Quartier Brisson"))
    assert caption in text
    for axis in ("acceptabilite", "pertinence", "autre"):
        assert CB.label("qual_axis", axis, lang=lang) in text
    assert CB.label("qual_axis", "efficacite", lang=lang) in text  # its indicators, beside no theme
    assert CB.snapshot_text("joint_no_theme", lang=lang) in text
    # The acceptability indicator beside the theme coded for acceptability, in the same row.
    row = re.search(r"<tr>(?:(?!</tr>).)*Confiance envers la PTP(?:(?!</tr>).)*</tr>", _page(snapshot, name), re.S).group(0)
    assert CB.indicator_label("acceptability.trust_agree_share", lang=lang) in row and ">10<" in row  # 9 rounded to 10
    # Roulement: 3 sessions, a small count: hidden like any other.
    roulement = re.search(r"<tr>(?:(?!</tr>).)*Roulement(?:(?!</tr>).)*</tr>", _page(snapshot, name), re.S).group(0)
    assert 'class="num suppressed"' in roulement
    assert "themes.yaml" in text


def test_a_snapshot_of_the_small_cohort_has_no_family_id(
    small_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]], tmp_path: Path
) -> None:
    from proximite.indicators import IndicatorParameters, compute_all

    tables, _truth = small_cohort
    computed = compute_all(tables, parameters=IndicatorParameters())
    out = write_snapshot(computed, tmp_path / "snap", territory=tables["territory"], region=tables["region"],
                         context={"build_id": "small", "code_version": "test"})
    identifiers = set(tables["family"]["family_id"].astype(str)) | set(tables["child"]["child_id"].astype(str))
    identifiers |= set(tables["need"]["need_id"].astype(str)) | set(tables["referral"]["referral_id"].astype(str))
    assert {len(identifier) for identifier in identifiers} == {16}
    # Every file, the region and territory pages included.
    for path in (path for path in out.rglob("*") if path.is_file()):
        content = path.read_text(encoding="utf-8-sig")
        # Every 16-character window of every hexadecimal run: an id glued to other text is found too.
        windows = {run[i:i + 16] for run in re.findall(r"[0-9a-fA-F]{16,}", content) for i in range(len(run) - 15)}
        leaked = windows & identifiers
        assert not leaked, f"{path.name} holds {len(leaked)} row-level id(s)"
    page = _page(out)
    assert page.count("<section") == 1 + tables["territory"]["region_code"].nunique() + len(tables["territory"])

"""The economics page of a snapshot, from a tiny indicator table and a hand-written economics run.

The indicator table and the territories are those of ``test_snapshot_followups.py`` (a handful
of rows: the page under test is ``economics.html``, the index pages only for their link or hint).
The run is ``test_economics_report.summary_dict``'s: costs of 1 234 567,40 $, NPV 600 000 $,
BCR 1,50 (PSA 0,92 to 2,10), P(BCR > 1) 87,3 %, with two placeholder parameters.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from proximite.cohort.codebook import load_codebook
from proximite.economics.cheers import PAGE_SECTIONS
from proximite.economics.report import EconomicsSummary
from proximite.indicators.base import indicator_frame
from proximite.indicators.snapshot import SnapshotError, write_snapshot
from proximite.indicators.snapshot.formatting import NBSP, NNBSP, format_money
from page_text import number_faults
from test_economics_report import summary_dict

CB = load_codebook()
BUILD = "20250101T000000Z-abc123"
PNG = b"\x89PNG\r\n\x1a\n-a-tornado-chart-"
TERRITORY = pd.DataFrame(
    {
        "territory_id": ["T1", "T2", "T3"],
        "name": ["Quartier Brisson", "Grand-Clairval", "Petit-Desrosiers"],
        "region_code": ["06", "06", "03"],
        "environment": ["urbain", "rural", "mixte"],
        "host_type": ["OCF", "CPSC", "OCF"],
    }
).astype("string")
REGION = pd.DataFrame({"region_code": ["03", "06"], "name_fr": ["Capitale-Nationale", "Montréal"],
                       "name_en": ["Capitale-Nationale", "Montreal"]})
M = "\u2212"  # the minus sign of the snapshot's numbers

#: Figures of the run as each language writes them (money: "1 234 567 $" / "$1,234,567").
FIGURES = {
    "fr": [f"1{NNBSP}234{NNBSP}567{NBSP}$", f"600{NNBSP}000{NBSP}$", f"1{NNBSP}800{NNBSP}000{NBSP}$", ">1,50<",
           f"{M}100{NNBSP}000{NBSP}$ à 1{NNBSP}300{NNBSP}000{NBSP}$", "0,92 à 2,10", f">87,3{NNBSP}%<",
           f"2{NNBSP}346{NBSP}$", f"2{NNBSP}100{NBSP}$ à 2{NNBSP}600{NBSP}$", f"2{NNBSP}500{NNBSP}000{NBSP}$", ">1,62<",
           f"900{NNBSP}000{NBSP}$"],
    "en": ["$1,234,567", "$600,000", "$1,800,000", ">1.50<", f"{M}$100,000 to $1,300,000", "0.92 to 2.10", ">87.3%<",
           "$2,346", "$2,100 to $2,600", "$2,500,000", ">1.62<", "$900,000"],
}


def _indicators() -> pd.DataFrame:
    rows = [{"scope": "quebec", "scope_id": "QC"}, {"scope": "region", "scope_id": "06"},
            {"scope": "region", "scope_id": "03"}] + [{"scope": "territory", "scope_id": t} for t in ("T1", "T2", "T3")]
    return indicator_frame(
        [{**row, "indicator": "reach.families_reached", "value": 40.0, "numerator": 40.0, "n": 40, "unit": "count",
          "method": "count"} for row in rows]
    )


def _summary(tmp_path: Path, **changes: Any) -> EconomicsSummary:
    """The run, written to and read back from a run directory that also holds its own tornado chart (a PNG)."""
    run = tmp_path / "reporting" / "economics" / BUILD
    EconomicsSummary.from_dict(summary_dict(**changes)).write(run)
    (run / "tornado.png").write_bytes(PNG)
    return EconomicsSummary.read(run)


#: What blocks publication in the run (``summary_dict``), as each page names it: the run's label
#: of dpj.unit_value, the label table's for costing.wages.ptp, the reasons in the page's language.
BLOCKING = {
    "fr": ["DPJ évitée : valeur unitaire — valeur provisoire, source provisoire",
           "Salaire horaire de base des PTP — valeur provisoire"],
    "en": ["DPJ avoided: unit value — placeholder value, placeholder source", "PTP base hourly wage — placeholder value"],
}
#: Keys and reasons as the run writes them: in its CSV and JSON, never on a page.
RUN_WORDS = ("dpj.unit_value", "wages.ptp", "discount_rate", "placeholder, source", ": placeholder")


def _write(tmp_path: Path, economics: EconomicsSummary | None, *, level: str = "internal", lang: str = "fr",
           build_id: str = BUILD) -> Path:
    context = {"lang": lang, "level": level, "build_id": build_id, "code_version": "c1"}
    return write_snapshot(_indicators(), tmp_path / f"snapshot-{level}-{lang}", territory=TERRITORY, region=REGION,
                          context=context, economics=economics)


def _pages(out: Path, *, first: str = "fr") -> dict[str, str]:
    """The page in each language: ``economics.html`` in the snapshot's language, ``economics.<lang>.html`` otherwise."""
    return {lang: (out / ("economics.html" if lang == first else f"economics.{lang}.html")).read_text(encoding="utf-8")
            for lang in ("fr", "en")}


def _text(key: str, lang: str, **values: Any) -> str:
    return CB.snapshot_text(key, lang=lang, **values).replace("'", "&#39;")


def test_money_is_formatted_as_the_snapshot_formats_numbers() -> None:
    assert format_money(1_234_567.4, lang="fr") == f"1{NNBSP}234{NNBSP}567{NBSP}$"
    assert format_money(1_234_567.4, lang="en") == "$1,234,567"
    assert format_money(-1234.5, decimals=2, lang="fr") == f"{M}1{NNBSP}234,50{NBSP}$"
    assert format_money(-1234.5, lang="en") == f"{M}$1,234"
    assert format_money(5.0, lang="en", currency="USD") == f"5{NBSP}USD"


def test_the_internal_page_shows_the_figures_in_both_languages_under_the_provisional_banner(tmp_path: Path) -> None:
    out = _write(tmp_path, _summary(tmp_path))
    assert {"economics.html", "economics.en.html"} <= {path.name for path in out.iterdir()}
    assert not (out / "tornado.png").exists()  # the run's PNG names parameters by their keys
    pages = _pages(out)
    for lang, page in pages.items():
        assert f'<html lang="{lang}">' in page
        for figure in FIGURES[lang]:
            assert figure in page, (lang, figure)
        # The banner comes first, with what blocks.
        banner = _text("economics_provisional_banner", lang)
        assert banner in page and page.index(banner) < page.index('id="summary"')
        count = _text("economics_provisional_count", lang, count=2).replace('"', "&#34;")
        assert f'<a href="#parameters">{count}</a>' in page
        # What blocks is listed in the parameters section, in the page's language.
        parameters = html.unescape(page[page.index('id="parameters"'):page.index('id="cheers"')])
        assert all(f"<li>{item}</li>" in parameters for item in BLOCKING[lang]), (lang, parameters)
        assert not any(word in html.unescape(page) for word in RUN_WORDS), lang
        assert _text("economics_pending_notice", lang) not in page
        # The tornado chart is inline SVG in the page's language (the page loads nothing, shows no
        # PNG), its x axis names the metric and its unit, and its numbers are in a table.
        assert "<img" not in page and "data:image" not in page
        chart = html.unescape(re.search(r'<svg class="chart tornado".*?</svg>', page, re.S).group(0))
        parameter = "DPJ évitée : valeur unitaire" if lang == "fr" else "DPJ avoided: unit value"
        rate = "Taux d'actualisation" if lang == "fr" else "Discount rate"
        assert parameter in chart and rate in chart and parameter in html.unescape(page[page.index('id="tornado"'):])
        axis = "VAN (dollars canadiens de 2024)" if lang == "fr" else "NPV (Canadian dollars of 2024)"
        assert f">{axis}<" in chart
        ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', chart)
        assert ticks and all(tick.endswith(f"{NBSP}$") if lang == "fr" else "$" in tick for tick in ticks), ticks
        assert number_faults(page, lang, ignore=[BUILD, "0.1.0+test", "ab" * 32]) == []
        # Cost categories take the codebook's labels, in order, with a total.
        costs = page[page.index('id="costs"'):page.index('id="cost-per-outcome"')]
        labels = [CB.label("cost_category", code, lang=lang) for code in ("salaire_ptp", "supervision", "mobilite")]
        assert [costs.index(label) for label in labels] == sorted(costs.index(label) for label in labels)
        # Regions get their names; the funding table is there.
        assert "Montréal" in page or "Montreal" in page
        assert _text("economics_funding_per_child", lang) in page
        assert (f"12,30{NBSP}$" if lang == "fr" else "$12.30") in page  # cents below 100 $
        # Self-contained: no URL, no script, no stylesheet; ids unique.
        assert not re.search(r"(?i)https?:|ftp:", page) and "<script" not in page and "<link" not in page
        ids = re.findall(r'\sid="([^"]+)"', page)
        assert len(ids) == len(set(ids))
        assert "20250101T000000Z-abc123" in page and "ab" * 32 in page
    # Both pages link to each other and back to their index; the index pages link to them.
    assert 'href="economics.en.html"' in pages["fr"] and 'href="index.html"' in pages["fr"]
    assert 'href="economics.html"' in pages["en"] and 'href="index.en.html"' in pages["en"]
    assert f'<a href="economics.html">{_text("economics_link", "fr")}</a>' in (out / "index.html").read_text(encoding="utf-8")
    assert f'<a href="economics.en.html">{_text("economics_link", "en")}</a>' in (out / "index.en.html").read_text(encoding="utf-8")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["economics"] == {"build_id": BUILD, "generated_at": "2025-11-21T14:24:00-05:00", "code_version": "0.1.0+test",
                                     "parameters_sha256": "ab" * 32, "publishable": False, "figures_shown": True}
    assert {"economics.html", "economics.en.html"} <= {entry["path"] for entry in manifest["files"]}
    assert "tornado.png" not in {entry["path"] for entry in manifest["files"]}


def test_the_public_page_of_an_unpublishable_run_shows_the_notice_and_no_figure(tmp_path: Path) -> None:
    out = _write(tmp_path, _summary(tmp_path), level="public")
    assert not (out / "tornado.png").exists()
    for lang, page in _pages(out).items():
        assert _text("economics_pending_notice", lang) in page
        assert all(f"<li>{item}</li>" in html.unescape(page) for item in BLOCKING[lang]), lang
        assert not any(word in html.unescape(page) for word in RUN_WORDS), lang
        assert _text("economics_provisional_banner", lang) not in page
        for figure in FIGURES[lang]:
            assert figure not in page, (lang, figure)
        # No amount, no ratio, no chart, no section at all.
        assert "$" not in page and "data:image" not in page and "<table" not in page
        assert not any(f'id="{anchor}"' in page for anchor in PAGE_SECTIONS if anchor != "title")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="economics.html"' in index
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["economics"]["figures_shown"] is False and manifest["economics"]["publishable"] is False
    assert "tornado.png" not in {entry["path"] for entry in manifest["files"]}


def test_a_publishable_run_shows_its_figures_in_the_public_snapshot(tmp_path: Path) -> None:
    rows = summary_dict()["cost_per_outcome"] + [
        {"outcome": "family_reached", "label_fr": "Famille rejointe", "label_en": "Family reached", "scope": "territory:T1",
         "value": 7777.0, "ci_lower": 5000.0, "ci_upper": 9999.0}]
    out = _write(tmp_path, _summary(tmp_path, publishable=True, blocking=[], cost_per_outcome=rows), level="public")
    assert not (out / "tornado.png").exists()
    for lang, page in _pages(out).items():
        for figure in FIGURES[lang]:
            assert figure in page, (lang, figure)
        assert _text("economics_pending_notice", lang) not in page
        assert _text("economics_provisional_banner", lang) not in page
        assert _text("economics_all_sourced", lang) in page
        # A single territory's cost per outcome stays out of a public page, and the page says so.
        assert "7" + (NNBSP if lang == "fr" else ",") + "777" not in page and "Quartier Brisson" not in page
        assert _text("economics_cost_per_outcome_public_note", lang) in page
    internal = _write(tmp_path, _summary(tmp_path, publishable=True, blocking=[], cost_per_outcome=rows))
    assert "Quartier Brisson" in _pages(internal)["en"] and "$7,777" in _pages(internal)["en"]


def test_a_run_without_recorded_labels_names_its_parameters_from_the_label_table(tmp_path: Path) -> None:
    """A run written before it recorded its labels: outcomes named as in the run, costing values from
    the label table, a key no table knows shown as code (never passed off as words)."""
    blocking = ["dpj.effect: no year", "costing.supervision_kinds.clinique.fee_per_session: placeholder",
                "mystery.knob: placeholder"]
    out = _write(tmp_path, _summary(tmp_path, parameter_labels={}, blocking=blocking), level="public")
    pages = {lang: html.unescape(page) for lang, page in _pages(out).items()}
    assert f"<li>DPJ évitée{NBSP}: effet — sans année</li>" in pages["fr"]
    assert f"<li>Supervision clinique{NBSP}: frais par séance et par PTP — valeur provisoire</li>" in pages["fr"]
    assert "<li><code>mystery.knob</code> — valeur provisoire</li>" in pages["fr"]
    assert "<li>DPJ avoided: effect — no year</li>" in pages["en"]
    assert "<li>Clinical supervision: fee per session and PTP — placeholder value</li>" in pages["en"]


def test_without_an_economics_run_there_is_no_page_and_the_index_says_how_to_make_one(tmp_path: Path) -> None:
    out = _write(tmp_path, None, level="public", lang="en")
    assert not list(out.glob("economics*")) and not (out / "tornado.png").exists()
    for name, lang in (("index.html", "en"), ("index.fr.html", "fr")):
        page = (out / name).read_text(encoding="utf-8")
        assert _text("economics_missing", lang, build_id=BUILD) in page
        assert "proximite economics run" in page and "economics.html" not in page
    assert "economics" not in json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_the_cheers_table_has_28_rows_pointing_to_sections_of_the_page(tmp_path: Path) -> None:
    out = _write(tmp_path, _summary(tmp_path), lang="en")
    assert '<html lang="en">' in (out / "economics.html").read_text(encoding="utf-8")
    for lang, page in _pages(out, first="en").items():
        table = page[page.index('<table class="cheers">'):]
        table = table[:table.index("</table>")]
        rows = re.findall(r"<tr><td class=\"num\">(\d+)</td>(.*?)</tr>", table)
        assert [int(number) for number, _ in rows] == list(range(1, 29))
        ids = set(re.findall(r'\sid="([^"]+)"', page))
        targets = [re.search(r'<a href="#([^"]+)">', cells) for _, cells in rows]
        linked = [match.group(1) for match in targets if match]
        assert len(linked) == 20 and set(linked) <= ids, set(linked) - ids
        team = _text("economics_col_cheers_where", lang)  # the column is there
        assert team in table
        expected = "À compléter par l&#39;équipe de recherche" if lang == "fr" else "For the research team to complete"
        assert table.count(expected) == 8


def test_an_economics_run_of_another_build_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="proximite economics run"):
        _write(tmp_path, _summary(tmp_path), build_id="another-build")
    assert not (tmp_path / "snapshot-internal-fr").exists()


def test_an_economics_run_of_another_scope_is_refused(tmp_path: Path) -> None:
    # A Québec run under a region's title misled its reader: the page refuses it.
    context = {"lang": "fr", "level": "internal", "build_id": BUILD, "code_version": "c1", "scope": "region:06"}
    with pytest.raises(SnapshotError, match="covers quebec"):
        write_snapshot(_indicators(), tmp_path / "region", territory=TERRITORY, region=REGION, context=context,
                       economics=_summary(tmp_path))
    assert not (tmp_path / "region").exists()


def test_a_region_snapshot_shows_no_quebec_economics_and_keeps_the_quebec_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline step picks the run of the snapshot's own scope; a Québec run stays on the Québec page."""
    import datetime as dt

    from proximite import pipeline
    from proximite.cohort import warehouse
    from proximite.config import load_settings

    settings = load_settings(tmp_path / "project")
    layer = tmp_path / "04" / BUILD
    layer.mkdir(parents=True)
    _indicators().to_parquet(layer / pipeline.INDICATORS_FILE)
    (layer / pipeline.INDICATORS_MANIFEST).write_text(
        json.dumps({"build_id": BUILD, "code_version": "c1", "parameters": {}}), encoding="utf-8"
    )
    monkeypatch.setattr(warehouse, "table", lambda _settings, name, **_: {"territory": TERRITORY, "region": REGION}[name])
    EconomicsSummary.from_dict(summary_dict(build_id=BUILD, publishable=True, blocking=[])).write(
        settings.reporting_dir / "economics" / BUILD
    )
    day = dt.date(2025, 11, 21)
    region = pipeline.write_snapshot_from_warehouse(settings, level="public", scope="region:06", indicators_dir=layer, today=day)
    assert region.name == "snapshot-2025-11-21-public-region-06"
    assert not list(region.glob("economics*")) and "economics" not in json.loads((region / "manifest.json").read_text())
    # Its index pages say plainly that the analysis is Québec's, name the region, and show no figure of it.
    for name, lang, scope in (("index.html", "fr", "Région 06 – Montréal"), ("index.en.html", "en", "Region 06 – Montreal")):
        index = html.unescape((region / name).read_text(encoding="utf-8"))
        assert CB.snapshot_text("economics_quebec_only", lang=lang, scope=scope) in index
        assert "proximite economics run" not in index and 'href="economics' not in index
        assert not any(figure.replace("&#39;", "'") in index for figure in FIGURES[lang] if "$" in figure)
    for page in region.rglob("*.html"):  # nor any other page of the region snapshot
        assert "$" not in page.read_text(encoding="utf-8"), page.name
    quebec = pipeline.write_snapshot_from_warehouse(settings, level="public", indicators_dir=layer, today=day)
    assert quebec.name == "snapshot-2025-11-21-public-quebec" and (quebec / "economics.html").is_file()
    # Written again without any new economics run (a scheduled pipeline without economics), the
    # Québec snapshot keeps its economics page: the build's run is found again.
    again = pipeline.write_snapshot_from_warehouse(settings, level="public", indicators_dir=layer, today=day)
    assert again == quebec and (again / "economics.html").is_file() and region.is_dir()


def test_proximite_snapshot_picks_up_the_latest_run_of_the_indicators_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``write_snapshot_from_warehouse`` (what ``proximite snapshot`` calls) finds the run by itself.

    Layer 04 is written here for build ``BUILD`` and the warehouse's territory and region tables
    are stubbed, so no warehouse is built.
    """
    import datetime as dt

    from proximite import pipeline
    from proximite.cohort import warehouse

    from proximite.config import load_settings

    settings = load_settings(tmp_path / "project")
    layer = tmp_path / "04" / BUILD
    layer.mkdir(parents=True)
    _indicators().to_parquet(layer / pipeline.INDICATORS_FILE)
    (layer / pipeline.INDICATORS_MANIFEST).write_text(
        json.dumps({"build_id": BUILD, "code_version": "c1", "parameters": {}}), encoding="utf-8"
    )
    monkeypatch.setattr(warehouse, "table", lambda _settings, name, **_: {"territory": TERRITORY, "region": REGION}[name])
    day = dt.date(2025, 11, 21)

    out = pipeline.write_snapshot_from_warehouse(settings, level="public", indicators_dir=layer, today=day)
    assert not list(out.glob("economics*"))
    assert "proximite economics run" in (out / "index.html").read_text(encoding="utf-8")

    # An older run of the same build, the newest one, and a newer run of another build.
    for name, build, when in ((BUILD, BUILD, "2025-11-20T09:00:00-05:00"), (f"{BUILD}-2", BUILD, "2025-11-21T09:00:00-05:00"),
                              ("other", "other", "2025-11-22T09:00:00-05:00")):
        EconomicsSummary.from_dict(summary_dict(build_id=build, generated_at=when, publishable=True, blocking=[])).write(
            settings.reporting_dir / "economics" / name
        )
    out = pipeline.write_snapshot_from_warehouse(settings, level="public", indicators_dir=layer, today=day)
    assert out == settings.reporting_dir / "snapshot-2025-11-21-public-quebec"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["economics"]["build_id"] == BUILD and manifest["economics"]["generated_at"] == "2025-11-21T09:00:00-05:00"
    assert FIGURES["fr"][0] in (out / "economics.html").read_text(encoding="utf-8")
    assert 'href="economics.html"' in (out / "index.html").read_text(encoding="utf-8")


def test_tornado_labels_are_cut_in_their_head_and_its_axis_need_not_reach_zero() -> None:
    from proximite.indicators.snapshot.charts import TornadoBar, short_label, tornado_chart

    label = "Prise en charge par la protection de la jeunesse (DPJ) évitée : probabilité de base"
    assert short_label(label, 56) == "Prise en charge par la protection… : probabilité de base"
    assert short_label("Emploi d'un parent : effet", 56) == "Emploi d'un parent : effet"
    assert len(short_label("x" * 70, 56)) == 56
    # NPVs around −2.4 M: the axis spans them, not 0 to −3 M (the bars would shrink to slivers).
    svg = tornado_chart([TornadoBar("a", -2_500_000.0, -2_300_000.0)], chart_id="t", title="T", base=-2_400_000.0,
                        tick=lambda v: f"{v:.0f}", x_title="NPV", legend=("low", "high"))
    ticks = [float(tick) for tick in re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', svg)]
    assert min(ticks) >= -2_600_000 and max(ticks) <= -2_200_000 and 0.0 not in ticks
    assert svg.count("<rect") == 2 + 2  # two bars, two legend keys

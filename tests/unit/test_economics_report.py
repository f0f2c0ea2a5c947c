"""The economics run's summary (``economics.json``) and the CHEERS 2022 checklist.

A hand-written summary: its JSON round trip, the schema's refusals, ``latest()`` choosing the
newest run of the current build among run directories written here, the estimator-style
views, and the checklist's 28 items.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from proximite.economics.cheers import (
    CHEERS_2022,
    CHEERS_COLUMNS,
    PAGE_SECTIONS,
    cheers_table,
)
from proximite.economics.report import (
    ECONOMICS_JSON,
    EconomicsReportError,
    EconomicsSummary,
    compare_summaries,
    economics_dir,
    run_dir,
)

from proximite.config import load_settings

UTC_5 = dt.timezone(dt.timedelta(hours=-5))
TEAM_ITEMS = {3, 4, 19, 21, 25, 26, 27, 28}


def summary_dict(**changes: Any) -> dict[str, Any]:
    """The JSON form of a small, complete run (every schema field set)."""
    data: dict[str, Any] = {
        "kind": "proximite-economics",
        "schema_version": 1,
        "build_id": "20250101T000000Z-abc123",
        "scope": "quebec",
        "price_year": 2024,
        "currency": "CAD",
        "perspective": "society",
        "horizon_years": 10,
        "discount_rate": 0.035,
        "discount_sensitivity": [{"rate": 0.015, "npv": 2_500_000, "bcr": 1.62}, {"rate": 0.06, "npv": 350_000.5, "bcr": 1.08}],
        "publishable": False,
        "blocking": ["dpj.unit_value: placeholder, source is a placeholder", "costing.wages.ptp: placeholder"],
        "costs": {"total": 1_234_567.4, "basis": "activity",
                  "by_category": {"salaire_ptp": 1_000_000.0, "supervision": 134_567.4, "mobilite": 100_000.0},
                  "by_level": {"region": {"06": 800_000.0, "03": 434_567.4}}},
        "cost_per_outcome": [
            {"outcome": "family_reached", "label_fr": "Famille rejointe", "label_en": "Family reached", "scope": "quebec",
             "value": 2345.6, "ci_lower": 2100.0, "ci_upper": 2600.0},
            {"outcome": "need_met", "label_fr": "Besoin répondu", "label_en": "Need met", "scope": "region:06",
             "value": 910.0, "ci_lower": 850.0, "ci_upper": 990.0},
        ],
        "cost_benefit": {"pv_costs": 1_200_000.0, "pv_benefits": 1_800_000.0, "npv": 600_000.0, "bcr": 1.5,
                         "by_outcome": [{"outcome": "dpj", "label_fr": "DPJ évitée", "label_en": "DPJ avoided", "pv": 900_000.0}]},
        "psa": {"draws": 5000, "seed": 20251121, "interval": 0.95, "npv_mean": 610_000.0, "npv_low": -100_000.0,
                "npv_high": 1_300_000.0, "bcr_mean": 1.51, "bcr_low": 0.92, "bcr_high": 2.1, "p_bcr_gt_1": 0.873,
                "p_npv_gt_0": 0.873},
        "tornado_metric": "npv",
        "tornado": [{"parameter": "dpj.unit_value", "label": "DPJ: unit value", "low": 300_000.0, "high": 900_000.0,
                     "swing": 600_000.0},
                    {"parameter": "discount_rate", "label": "Discount rate", "low": 500_000.0, "high": 700_000.0,
                     "swing": 200_000.0}],
        "tornado_png": "tornado.png",
        "parameter_labels": {"dpj.unit_value": {"fr": "DPJ évitée : valeur unitaire", "en": "DPJ avoided: unit value"},
                             "discount_rate": {"fr": "Taux d'actualisation", "en": "Discount rate"}},
        "funding": {"year": 2019, "funding_cad": 2_000_000.0, "fte": 20.5, "funding_per_fte": 97_560.98,
                    "funding_per_child": 12.3},
        "generated_at": "2025-11-21T14:24:00-05:00",
        "code_version": "0.1.0+test",
        "parameters_sha256": "ab" * 32,
        "extra": {"note": "hand-written"},
    }
    data.update(changes)
    return data


def test_the_json_round_trip_keeps_every_field(tmp_path: Path) -> None:
    summary = EconomicsSummary.from_dict(summary_dict())
    assert summary.generated_at == dt.datetime(2025, 11, 21, 14, 24, tzinfo=UTC_5)
    assert summary.costs["by_level"] == {"region": {"06": 800_000.0, "03": 434_567.4}}
    data = summary.to_dict()
    # Plain JSON, and the document written is the document read.
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data == summary_dict()
    assert EconomicsSummary.from_dict(data) == summary

    path = summary.write(tmp_path / "run")
    assert path == tmp_path / "run" / ECONOMICS_JSON
    assert json.loads(path.read_text(encoding="utf-8")) == data
    back = EconomicsSummary.read(tmp_path / "run")
    assert back == summary and back.directory == tmp_path / "run"
    assert EconomicsSummary.read(path) == summary
    # No tornado.png in that directory yet; once there, the summary finds it.
    assert back.tornado_path is None
    (tmp_path / "run" / "tornado.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert back.tornado_path == tmp_path / "run" / "tornado.png"
    assert not list((tmp_path / "run").glob(".*tmp*"))


def test_a_summary_built_in_code_equals_its_json() -> None:
    summary = EconomicsSummary(
        build_id="b1", price_year=2024, publishable=True,
        costs={"total": 1000, "by_category": {"salaire_ptp": 1000}},
        cost_benefit={"pv_costs": 1000, "pv_benefits": 1500, "npv": 500, "bcr": 1.5},
        generated_at=dt.datetime(2025, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC),
    )
    assert summary.generated_at.microsecond == 0
    assert summary.psa is None and summary.blocking == [] and summary.cost_benefit["by_outcome"] == []
    assert EconomicsSummary.from_dict(json.loads(json.dumps(summary.to_dict()))) == summary
    assert isinstance(summary.costs["total"], float)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"kind": "proximite-snapshot"}, "kind"),
        ({"schema_version": 2}, "schema_version"),
        ({"build_id": ""}, "build_id"),
        ({"price_year": "2024"}, "price_year"),
        ({"horizon_years": 0}, "horizon_years"),
        ({"publishable": "no"}, "publishable"),
        ({"blocking": []}, "blocking"),
        ({"surprise": 1}, "surprise"),
        ({"cost_per_outcome": [{"outcome": "x", "value": 1.0}]}, r"cost_per_outcome\[0\]"),
        ({"costs": {"total": "a lot", "by_category": {}}}, "costs.total"),
        ({"psa": {"draws": 10}}, "psa"),
        ({"tornado_png": "../elsewhere/tornado.png"}, "tornado_png"),
        ({"tornado_metric": "irr"}, "tornado_metric"),
        ({"generated_at": "yesterday"}, "generated_at"),
        ({"parameter_labels": {"discount_rate": {"fr": "Taux d'actualisation"}}}, r"parameter_labels\.discount_rate"),
        ({"parameter_labels": {"discount_rate": "Taux"}}, r"parameter_labels\.discount_rate"),
    ],
)
def test_the_schema_refuses_what_it_does_not_describe(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(EconomicsReportError, match=message):
        EconomicsSummary.from_dict(summary_dict(**changes))


def test_a_run_written_before_parameter_labels_reads_with_none() -> None:
    older = {key: value for key, value in summary_dict().items() if key != "parameter_labels"}
    assert EconomicsSummary.from_dict(older).parameter_labels == {}


def test_read_says_what_to_run_when_the_file_is_missing_or_broken(tmp_path: Path) -> None:
    with pytest.raises(EconomicsReportError, match="proximite economics run"):
        EconomicsSummary.read(tmp_path)
    (tmp_path / ECONOMICS_JSON).write_text("{not json", encoding="utf-8")
    with pytest.raises(EconomicsReportError, match="not a JSON file"):
        EconomicsSummary.read(tmp_path)


def _write_run(settings: Any, name: str, *, build_id: str, generated_at: str) -> Path:
    summary = EconomicsSummary.from_dict(summary_dict(build_id=build_id, generated_at=generated_at))
    directory = economics_dir(settings) / name
    summary.write(directory)
    return directory


def test_latest_picks_the_newest_run_of_the_current_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(tmp_path / "project")
    assert run_dir(settings, "b1") == tmp_path / "project" / "reporting" / "economics" / "b1"
    # No warehouse, no run: nothing.
    assert EconomicsSummary.latest(settings) is None
    assert EconomicsSummary.latest(settings, build_id="b1") is None

    _write_run(settings, "b1", build_id="b1", generated_at="2025-11-20T10:00:00-05:00")
    newest = _write_run(settings, "b1-rerun", build_id="b1", generated_at="2025-11-21T09:00:00-05:00")
    _write_run(settings, "b1-older", build_id="b1", generated_at="2025-11-19T09:00:00-05:00")
    # A later run of another build, a run in progress (no JSON yet) and a stray file are ignored.
    _write_run(settings, "b0", build_id="b0", generated_at="2025-12-01T00:00:00-05:00")
    (economics_dir(settings) / "b1-in-progress").mkdir()
    (economics_dir(settings) / "README.txt").write_text("not a run", encoding="utf-8")

    found = EconomicsSummary.latest(settings, build_id="b1")
    assert found is not None and found.directory == newest
    assert found.generated_at == dt.datetime(2025, 11, 21, 9, tzinfo=UTC_5)
    assert EconomicsSummary.latest(settings, build_id="b0").build_id == "b0"
    assert EconomicsSummary.latest(settings, build_id="b2") is None

    # Without build_id: the current warehouse build's.
    from proximite.cohort import warehouse

    monkeypatch.setattr(warehouse, "current_build", lambda _settings: SimpleNamespace(build_id="b1"))
    assert EconomicsSummary.latest(settings).directory == newest
    monkeypatch.setattr(warehouse, "current_build", lambda _settings: None)
    assert EconomicsSummary.latest(settings) is None


def test_latest_refuses_a_broken_run_of_the_build(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "project")
    broken = economics_dir(settings) / "b1"
    broken.mkdir(parents=True)
    (broken / ECONOMICS_JSON).write_text(json.dumps({"kind": "proximite-economics"}), encoding="utf-8")
    with pytest.raises(EconomicsReportError, match="build_id"):
        EconomicsSummary.latest(settings, build_id="b1")


def test_the_estimator_style_views() -> None:
    summary = EconomicsSummary.from_dict(summary_dict())
    table = summary.summary
    assert table.loc["bcr", "value"] == 1.5 and table.loc["bcr", "low"] == 0.92 and table.loc["bcr", "high"] == 2.1
    assert table.loc["costs.total", "value"] == pytest.approx(1_234_567.4)
    assert table.loc["p_bcr_gt_1", "value"] == 0.873
    assert table.loc["cost_per_outcome.need_met.region:06", "low"] == 850.0
    text = str(summary)
    assert "NOT PUBLISHABLE" in text and "20250101T000000Z-abc123" in text
    other = EconomicsSummary.from_dict(summary_dict(build_id="b2", cost_benefit={"pv_costs": 1.0, "pv_benefits": 2.0,
                                                                                  "npv": 1.0, "bcr": 2.0}))
    compared = compare_summaries(summary, other)
    assert list(compared.columns) == ["20250101T000000Z-abc123", "b2"]
    assert compared.loc["bcr"].tolist() == [1.5, 2.0]

    import matplotlib

    matplotlib.use("Agg")
    ax = summary.plot()
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["DPJ: unit value", "Discount rate"]
    import matplotlib.pyplot as plt

    plt.close("all")


# ------------------------------------------------------------------ CHEERS 2022
def test_the_checklist_has_the_28_items_of_cheers_2022() -> None:
    assert [item.number for item in CHEERS_2022] == list(range(1, 29))
    topics = [item.topic_en for item in CHEERS_2022]
    assert topics[0] == "Title" and topics[9] == "Discount rate" and topics[14] == "Currency, price date, and conversion"
    assert topics[20] == "Approach to engagement with patients and others affected by the study"
    assert topics[27] == "Conflicts of interest"
    assert all(item.topic_fr and item.anchor in (None, *PAGE_SECTIONS) for item in CHEERS_2022)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_checklist_says_where_each_item_is_answered(lang: str) -> None:
    table = cheers_table(EconomicsSummary.from_dict(summary_dict()), lang=lang)
    assert list(table.columns) == CHEERS_COLUMNS and len(table) == 28
    assert table["item"].tolist() == list(range(1, 29))
    team = table[~table["applicable"]]
    assert set(team["item"]) == TEAM_ITEMS
    expected = "À compléter par l'équipe de recherche" if lang == "fr" else "For the research team to complete"
    assert (team["answered_in"] == expected).all() and team["anchor"].isna().all()
    applicable = table[table["applicable"]]
    assert applicable["anchor"].isin(PAGE_SECTIONS).all()
    assert applicable["answered_in"].str.startswith("economics.html — ").all()
    row = table.set_index("item").loc[14]
    assert row["anchor"] == "costs" and row["references"] == "docs/economics.md; economics/params/costing.yaml"
    assert table.set_index("item").loc[10, "references"] == "economics/params/benefits.yaml"


def test_items_fall_to_the_team_when_the_run_lacks_what_answers_them() -> None:
    summary = EconomicsSummary.from_dict(summary_dict(
        psa=None, tornado=[], discount_sensitivity=[],
        cost_per_outcome=summary_dict()["cost_per_outcome"][:1],  # one scope only: no heterogeneity
    ))
    table = cheers_table(summary, lang="en").set_index("item")
    for item in (18, 20, 24):
        assert not table.loc[item, "applicable"], item
        assert table.loc[item, "answered_in"].startswith("Not produced by this run")
    assert table.loc[12, "applicable"] and table.loc[23, "applicable"]
    with pytest.raises(ValueError, match="lang"):
        cheers_table(summary, lang="de")
    assert isinstance(table, pd.DataFrame)

"""Activity-based costing: a tiny registry priced by hand, reconciliation, inflation, parameters."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from proximite.economics.budget_reconciliation import reconcile
from proximite.economics.costing import cost
from proximite.economics.costing_base import BUDGET_ONLY_CATEGORIES, CostingError
from proximite.economics.costing_parameters import (
    DEFAULT_COSTING_PATH,
    CostingParameters,
    load_costing_parameters,
    parse_costing_parameters,
)
from proximite.economics.inflation import inflate, load_cpi


def entry(value: float, unit: str = "CAD") -> dict[str, Any]:
    return {"value": value, "unit": unit, "source": "test", "year": 2024, "placeholder": False}


def kind(category: str, ptp_category: str, ratio: float, fee: float) -> dict[str, Any]:
    return {"category": category, "ptp_time_category": ptp_category, "supervisor_ratio": entry(ratio, "ratio"),
            "fee_per_session": entry(fee)}


#: Loaded PTP wage 20 × (1 + 0.2 + 0.05) = 25 $/h; supervisor 40 × 1.25 = 50 $/h; 0.50 $/km.
RAW: dict[str, Any] = {
    "currency": "CAD",
    "price_year": 2024,
    "wages": {"ptp": entry(20.0), "supervisor": entry(40.0)},
    "loading": {"benefits": entry(0.2, "share"), "overhead": entry(0.05, "share")},
    "km_rate": entry(0.5),
    "supervision_kinds": {
        "clinique": kind("supervision", "salaire_ptp", 1.0, 0.0),
        "organisationnelle": kind("supervision", "salaire_ptp", 1.0, 0.0),
        "codeveloppement": kind("supervision", "salaire_ptp", 0.5, 0.0),
        "communaute_pratique": kind("supervision", "salaire_ptp", 0.5, 0.0),
        "formation": kind("formation", "formation", 0.0, 100.0),
    },
}


@pytest.fixture
def parameters() -> CostingParameters:
    return parse_costing_parameters(copy.deepcopy(RAW), path="test.yaml")


def tiny_registry() -> dict[str, pd.DataFrame]:
    """Two territories, two PTP, five activities (one without travel recorded), three sessions, a budget."""
    territory = pd.DataFrame(
        {"territory_id": ["T1", "T2"], "name": ["Un", "Deux"], "region_code": ["06", "07"],
         "environment": ["urbain", "rural"], "host_type": ["OCF", "CPSC"], "redcap_dag": ["t1", "t2"]}
    )
    worker = pd.DataFrame(
        {"worker_id": ["W1", "W2"], "territory_id": ["T1", "T2"],
         "start_date": pd.to_datetime(["2024-01-01", "2024-01-01"]),
         "end_date": pd.to_datetime([None, "2024-03-31"]), "weekly_hours": [35.0, 28.0]}
    )
    activity = pd.DataFrame(
        {
            "activity_id": ["A1", "A2", "A3", "A4", "A5"],
            "worker_id": ["W1", "W1", "W1", "W2", "W2"],
            "territory_id": ["T1", "T1", "T1", "T2", "T2"],
            "activity_date": pd.to_datetime(["2024-01-10", "2024-02-15", "2024-04-02", "2024-03-05", "2024-03-20"]),
            "minutes": pd.array([60, 90, 120, 45, 30], dtype="Int64"),
            "action_type": ["information", "demarchage", "suivi_partenaires", "accompagnement_ressources", "reperage"],
            "component": ["soutien", "proximite", "concertation", "soutien", "proximite"],
            "family_id": ["f1", None, None, "f2", None],
            "org_id": [None, None, "o1", None, None],
            "place": ["domicile", "parc", "organisme", "domicile", "parc"],
            "travel_minutes": pd.array([30, 0, 15, 60, None], dtype="Int64"),
            "travel_km": pd.array([10.0, 0.0, 4.0, 40.0, None], dtype="Float64"),
        }
    )
    supervision = pd.DataFrame(
        {"worker_id": ["W1", "W2", "W1"],
         "session_date": pd.to_datetime(["2024-01-20", "2024-03-10", "2024-05-01"]),
         "kind": ["clinique", "formation", "codeveloppement"], "minutes": pd.array([60, 120, 120], dtype="Int64")}
    )
    budget = pd.DataFrame(
        [
            ("T1", "2024-T1", "salaire_ptp", 200.0), ("T1", "2024-T1", "supervision", 50.0),
            ("T1", "2024-T1", "mobilite", 10.0), ("T1", "2024-T1", "coordination", 500.0),
            ("T1", "2024-T2", "salaire_ptp", 100.0), ("T1", "2024-T2", "supervision", 40.0),
            ("T2", "2024-T1", "salaire_ptp", 50.0), ("T2", "2024-T1", "formation", 150.0),
            ("T2", "2024-T1", "soutien_concret", 80.0),
        ],
        columns=["territory_id", "period", "category", "amount_cad"],
    )
    return {"territory": territory, "worker": worker, "activity": activity, "supervision": supervision, "cost": budget}


def amount(table: pd.DataFrame, **where: str) -> float:
    rows = table
    for column, value in where.items():
        rows = rows[rows[column] == value]
    return float(rows["amount_cad"].sum())


def test_loaded_wages(parameters: CostingParameters) -> None:
    assert parameters.loaded_wage("ptp") == pytest.approx(25.0)
    assert parameters.loaded_wage("supervisor") == pytest.approx(50.0)
    with pytest.raises(CostingError, match="coordinator"):
        parameters.loaded_wage("coordinator")


def test_tiny_registry_priced_by_hand(parameters: CostingParameters) -> None:
    tables = tiny_registry()
    before = {name: frame.copy() for name, frame in tables.items()}
    result = cost(tables, parameters)
    lines = result.lines
    # T1, 2024-T1: activities (60 + 90) min, travel 30 min and 10 km, a 60-min clinical session.
    assert amount(lines, territory_id="T1", period="2024-T1", component="ptp_activity") == pytest.approx(150 / 60 * 25)
    assert amount(lines, territory_id="T1", period="2024-T1", component="ptp_travel") == pytest.approx(12.5)
    assert amount(lines, territory_id="T1", period="2024-T1", component="travel_km") == pytest.approx(5.0)
    assert amount(lines, territory_id="T1", period="2024-T1", component="ptp_session") == pytest.approx(25.0)
    assert amount(lines, territory_id="T1", period="2024-T1", component="supervisor_session") == pytest.approx(50.0)
    # T1, 2024-T2: 120 min, travel 15 min and 4 km; 120-min co-development at ratio 0.5.
    assert amount(lines, territory_id="T1", period="2024-T2", category="salaire_ptp") == pytest.approx(50 + 6.25 + 50)
    assert amount(lines, territory_id="T1", period="2024-T2", category="supervision") == pytest.approx(50.0)
    assert amount(lines, territory_id="T1", period="2024-T2", category="mobilite") == pytest.approx(2.0)
    # T2: 75 min of activities, 60 travel minutes (the missing travel counts 0), 40 km; training.
    assert amount(lines, territory_id="T2", category="salaire_ptp") == pytest.approx(31.25 + 25.0)
    assert amount(lines, territory_id="T2", category="mobilite") == pytest.approx(20.0)
    assert amount(lines, territory_id="T2", category="formation") == pytest.approx(2 * 25 + 100)
    assert lines["amount_cad"].sum() == pytest.approx(539.5)
    # By activity component: soutien = A1 + A4 (activity and travel time).
    soutien = lines[(lines["action_component"] == "soutien") & (lines["category"] == "salaire_ptp")]
    assert soutien["amount_cad"].sum() == pytest.approx((60 + 45 + 30 + 60) / 60 * 25)
    assert result.statistics["activities"] == 5 and result.statistics["sessions"] == 3
    assert result.statistics["placeholders"] == []
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_reconciliation_gaps_by_hand(parameters: CostingParameters) -> None:
    table = cost(tiny_registry(), parameters).reconciliation().set_index(["territory_id", "category"])
    row = table.loc[("T1", "salaire_ptp")]
    assert row["activity_cad"] == pytest.approx(206.25)
    assert row["budget_cad"] == pytest.approx(300.0)
    assert row["gap_cad"] == pytest.approx(-93.75)
    assert row["gap_pct"] == pytest.approx(-31.25)
    assert row["status"] == "costed"
    assert table.loc[("T1", "supervision"), "gap_pct"] == pytest.approx(100 * 10 / 90)
    assert table.loc[("T1", "mobilite"), "gap_cad"] == pytest.approx(-3.0)
    assert table.loc[("T2", "formation"), "gap_cad"] == pytest.approx(0.0)
    assert table.loc[("T2", "salaire_ptp"), "gap_pct"] == pytest.approx(12.5)
    only = table.loc[("T2", "mobilite")]
    assert only["status"] == "activity_only" and np.isnan(only["gap_pct"]) and only["gap_cad"] == pytest.approx(20.0)
    for key in (("T1", "coordination"), ("T2", "soutien_concret")):
        assert table.loc[key, "status"] == "budget_only"
        assert np.isnan(table.loc[key, "activity_cad"]) and np.isnan(table.loc[key, "gap_cad"])
    assert table.loc[("T1", "coordination"), "budget_cad"] == pytest.approx(500.0)
    # Contracted PTP time: W1 35 h/week over 2024-T1 (91 days) and 2024-T2 up to the end of the
    # data (the last session, 2024-05-01: 31 days; the tenure is open); W2 28 h/week over 2024-T1.
    assert table.loc[("T1", "salaire_ptp"), "contracted_cad"] == pytest.approx((91 + 31) * 5 * 25)
    assert table.loc[("T2", "salaire_ptp"), "contracted_cad"] == pytest.approx(91 * 4 * 25)


def test_contracted_time_to_an_explicit_end(parameters: CostingParameters) -> None:
    result = cost(tiny_registry(), parameters, end="2024-06-30")
    table = result.reconciliation(by_period=True).set_index(["territory_id", "period", "category"])
    assert table.loc[("T1", "2024-T2", "salaire_ptp"), "contracted_cad"] == pytest.approx(91 * 5 * 25)
    assert table.loc[("T2", "2024-T1", "salaire_ptp"), "contracted_cad"] == pytest.approx(91 * 4 * 25)
    # Registry travel in a quarter without a mobility budget line.
    assert table.loc[("T1", "2024-T2", "mobilite"), "status"] == "activity_only"
    kept = cost(tiny_registry(), parameters, periods=["2024-T2"])
    assert set(kept.lines["period"]) == {"2024-T2"} and set(kept.budget["period"]) == {"2024-T2"}


def test_roll_up_levels_and_summary(parameters: CostingParameters) -> None:
    result = cost(tiny_registry(), parameters)
    region = result.by("region").set_index(["region_code", "category"])
    assert region.loc[("07", "mobilite"), "activity_cad"] == pytest.approx(20.0)
    host = result.by("host_type").set_index(["host_type", "category"])
    assert host.loc[("OCF", "salaire_ptp"), "budget_cad"] == pytest.approx(300.0)
    quarterly = result.by("environment", by_period=True).set_index(["environment", "period", "category"])
    assert quarterly.loc[("urbain", "2024-T2", "salaire_ptp"), "activity_cad"] == pytest.approx(106.25)
    summary = result.summary
    assert summary.loc["total", "activity_cad"] == pytest.approx(539.5)
    assert summary.loc["total", "budget_cad"] == pytest.approx(1180.0)
    assert summary.loc["coordination", "status"] == "budget_only"
    scoped = result.scoped().set_index(["scope", "scope_id", "stratum", "stratum_value"])
    assert scoped.loc[("quebec", "QC", "all", "all"), "activity_cad"] == pytest.approx(539.5)
    assert scoped.loc[("territory", "T2", "all", "all"), "budget_cad"] == pytest.approx(280.0)
    assert scoped.loc[("region", "06", "all", "all"), "activity_cad"] == pytest.approx(206.25 + 100 + 7)
    with pytest.raises(CostingError, match="unknown level"):
        result.by("municipality")
    assert "CAD of 2024" in str(result)
    assert all("family_id" not in table.columns for table in result.tables().values())


def test_plot_is_lazy_and_draws(parameters: CostingParameters) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = cost(tiny_registry(), parameters)
    ax = result.plot()
    assert len(ax.patches) == 2 * len(result.by("quebec"))  # budget and activity bars per category
    plt.close(ax.figure)


def test_reconcile_on_its_own() -> None:
    activity = pd.DataFrame({"territory_id": ["T"], "category": ["mobilite"], "amount_cad": [30.0]})
    budget = pd.DataFrame({"territory_id": ["T", "T"], "category": ["mobilite", "autre"], "budget_cad": [20.0, 5.0]})
    budget = pd.concat([budget, pd.DataFrame({"territory_id": ["T"], "category": ["supervision"], "budget_cad": [40.0]})])
    table = reconcile(activity, budget).set_index("category")
    assert table.loc["mobilite", "gap_pct"] == pytest.approx(50.0)
    # A category the registry costs, budgeted, with no registry line: 0 $ against the budget.
    none_logged = table.loc["supervision"]
    assert none_logged["status"] == "costed" and none_logged["activity_cad"] == 0.0
    assert none_logged["gap_pct"] == pytest.approx(-100.0)
    assert table.loc["autre", "status"] == "budget_only"
    assert set(BUDGET_ONLY_CATEGORIES) == {"soutien_concret", "coordination", "autre"}


# ------------------------------------------------------------------------------ inflation
def test_inflate_by_hand() -> None:
    cpi = {2019: 100.0, 2023: 120.0, 2024: 125.0}
    assert inflate(100.0, 2019, 2024, cpi) == pytest.approx(125.0)
    assert inflate(125.0, 2024, 2019, cpi) == pytest.approx(100.0)
    both = inflate([100.0, 240.0], [2019, 2023], 2024, cpi)
    np.testing.assert_allclose(both, [125.0, 250.0])
    series = inflate(pd.Series([10.0], index=["x"]), 2023, 2024, cpi)
    assert series.index.tolist() == ["x"] and series["x"] == pytest.approx(10.0 * 125 / 120)
    with pytest.raises(CostingError, match="2030"):
        inflate(1.0, 2030, 2024, cpi)


def test_shipped_cpi_reads_and_ratio() -> None:
    cpi = load_cpi()
    assert list(cpi.index) == list(range(2015, 2025))
    assert (cpi.diff().dropna() > 0).all()
    assert inflate(100.0, 2019, 2024, cpi) == pytest.approx(100.0 * cpi[2024] / cpi[2019])


def test_costing_in_another_price_year(parameters: CostingParameters) -> None:
    cpi = {2024: 100.0, 2025: 110.0}
    result = cost(tiny_registry(), parameters, price_year=2025, cpi=cpi)
    assert result.lines["amount_cad"].sum() == pytest.approx(539.5 * 1.1)
    assert result.budget["budget_cad"].sum() == pytest.approx(1180.0 * 1.1)
    assert result.statistics["budget_prices"] == "CAD of 2025"
    with pytest.raises(CostingError, match="cpi="):
        cost(tiny_registry(), parameters, price_year=2025)


# ------------------------------------------------------------------------------ parameter files
def test_shipped_parameters_are_placeholders() -> None:
    parameters = load_costing_parameters()
    assert parameters.path == str(DEFAULT_COSTING_PATH)
    assert "wages.ptp" in parameters.placeholders() and "km_rate" in parameters.placeholders()
    assert parameters.to_dict()["wages"]["ptp"]["placeholder"] is True


@pytest.mark.parametrize(
    ("edit", "key", "rule"),
    [
        (lambda raw: raw["wages"]["ptp"].pop("source"), "wages.ptp.source", "required"),
        (lambda raw: raw["wages"]["supervisor"].update(value=-3), "wages.supervisor.value", ">= 0"),
        (lambda raw: raw["km_rate"].update(year="2024"), "km_rate.year", "year"),
        (lambda raw: raw["supervision_kinds"].update(atelier=raw["supervision_kinds"]["clinique"]),
         "supervision_kinds.atelier", "unknown supervision kind"),
        (lambda raw: raw["supervision_kinds"]["clinique"].update(category="coordination"),
         "supervision_kinds.clinique.category", "budget-only"),
        (lambda raw: raw["loading"].pop("overhead"), "loading", "benefits and overhead"),
        (lambda raw: raw.update(currency="USD"), "currency", "CAD"),
        (lambda raw: raw.pop("price_year"), "price_year", "required"),
    ],
)
def test_bad_parameter_files_name_file_key_and_rule(tmp_path: Path, edit: Any, key: str, rule: str) -> None:
    raw = copy.deepcopy(RAW)
    edit(raw)
    path = tmp_path / "costing.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CostingError) as error:
        load_costing_parameters(path)
    message = str(error.value)
    assert str(path) in message and f"'{key}'" in message and rule in message


def test_unreadable_parameter_files(tmp_path: Path) -> None:
    with pytest.raises(CostingError, match="cannot read"):
        load_costing_parameters(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("wages: [unclosed\n", encoding="utf-8")
    with pytest.raises(CostingError, match="not valid YAML"):
        load_costing_parameters(broken)


# ------------------------------------------------------------------------------ synthetic warehouse
def test_synthetic_cohort_reconciles_with_planted_costs(harmonised_cohort: Any) -> None:
    """The generator plants budgets from known rates: with those rates, the registry explains them."""
    tables, truth = harmonised_cohort(families=60, territories=4, seed=7)
    rates = truth["costs"]["rates"]
    raw = copy.deepcopy(RAW)
    raw["loading"] = {"benefits": entry(0.0, "share"), "overhead": entry(0.0, "share")}
    raw["wages"] = {"ptp": entry(rates["ptp_hourly_loaded_cad"]), "supervisor": entry(rates["supervisor_hourly_loaded_cad"])}
    raw["km_rate"] = entry(rates["km_rate_cad"])
    for name in ("clinique", "organisationnelle", "codeveloppement", "communaute_pratique"):
        raw["supervision_kinds"][name] = kind("supervision", "salaire_ptp", 1.0, 0.0)
    raw["supervision_kinds"]["formation"] = kind("formation", "formation", 0.0, rates["training_fee_per_session_cad"])
    result = cost(tables, parse_costing_parameters(raw, path="synthetic"))
    summary = result.summary
    planted = truth["costs"]["realised"]["by_category_cad"]
    salary = summary.loc["salaire_ptp"]
    assert salary["budget_cad"] == pytest.approx(planted["salaire_ptp"], rel=1e-6)
    # Logged time (activities, travel, sessions) is a fraction of the paid time the budget pays...
    assert 0.05 * salary["budget_cad"] < salary["activity_cad"] < salary["budget_cad"]
    # ...while the contracted time of the worker table is what the generator paid.
    assert salary["contracted_cad"] == pytest.approx(salary["budget_cad"], rel=0.01)
    for category in ("supervision", "mobilite", "formation"):
        assert summary.loc[category, "activity_cad"] == pytest.approx(planted[category], rel=0.01)
    assert summary.loc["coordination", "status"] == "budget_only"

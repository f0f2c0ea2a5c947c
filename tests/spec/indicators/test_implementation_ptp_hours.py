"""implementation.ptp_hours: Σ activity minutes / 60, by component, by action type and in all.

``WORK_ACTIVITIES`` (calendar years):

- T1 2024: W1 60 min demarchage (proximite), W1 90 min information (soutien), W2 30 min
  suivi_partenaires (concertation): 180 min = 3 h over 3 activities; proximite 1 h, soutien
  1.5 h, concertation 0.5 h; every other action type 0 h;
- T1 2025: W2 120 min information = 2 h; T1 all = 5 h;
- T2 2024: W3 45 min lien_confiance = 0.75 h; T3 has no activity (no row).
Québec 2024 = 3 + 0.75 = 3.75 h; all = 5.75 h.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from proximite.cohort.codebook import load_codebook
from proximite.indicators import implementation
from proximite.indicators.base import IndicatorParameters

from ._registry_tables import PARAMETERS, pick, rows, unit_of, work_tables

ID = "implementation.ptp_hours"


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return implementation.ptp_hours(work_tables(), parameters=PARAMETERS)


@pytest.mark.parametrize(
    ("territory", "period", "breakdown", "value", "hours", "n"),
    [
        ("T1", "2024", "all", "all", 3.0, 3),
        ("T1", "2024", "component", "proximite", 1.0, 1),
        ("T1", "2024", "component", "soutien", 1.5, 1),
        ("T1", "2024", "component", "concertation", 0.5, 1),
        ("T1", "2024", "action_type", "demarchage", 1.0, 1),
        ("T1", "2024", "action_type", "information", 1.5, 1),
        ("T1", "2024", "action_type", "reperage", 0.0, 0),
        ("T1", "2025", "all", "all", 2.0, 1),
        ("T1", "all", "all", "all", 5.0, 4),
        ("T1", "all", "action_type", "information", 3.5, 2),
        ("T2", "2024", "all", "all", 0.75, 1),
    ],
)
def test_territory_hours(
    result: pd.DataFrame, territory: str, period: str, breakdown: str, value: str, hours: float, n: int
) -> None:
    row = pick(
        result, ID, period=period, scope="territory", scope_id=territory, breakdown=breakdown, breakdown_value=value
    )
    assert row["value"] == pytest.approx(hours) and row["numerator"] == pytest.approx(hours)
    assert row["n"] == n
    assert math.isnan(row["denominator"]) and math.isnan(row["ci_low"])
    assert row["unit"] == unit_of(ID)


def test_every_code_in_each_territory_and_period(result: pd.DataFrame) -> None:
    codebook = load_codebook()
    cell = rows(result, ID, scope="territory", scope_id="T1", period="2024")
    assert set(cell.loc[cell["breakdown"] == "component", "breakdown_value"]) == set(codebook.codes("component"))
    assert set(cell.loc[cell["breakdown"] == "action_type", "breakdown_value"]) == set(codebook.codes("action_type"))
    assert rows(result, ID, scope="territory", scope_id="T3").empty


def test_hours_add_up(result: pd.DataFrame) -> None:
    assert pick(result, ID, period="2024")["value"] == pytest.approx(3.75)
    assert pick(result, ID, period="all")["value"] == pytest.approx(5.75)
    assert pick(result, ID, period="all", scope="region", scope_id="01")["value"] == pytest.approx(5.75)
    assert rows(result, ID, scope="region", scope_id="02").empty
    # Any breakdown: the components sum to the total, and Québec to the sum of territories.
    quebec = rows(result, ID, scope="quebec", stratum="all", period="2024")
    by = quebec.groupby("breakdown")["value"].sum()
    assert by["component"] == pytest.approx(by["all"]) and by["action_type"] == pytest.approx(by["all"])
    territory = rows(result, ID, scope="territory", period="2024").groupby(["breakdown", "breakdown_value"])["value"]
    quebec_values = quebec.set_index(["breakdown", "breakdown_value"])["value"]
    pd.testing.assert_series_equal(territory.sum().sort_index(), quebec_values.sort_index(), check_names=False)


def test_inputs_are_not_modified() -> None:
    tables = work_tables()
    copies = {name: frame.copy() for name, frame in tables.items()}
    implementation.compute(tables, parameters=PARAMETERS)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, copies[name])


def test_as_of_cuts_the_span() -> None:
    # Data end on 2024-12-31: T1's 2025 activity is left out, there is no 2025 period.
    parameters = IndicatorParameters(periods="year", as_of=dt.date(2024, 12, 31))
    result = implementation.ptp_hours(work_tables(), parameters=parameters)
    assert set(rows(result, ID)["period"]) == {"2024", "all"}
    whole = pick(result, ID, period="all")
    assert whole["value"] == pytest.approx(3.75) and whole["period_end"] == pd.Timestamp("2024-12-31")


def test_returns_only_its_own_id(result: pd.DataFrame) -> None:
    assert set(result["indicator"]) == {ID}

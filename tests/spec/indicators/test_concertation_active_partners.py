"""concertation.active_partners: distinct partner organisations in referrals or concertation activities.

The tiny world of ``_registry_tables`` (calendar-year periods). Partners by territory and year:

- T1 2024: P1a, P1b, P1c (referrals) + P1d (a concertation activity) = 4. Not P1e (named by an
  accompaniment activity, not concertation) nor H1 (the host). T1 2025: P1a, P1b = 2.
- T2 2024: P2a = 1; T2 has nothing in 2025, so no row.
- T3 2024: P3a, P3b = 2; 2025: the same 2.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from proximite.indicators import concertation

from ._registry_tables import PARAMETERS, network_tables, pick, registry_tables, rows, unit_of

ID = "concertation.active_partners"


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return concertation.compute(network_tables(), parameters=PARAMETERS)


@pytest.mark.parametrize(
    ("territory", "period", "expected"),
    [("T1", "2024", 4), ("T1", "2025", 2), ("T1", "all", 4), ("T2", "2024", 1), ("T3", "2024", 2), ("T3", "2025", 2)],
)
def test_territory_counts(result: pd.DataFrame, territory: str, period: str, expected: int) -> None:
    row = pick(result, ID, period=period, scope="territory", scope_id=territory)
    assert row["value"] == expected
    assert row["numerator"] == expected and row["n"] == expected
    assert math.isnan(row["denominator"]) and math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])
    assert row["unit"] == unit_of(ID)


def test_no_row_without_partners(result: pd.DataFrame) -> None:
    assert rows(result, ID, scope="territory", scope_id="T2", period="2025").empty


def test_counts_add_up_the_hierarchy(result: pd.DataFrame) -> None:
    # Québec 2024 = 4 + 1 + 2 = 7; region 01 (T1, T2) = 5; urbain (T1, T3) = 6; 2025 = 2 + 2 = 4.
    assert pick(result, ID, period="2024")["value"] == 7
    assert pick(result, ID, period="2025")["value"] == 4
    assert pick(result, ID, period="2024", scope="region", scope_id="01")["value"] == 5
    assert pick(result, ID, period="2024", stratum="environment", stratum_value="urbain")["value"] == 6
    territories = rows(result, ID, scope="territory")
    for period, total in territories.groupby("period")["value"].sum().items():
        assert pick(result, ID, period=str(period))["value"] == total


def test_an_organisation_counts_once_per_cell_across_periods(result: pd.DataFrame) -> None:
    # "all": T1's partners of both years are the same organisations: 4, not 4 + 2.
    assert pick(result, ID, period="all", scope="territory", scope_id="T1")["value"] == 4
    assert pick(result, ID, period="all")["value"] == 7
    whole = pick(result, ID, period="all")
    assert whole["period_start"] == pd.Timestamp("2024-01-01") and whole["period_end"] == pd.Timestamp("2025-12-31")


def test_activities_without_partners_give_no_rows() -> None:
    # Outreach only: no referral, no concertation activity naming a partner.
    tables = registry_tables(activities=[("T1", "W1", "2024-03-01", 60, "demarchage", 10, None)])
    assert concertation.compute(tables, parameters=PARAMETERS).empty


def test_partners_without_referrals() -> None:
    # A concertation activity with P1d and no referral: one active partner, Blau 0, no graph.
    tables = registry_tables(activities=[("T1", "W1", "2024-03-01", 60, "suivi_partenaires", 10, "P1d")])
    result = concertation.compute(tables, parameters=PARAMETERS)
    assert pick(result, ID, period="2024", scope="territory", scope_id="T1")["value"] == 1
    assert pick(result, "concertation.blau_diversity", period="2024", scope="territory", scope_id="T1")["value"] == 0
    assert rows(result, "concertation.density").empty

"""concertation.tie_stability: Jaccard |E1 ∩ E2| / |E1 ∪ E2| of two consecutive periods' edges.

- T1: E2024 = {H1→P1a, H1→P1b, P1a→H1, H1→P1c}, E2025 = {H1→P1a, P1b→H1, H1→P1b, P1a→P1b}:
  common H1→P1a, H1→P1b = 2, union 4 + 4 − 2 = 6 → 1/3 (row on 2025);
- T2: E2024 = {H2→P2a, P2a→H2}, E2025 = {} → 0/2 = 0 (no referral in the later period: none
  of the earlier ties lasted; the demo's last period, T24, has no referral at all, hence its 0,00);
- T3: E2024 = {H3→P3a, H3→P3b} ⊂ E2025 (4 edges) → 2/4 = 0.5.
No row on the first period nor on period "all".
"""

from __future__ import annotations

import pandas as pd
import pytest

from proximite.indicators import concertation

from ._registry_tables import PARAMETERS, network_tables, pick, registry_tables, rows, unit_of

ID = "concertation.tie_stability"

E = {
    ("T1", "2024"): {("H1", "P1a"), ("H1", "P1b"), ("P1a", "H1"), ("H1", "P1c")},
    ("T1", "2025"): {("H1", "P1a"), ("P1b", "H1"), ("H1", "P1b"), ("P1a", "P1b")},
    ("T2", "2024"): {("H2", "P2a"), ("P2a", "H2")},
    ("T2", "2025"): set(),
    ("T3", "2024"): {("H3", "P3a"), ("H3", "P3b")},
    ("T3", "2025"): {("H3", "P3a"), ("P3a", "H3"), ("H3", "P3b"), ("P3b", "H3")},
}


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return concertation.compute(network_tables(), parameters=PARAMETERS)


@pytest.mark.parametrize(("territory", "expected"), [("T1", 1 / 3), ("T2", 0.0), ("T3", 0.5)])
def test_territory_jaccard(result: pd.DataFrame, territory: str, expected: float) -> None:
    before, after = E[(territory, "2024")], E[(territory, "2025")]
    row = pick(result, ID, period="2025", scope="territory", scope_id=territory)
    assert row["value"] == pytest.approx(expected)
    assert row["value"] == pytest.approx(len(before & after) / len(before | after))
    assert (row["numerator"], row["denominator"]) == (len(before & after), len(before | after))
    assert row["unit"] == unit_of(ID)


def test_rows_only_on_later_periods(result: pd.DataFrame) -> None:
    assert set(rows(result, ID)["period"]) == {"2025"}


def test_quebec_mean(result: pd.DataFrame) -> None:
    row = pick(result, ID, period="2025")
    assert row["value"] == pytest.approx((1 / 3 + 0 + 0.5) / 3) and row["n"] == 3
    assert "mean of territories" in row["method"]


def test_one_period_has_no_stability() -> None:
    tables = registry_tables(referrals=[("T1", "ptp_to_partner", "H1", "P1a", "2024-03-01")])
    result = concertation.compute(tables, parameters=PARAMETERS)
    assert rows(result, ID).empty
    assert rows(result, "concertation.density_change").empty

"""concertation.density_change: density(period) − density(previous period), per territory.

T1: 4/6 − 4/12 = 1/3; T3: 4/6 − 2/6 = 1/3; T2 has no graph in 2025: no change. Rows only on
the later period (no "all"); Québec = mean of the territory changes (1/3, 1/3) = 1/3.
"""

from __future__ import annotations

import pandas as pd
import pytest

from proximite.indicators import concertation

from ._registry_tables import PARAMETERS, network_tables, pick, rows, unit_of

ID = "concertation.density_change"


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return concertation.compute(network_tables(), parameters=PARAMETERS)


@pytest.mark.parametrize(("territory", "expected"), [("T1", 4 / 6 - 4 / 12), ("T3", 4 / 6 - 2 / 6)])
def test_territory_change(result: pd.DataFrame, territory: str, expected: float) -> None:
    row = pick(result, ID, period="2025", scope="territory", scope_id=territory)
    assert row["value"] == pytest.approx(expected)
    density = {
        period: pick(result, "concertation.density", period=period, scope="territory", scope_id=territory)["value"]
        for period in ("2024", "2025")
    }
    assert row["value"] == pytest.approx(density["2025"] - density["2024"])
    assert row["unit"] == unit_of(ID)


def test_no_change_without_both_periods(result: pd.DataFrame) -> None:
    assert rows(result, ID, scope="territory", scope_id="T2").empty
    assert set(rows(result, ID)["period"]) == {"2025"}


def test_quebec_mean_of_changes(result: pd.DataFrame) -> None:
    row = pick(result, ID, period="2025")
    assert row["value"] == pytest.approx(1 / 3) and row["n"] == 2
    # Both territories changed by the same amount: a 0-width interval.
    assert row["ci_low"] == pytest.approx(1 / 3) and row["ci_high"] == pytest.approx(1 / 3)

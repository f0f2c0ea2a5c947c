"""concertation.degree_centralisation_change: centralisation(period) − centralisation(previous).

T1: the 2024 star (1) became a triangle (0): −1; T3: star both years: 0; T2: undefined (two
nodes), no row. Québec 2025 = mean (−1, 0) = −0.5.
"""

from __future__ import annotations

import pandas as pd
import pytest

from proximite.indicators import concertation

from ._registry_tables import PARAMETERS, network_tables, pick, rows, unit_of

ID = "concertation.degree_centralisation_change"


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return concertation.compute(network_tables(), parameters=PARAMETERS)


@pytest.mark.parametrize(("territory", "expected"), [("T1", -1.0), ("T3", 0.0)])
def test_territory_change(result: pd.DataFrame, territory: str, expected: float) -> None:
    row = pick(result, ID, period="2025", scope="territory", scope_id=territory)
    assert row["value"] == pytest.approx(expected)
    assert row["n"] == 3  # nodes of the later graph
    assert row["unit"] == unit_of(ID)


def test_quebec_and_missing_territory(result: pd.DataFrame) -> None:
    assert pick(result, ID, period="2025")["value"] == pytest.approx(-0.5)
    assert rows(result, ID, scope="territory", scope_id="T2").empty

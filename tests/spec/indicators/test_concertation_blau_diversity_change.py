"""concertation.blau_diversity_change: Blau(period) − Blau(previous period).

T1: 0 − 0.625 = −0.625 (P1c, P1d no longer active in 2025); T3: 0.5 − 0.5 = 0; T2: no partner in
2025, no row. Québec 2025 = mean (−0.625, 0) = −0.3125; region 01 = T1 alone = −0.625.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from proximite.indicators import concertation

from ._registry_tables import PARAMETERS, network_tables, pick, rows, unit_of

ID = "concertation.blau_diversity_change"


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return concertation.compute(network_tables(), parameters=PARAMETERS)


@pytest.mark.parametrize(("territory", "expected", "partners"), [("T1", -0.625, 2), ("T3", 0.0, 2)])
def test_territory_change(result: pd.DataFrame, territory: str, expected: float, partners: int) -> None:
    row = pick(result, ID, period="2025", scope="territory", scope_id=territory)
    assert row["value"] == pytest.approx(expected)
    assert row["n"] == partners
    assert row["unit"] == unit_of(ID)


def test_rolled_up(result: pd.DataFrame) -> None:
    assert pick(result, ID, period="2025")["value"] == pytest.approx(-0.3125)
    region = pick(result, ID, period="2025", scope="region", scope_id="01")
    assert region["value"] == pytest.approx(-0.625) and region["n"] == 1 and math.isnan(region["ci_low"])
    assert rows(result, ID, scope="territory", scope_id="T2").empty

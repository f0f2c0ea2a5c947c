"""concertation.reciprocity_change: reciprocity(period) − reciprocity(previous period).

T1: 0.5 − 0.5 = 0; T3: 1 − 0 = 1; Québec 2025 = mean (0, 1) = 0.5, t interval on 1 df
0.5 ± 12.706 × 0.5 → cut to [-1, 1].
"""

from __future__ import annotations

import pandas as pd
import pytest

from proximite.indicators import concertation

from ._registry_tables import PARAMETERS, network_tables, pick, rows, unit_of

ID = "concertation.reciprocity_change"


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return concertation.compute(network_tables(), parameters=PARAMETERS)


@pytest.mark.parametrize(("territory", "expected"), [("T1", 0.0), ("T3", 1.0)])
def test_territory_change(result: pd.DataFrame, territory: str, expected: float) -> None:
    row = pick(result, ID, period="2025", scope="territory", scope_id=territory)
    assert row["value"] == pytest.approx(expected)
    assert row["unit"] == unit_of(ID)


def test_quebec_mean_of_changes(result: pd.DataFrame) -> None:
    row = pick(result, ID, period="2025")
    assert row["value"] == pytest.approx(0.5) and row["n"] == 2
    assert (row["ci_low"], row["ci_high"]) == (-1.0, 1.0)
    assert rows(result, ID, period="all").empty

"""concertation.blau_diversity: 1 − Σ_k p_k², p_k the share of active partners in network k.

- T1 2024: P1a, P1b communautaire, P1c public_sss, P1d services_garde: p = (1/2, 1/4, 1/4),
  1 − (1/4 + 1/16 + 1/16) = 0.625; T1 2025: P1a, P1b, both communautaire: 0;
- T2 2024: one partner: 0; T3: P3a communautaire, P3b immigration: 1 − (1/4 + 1/4) = 0.5.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from proximite.indicators import concertation

from ._registry_tables import ORGANISATIONS, PARAMETERS, network_tables, pick, unit_of

ID = "concertation.blau_diversity"


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return concertation.compute(network_tables(), parameters=PARAMETERS)


def _blau(partners: list[str]) -> float:
    network = {org: net for org, _, net, _ in ORGANISATIONS}
    shares = pd.Series([network[p] for p in partners]).value_counts(normalize=True)
    return float(1 - (shares**2).sum())


@pytest.mark.parametrize(
    ("territory", "period", "expected", "partners"),
    [
        ("T1", "2024", 0.625, ["P1a", "P1b", "P1c", "P1d"]),
        ("T1", "2025", 0.0, ["P1a", "P1b"]),
        ("T2", "2024", 0.0, ["P2a"]),
        ("T3", "2024", 0.5, ["P3a", "P3b"]),
        ("T3", "2025", 0.5, ["P3a", "P3b"]),
    ],
)
def test_territory_values(
    result: pd.DataFrame, territory: str, period: str, expected: float, partners: list[str]
) -> None:
    row = pick(result, ID, period=period, scope="territory", scope_id=territory)
    assert row["value"] == pytest.approx(expected)
    assert row["value"] == pytest.approx(_blau(partners))
    assert row["n"] == len(partners)
    assert math.isnan(row["ci_low"])
    assert row["unit"] == unit_of(ID)


def test_quebec_mean(result: pd.DataFrame) -> None:
    row = pick(result, ID, period="2024")
    assert row["value"] == pytest.approx((0.625 + 0 + 0.5) / 3) and row["n"] == 3
    assert 0.0 <= row["ci_low"] <= row["value"] <= row["ci_high"] <= 1.0
    assert pick(result, ID, period="2024", scope="region", scope_id="02")["value"] == pytest.approx(0.5)

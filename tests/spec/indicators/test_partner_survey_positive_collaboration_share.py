"""Spec: ``partner_survey.positive_collaboration_share`` = answers rating the collaboration with the host 3 or 4 (of 4).

| answer | territory | year | appreciation | positive |
|---|---|---|---|---|
| r1 P1a | T1 | 2024 | 4 | yes |
| r2 P1b | T1 | 2024 | 3 | yes |
| r3 P1c | T1 | 2024 | 2 | no |
| r4 P1d | T1 | 2024 | not answered | left out |
| r5 P2a | T2 | 2024 | 1 | no |
| r6 P3a | T3 | 2025 | 3 | yes |

Québec 2024 = 2/4 = 0.5 (n = 4 answers that rate it); T1 2024 = 2/3; urbain 2024 (T1) = 2/3;
Québec 2025 = 1/1. Wilson = statsmodels.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.partner_survey import positive_collaboration_share

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import survey_tables

ID = "partner_survey.positive_collaboration_share"
RESPONSES = [
    ("r1", "P1a", "T1", 2024, 4), ("r2", "P1b", "T1", 2024, 3), ("r3", "P1c", "T1", 2024, 2),
    ("r4", "P1d", "T1", 2024, None), ("r5", "P2a", "T2", 2024, 1), ("r6", "P3a", "T3", 2025, 3),
]


@pytest.mark.parametrize(
    ("cell", "period", "positive", "rated"),
    [
        ({}, "2024", 2, 4),
        ({"scope": "territory", "scope_id": "T1"}, "2024", 2, 3),
        ({"stratum": "environment", "stratum_value": "urbain"}, "2024", 2, 3),
        ({"scope": "territory", "scope_id": "T2"}, "2024", 0, 1),
        ({}, "2025", 1, 1),
    ],
)
def test_positive_share(cell: dict, period: str, positive: int, rated: int) -> None:
    frame = unchanged(positive_collaboration_share, survey_tables(responses=RESPONSES), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, **cell)
    low, high = proportion_confint(positive, rated, method="wilson")
    assert (row["numerator"], row["denominator"], row["n"]) == (positive, rated, rated)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(positive / rated), pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert row["unit"] == unit_of(ID) == "share" and "3 or 4" in row["method"]
    assert set(frame["indicator"]) == {ID}

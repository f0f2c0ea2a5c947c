"""Spec: ``partner_survey.response_rate`` = partner organisations that answered / partner organisations.

Partners (organisation table, hosts excluded): T1 has 5 (P1a–P1e), T2 one (P2a), T3 two (P3a, P3b).

| year | territory | answers | counted / invited |
|---|---|---|---|
| 2024 | T1 | P1a, P1b, P1c, and H1 (the host: not a partner) | 3 / 5 |
| 2024 | T2 | P2a | 1 / 1 |
| 2024 | T3 | none: the survey did not run there | — |
| 2025 | T3 | P3a, and P1a under T3's group (a T1 organisation: not T3's) | 1 / 2 |

Québec 2024 = (3 + 1)/(5 + 1) = 4/6; region 01 2024 = 4/6; region 02 has no 2024 row;
Québec 2025 = 1/2. Wilson = statsmodels.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.partner_survey import response_rate

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, rows, unit_of
from ._survey_tables import survey_tables

ID = "partner_survey.response_rate"
RESPONSES = [
    ("r1", "P1a", "T1", 2024, 4), ("r2", "P1b", "T1", 2024, 3), ("r3", "P1c", "T1", 2024, None),
    ("r4", "H1", "T1", 2024, None), ("r5", "P2a", "T2", 2024, 2),
    ("r6", "P3a", "T3", 2025, 4), ("r7", "P1a", "T3", 2025, 4),
]


def result():
    return unchanged(response_rate, survey_tables(responses=RESPONSES), parameters=PARAMETERS)


@pytest.mark.parametrize(
    ("cell", "period", "answered", "invited"),
    [
        ({}, "2024", 4, 6),
        ({"scope": "region", "scope_id": "01"}, "2024", 4, 6),
        ({"scope": "territory", "scope_id": "T1"}, "2024", 3, 5),
        ({"scope": "territory", "scope_id": "T2"}, "2024", 1, 1),
        ({}, "2025", 1, 2),
        ({"stratum": "environment", "stratum_value": "rural"}, "2024", 1, 1),
    ],
)
def test_response_rate(cell: dict, period: str, answered: int, invited: int) -> None:
    row = pick(result(), ID, period=period, **cell)
    low, high = proportion_confint(answered, invited, method="wilson")
    assert (row["numerator"], row["denominator"], row["n"]) == (answered, invited, invited)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(answered / invited), pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert row["unit"] == unit_of(ID) == "share" and "where the survey ran" in row["method"]


def test_territories_where_the_survey_did_not_run_have_no_rate_and_years_are_calendar_years() -> None:
    frame = result()
    assert rows(frame, ID, scope="territory", scope_id="T3", period="2024").empty
    assert rows(frame, ID, scope="region", scope_id="02", period="2024").empty
    row = pick(frame, ID, period="2025")
    assert (str(row["period_start"].date()), str(row["period_end"].date())) == ("2025-01-01", "2025-12-31")
    assert set(frame["indicator"]) == {ID} and frame["wave"].isna().all()

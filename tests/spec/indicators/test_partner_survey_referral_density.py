"""Spec: ``partner_survey.referral_density`` = pairs with a referral that year / pairs of the same organisations.

Partner world of ``_survey_tables``; the organisations are those of ``reported_density``, so the
two densities compare directly. A referral's PTP end is the host; direction does not matter.

| territory, year | organisations | referral ties | density |
|---|---|---|---|
| T1 2024 | H1, P1a, P1b, P1c, P1d: 5 | H1–P1a, H1–P1d | 2/10 |
| T1 2025 | P1a, H1, P1e: 3 | H1–P1a | 1/3 |
| T2 2024 | P2a, H2: 2 | H2–P2a (partner to PTP) | 1 |

Québec 2024 = (0.2 + 1)/2 = 0.6.
"""

from __future__ import annotations

import pytest

from proximite.indicators.partner_survey import referral_density

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.referral_density"


@pytest.mark.parametrize(
    ("cell", "period", "value", "n"),
    [
        ({"scope": "territory", "scope_id": "T1"}, "2024", 2 / 10, 5),
        ({"scope": "territory", "scope_id": "T1"}, "2025", 1 / 3, 3),
        ({"scope": "territory", "scope_id": "T2"}, "2024", 1.0, 2),
        ({}, "2024", 0.6, 2),
    ],
)
def test_referral_density_beside_the_reported_one(cell: dict, period: str, value: float, n: int) -> None:
    frame = unchanged(referral_density, partner_world(), parameters=PARAMETERS)
    row = pick(frame, ID, period=period, **cell)
    assert (row["value"], row["n"]) == (pytest.approx(value), n)
    assert row["unit"] == unit_of(ID) == "ratio" and set(frame["indicator"]) == {ID}

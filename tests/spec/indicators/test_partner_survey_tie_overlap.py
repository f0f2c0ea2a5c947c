"""Spec: ``partner_survey.tie_overlap`` = Jaccard index of the reported ties and the referral ties.

Partner world of ``_survey_tables``:

| territory, year | reported | referral | common / union |
|---|---|---|---|
| T1 2024 | H1–P1a, P1a–P1b, H1–P1b | H1–P1a, H1–P1d | 1/4 |
| T1 2025 | H1–P1a, P1a–P1e | H1–P1a | 1/2 |
| T2 2024 | H2–P2a | H2–P2a | 1/1 |

Québec 2024 = (0.25 + 1)/2 = 0.625.
"""

from __future__ import annotations

import pytest

from proximite.indicators.partner_survey import tie_overlap

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import partner_world

ID = "partner_survey.tie_overlap"


@pytest.mark.parametrize(
    ("cell", "period", "common", "union"),
    [
        ({"scope": "territory", "scope_id": "T1"}, "2024", 1, 4),
        ({"scope": "territory", "scope_id": "T1"}, "2025", 1, 2),
        ({"scope": "territory", "scope_id": "T2"}, "2024", 1, 1),
    ],
)
def test_overlap_of_reported_and_referral_ties(cell: dict, period: str, common: int, union: int) -> None:
    row = pick(unchanged(tie_overlap, partner_world(), parameters=PARAMETERS), ID, period=period, **cell)
    assert (row["numerator"], row["denominator"], row["value"], row["n"]) == (common, union, pytest.approx(common / union), union)
    assert row["unit"] == unit_of(ID) == "ratio" and "Jaccard" in row["method"]


def test_quebec_mean_of_the_territories() -> None:
    row = pick(unchanged(tie_overlap, partner_world(), parameters=PARAMETERS), ID, period="2024")
    assert (row["value"], row["n"]) == (pytest.approx(0.625), 2)

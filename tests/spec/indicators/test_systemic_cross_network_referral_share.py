"""Spec: ``systemic.cross_network_referral_share`` = referrals between organisations of different networks.

World of ``_registry_tables.network_tables()`` (calendar years) plus one T1 referral to ``PX``, an
organisation missing from the organisation table (left out of both counts). Networks: every host
and P1a, P1b, P3a communautaire; P1c public_sss; P2a education; P3b immigration. An unnamed PTP
end is the territory's host.

| territory | year | referrals (from → to) | cross / known |
|---|---|---|---|
| T1 | 2024 | H1→P1a ×2, H1→P1b, P1a→H1 (all communautaire), H1→P1c (public_sss); H1→PX unknown | 1 / 5 |
| T1 | 2025 | (H1)→P1a, P1b→(H1), H1→P1b, P1a→P1b | 0 / 4 |
| T2 | 2024 | H2→P2a, P2a→H2 (communautaire ↔ education) | 2 / 2 |
| T3 | 2024 | H3→P3a, H3→P3b (immigration) | 1 / 2 |
| T3 | 2025 | H3→P3a, P3a→H3, H3→P3b, P3b→H3 | 2 / 4 |

Sums up the hierarchy: Québec 2024 = (1 + 2 + 1)/(5 + 2 + 2) = 4/9, 2025 = 2/8, all = 6/17;
region 01 2024 = 3/7; T1 all = 1/9; rural (T2) 2024 = 2/2. Wilson = statsmodels.
"""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from proximite.indicators.systemic import cross_network_referral_share

from ._reach_isolation_tables import unchanged
from ._registry_tables import NETWORK_ACTIVITIES, NETWORK_REFERRALS, PARAMETERS, pick, registry_tables, unit_of

ID = "systemic.cross_network_referral_share"


def result():
    referrals = [*NETWORK_REFERRALS, ("T1", "ptp_to_partner", "H1", "PX", "2024-10-01")]
    tables = registry_tables(referrals=referrals, activities=NETWORK_ACTIVITIES)
    return unchanged(cross_network_referral_share, tables, parameters=PARAMETERS)


@pytest.mark.parametrize(
    ("cell", "period", "cross", "known"),
    [
        ({}, "2024", 4, 9),
        ({}, "2025", 2, 8),
        ({}, "all", 6, 17),
        ({"scope": "region", "scope_id": "01"}, "2024", 3, 7),
        ({"scope": "territory", "scope_id": "T1"}, "all", 1, 9),
        ({"scope": "territory", "scope_id": "T1"}, "2025", 0, 4),
        ({"stratum": "environment", "stratum_value": "rural"}, "2024", 2, 2),
    ],
)
def test_cross_network_share(cell: dict, period: str, cross: int, known: int) -> None:
    row = pick(result(), ID, period=period, **cell)
    low, high = proportion_confint(cross, known, method="wilson")
    assert (row["numerator"], row["denominator"], row["n"]) == (cross, known, known)
    assert (row["value"], row["ci_low"], row["ci_high"]) == (
        pytest.approx(cross / known), pytest.approx(low, abs=1e-12), pytest.approx(high))
    assert row["unit"] == unit_of(ID) == "share" and "network" in row["method"]


def test_period_dates_and_only_its_id() -> None:
    frame = result()
    assert set(frame["indicator"]) == {ID}
    row = pick(frame, ID, period="all")
    assert (str(row["period_start"].date()), str(row["period_end"].date())) == ("2024-01-01", "2025-12-31")

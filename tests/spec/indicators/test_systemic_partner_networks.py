"""Spec: ``systemic.partner_networks`` = distinct networks of the partners a territory's PTP reach.

World of ``_registry_tables.network_tables()`` (calendar years) plus one T2 activity in 2025 that
names no organisation (T2 is active in 2025 but reaches no partner: 0 networks). Partners are
non-host organisations named in a referral or a concertation activity (P1d only through
``suivi_partenaires``; P1e's activity is not concertation; the host H1 is no partner).

| territory | 2024 partners (networks) | 2025 | all |
|---|---|---|---|
| T1 | P1a, P1b communautaire; P1c public_sss; P1d services_garde → 3 (4 orgs) | P1a, P1b → 1 | 3 |
| T2 | P2a education → 1 | none, active → 0 | 1 |
| T3 | P3a communautaire, P3b immigration → 2 | 2 | 2 |

Above the territory, the mean over the active territories with a t interval (cut at 0):
Québec 2024 = (3 + 1 + 2)/3 = 2, s = 1 → 2 ± t(2)/√3 = [−0.484 → 0, 4.484]; 2025 = (1 + 0 + 2)/3 = 1;
region 01 2024 = (3 + 1)/2 = 2; region 02 2024 = 2 with one territory (no interval).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from proximite.indicators.systemic import partner_networks

from ._reach_isolation_tables import unchanged
from ._registry_tables import NETWORK_ACTIVITIES, NETWORK_REFERRALS, PARAMETERS, pick, registry_tables, unit_of

ID = "systemic.partner_networks"


def result():
    activities = [*NETWORK_ACTIVITIES, ("T2", "W3", "2025-03-01", 60, "information", 0, None)]
    tables = registry_tables(referrals=NETWORK_REFERRALS, activities=activities)
    return unchanged(partner_networks, tables, parameters=PARAMETERS)


@pytest.mark.parametrize(("territory", "period", "networks", "organisations"),
                         [("T1", "2024", 3, 4), ("T1", "2025", 1, 2), ("T2", "2025", 0, 0), ("T3", "all", 2, 2)])
def test_territory_counts_its_partner_networks(territory: str, period: str, networks: int, organisations: int) -> None:
    row = pick(result(), ID, period=period, scope="territory", scope_id=territory)
    assert (row["value"], row["n"]) == (networks, organisations)
    assert row["unit"] == unit_of(ID) == "mean" and "distinct networks" in row["method"]


def test_quebec_and_regions_are_means_of_territories() -> None:
    frame = result()
    row = pick(frame, ID, period="2024")
    low, high = stats.t.interval(0.95, 2, loc=2.0, scale=1 / np.sqrt(3))
    assert (row["value"], row["n"]) == (2.0, 3) and low < 0
    assert (row["ci_low"], row["ci_high"]) == (0.0, pytest.approx(high))
    assert "mean over the active territories" in row["method"]
    assert pick(frame, ID, period="2025")["value"] == pytest.approx(1.0)
    assert pick(frame, ID, period="2024", scope="region", scope_id="01")["value"] == 2.0
    alone = pick(frame, ID, period="2024", scope="region", scope_id="02")
    assert alone["value"] == 2.0 and math.isnan(alone["ci_low"]) and alone["n"] == 1

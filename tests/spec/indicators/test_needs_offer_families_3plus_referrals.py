"""Spec: ``needs_offer.families_3plus_referrals`` = families with ≥ 3 PTP-to-partner referrals / families.

Scenario of ``_needs_offer_tables`` (end 2025-03-31). Families first contacted by the end: F1–F5 (F6
comes after). PTP-to-partner referrals made by the end: F1 R1 R2 R3 R4 → 4 (R10 goes from a
partner to the PTP); F2 R5 R11 → 2; F3 R6 → 1; F4 R8 R12 → 2 (R9, after the end, would have made
3); F5 none. → 1/5 at Québec; T1 (F1, F2) 1/2; T2 (F3) 0/1; T3 (F4, F5) 0/2; region 01 1/3.
"""

from __future__ import annotations

import datetime as dt

from proximite.indicators.needs_offer import families_3plus_referrals

from ._needs_offer_tables import assert_share, assert_unchanged, copies, one, params, scenario

ID = "needs_offer.families_3plus_referrals"


def test_families_with_three_referrals_or_more() -> None:
    tables = scenario()
    before = copies(tables)
    result = families_3plus_referrals(tables, parameters=params())
    assert_unchanged(tables, before)
    assert set(result["indicator"]) == {ID}
    assert_share(one(result, ID), 1, 5)
    assert_share(one(result, ID, scope="territory", scope_id="T1"), 1, 2)
    assert_share(one(result, ID, scope="territory", scope_id="T2"), 0, 1)
    assert_share(one(result, ID, scope="territory", scope_id="T3"), 0, 2)
    assert_share(one(result, ID, scope="region", scope_id="01"), 1, 3)
    assert_share(one(result, ID, stratum="environment", stratum_value="urbain"), 1, 4)
    assert one(result, ID)["period_end"] == dt.datetime(2025, 3, 31)


def test_a_later_end_counts_later_referrals_and_families() -> None:
    # Without as_of the end is 2025-05-01: F6 is in (no referral) and R9 gives F4 its third.
    result = families_3plus_referrals(scenario(), parameters=params(as_of=None))
    assert_share(one(result, ID), 2, 6)
    assert_share(one(result, ID, scope="territory", scope_id="T3"), 1, 3)

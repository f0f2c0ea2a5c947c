"""Spec: ``needs_offer.partner_to_ptp_share`` = referrals from a partner to the PTP / all referrals.

Scenario of ``_needs_offer_tables`` (end 2025-03-31). Referrals made by the end: R1–R8, R10, R11, R12
(11; R9 is after the end). From a partner to the PTP: R7 (F3) and R10 (F1) → 2/11.
T1 (F1, F2: R1–R5, R10, R11): 1/7; T2 (F3: R6, R7): 1/2; T3 (F4: R8, R12): 0/2; region 01: 2/9.
"""

from __future__ import annotations

from proximite.indicators.needs_offer import partner_to_ptp_share

from ._needs_offer_tables import assert_share, assert_unchanged, copies, one, params, scenario

ID = "needs_offer.partner_to_ptp_share"


def test_share_of_referrals_from_partners() -> None:
    tables = scenario()
    before = copies(tables)
    result = partner_to_ptp_share(tables, parameters=params())
    assert_unchanged(tables, before)
    assert set(result["indicator"]) == {ID}
    assert_share(one(result, ID), 2, 11)
    assert_share(one(result, ID, scope="territory", scope_id="T1"), 1, 7)
    assert_share(one(result, ID, scope="territory", scope_id="T2"), 1, 2)
    assert_share(one(result, ID, scope="territory", scope_id="T3"), 0, 2)
    assert_share(one(result, ID, scope="region", scope_id="01"), 2, 9)
    assert_share(one(result, ID, stratum="host_type", stratum_value="CPSC"), 1, 2)
    # A 90 % interval (statsmodels' Wilson at alpha 0.10).
    narrow = partner_to_ptp_share(tables, parameters=params(confidence=0.9))
    assert_share(one(narrow, ID), 2, 11, confidence=0.9)

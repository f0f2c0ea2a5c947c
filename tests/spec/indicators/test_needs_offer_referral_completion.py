"""Spec: ``needs_offer.referral_completion`` = PTP-to-partner referrals with a service received / referrals made.

Scenario of ``_needs_offer_tables`` (end 2025-03-31). PTP-to-partner referrals made by the end: R1, R2,
R3, R4, R5, R6, R8, R11, R12 (R9 is after the end; R7 and R10 go from a partner to the PTP).
Service received: R1, R3, R5, R12 (R6's service comes after the end, so it is still pending)
→ 4/9 over the whole follow-up.

By calendar quarter (``periods="quarter"``; the first period starts at the first referral,
2024-01-15): 2024-T1 holds R1 ✓, R2, R5 ✓, R6, R8, R11 → 2/6; 2024-T2 holds R3 ✓, R4, R12 ✓
→ 2/3; the later quarters have no referral and no row.
By territory (whole follow-up): T1 R1 ✓ R2 R3 ✓ R4 R5 ✓ R11 → 3/6; T2 R6 → 0/1; T3 R8 R12 ✓ → 1/2.
"""

from __future__ import annotations

import pandas as pd

from proximite.indicators.needs_offer import referral_completion

from ._needs_offer_tables import assert_share, assert_unchanged, copies, one, params, scenario, select

ID = "needs_offer.referral_completion"


def test_completion_by_quarter_and_overall() -> None:
    tables = scenario()
    before = copies(tables)
    result = referral_completion(tables, parameters=params(periods="quarter"))
    assert_unchanged(tables, before)
    assert set(result["indicator"]) == {ID}
    overall = one(result, ID)
    assert_share(overall, 4, 9)
    assert (overall["period_start"], overall["period_end"]) == (pd.Timestamp("2024-01-15"), pd.Timestamp("2025-03-31"))
    first = one(result, ID, period="2024-T1")
    assert_share(first, 2, 6)
    assert (first["period_start"], first["period_end"]) == (pd.Timestamp("2024-01-15"), pd.Timestamp("2024-03-31"))
    assert_share(one(result, ID, period="2024-T2"), 2, 3)
    assert set(select(result, ID)["period"]) == {"all", "2024-T1", "2024-T2"}
    assert_share(one(result, ID, scope="territory", scope_id="T1"), 3, 6)
    assert_share(one(result, ID, scope="territory", scope_id="T2"), 0, 1)
    assert_share(one(result, ID, scope="territory", scope_id="T3"), 1, 2)
    # Region 01 (T1, T2) in 2024-T1: R1 ✓, R2, R5 ✓, R6, R11 → 2/5.
    assert_share(one(result, ID, scope="region", scope_id="01", period="2024-T1"), 2, 5)


def test_completion_by_wave_windows() -> None:
    # Default periods: the waves' calendar windows. Median due dates over F1–F5 (first contacts
    # 2024-01-01, -01-01, -02-01, -03-01, -06-01): T6 window from 2024-08-01, T12 from 2025-02-01.
    result = referral_completion(scenario(), parameters=params())
    assert set(select(result, ID)["period"]) == {"all", "T0"}
    # Every referral made by the end falls before 2024-08-01: T0 holds them all.
    assert_share(one(result, ID, period="T0"), 4, 9)
    assert one(result, ID, period="T0")["period_end"] == pd.Timestamp("2024-07-31")

"""Spec: ``needs_offer.match_rate`` = needs met / needs identified, by wave and need category.

Scenario of ``_needs_offer_tables`` (end 2025-03-31). Wave k counts, among the families whose wave-k due
date (first contact + k months) is on or before the end and who had not left before their
previous wave's due date, the needs identified on or before the due date; met = ``repondu`` dated
on or before the due date.

- T0 (due = first contact): N1 (F1), N4 (F2), N8 (F4) identified that day; only N4 met that
  day → 1/3. T1: N1, N4 → 1/2; T3: N8 → 0/1.
- T6 (F1, F2 due 2024-07-01; F3 2024-08-01; F4 2024-09-01): N1–N8 all identified by then (8);
  met by the due date: N1 (03-01), N4 (01-01), N6 (05-15) → 3/8. Region 01 (T1, T2): 3/7.
- T12: F2 left on 2024-03-15, before its T6 due date → out. N1, N2, N3, N6, N7, N8 (6); met by
  the due date: N1, N2 (2024-09-01 ≤ 2025-01-01), N6 → 3/6.
- T24: due in 2026, after the end → no row.
- Final status (wave missing): N1–N8 (N9 identified after the end); met N1, N2, N4, N6 (N8 met
  after the end) → 4/8.
"""

from __future__ import annotations

import datetime as dt

from proximite.indicators.needs_offer import match_rate

from ._needs_offer_tables import assert_share, assert_unchanged, copies, one, params, scenario, select

ID = "needs_offer.match_rate"


def test_match_rate_by_wave_at_quebec_scope() -> None:
    tables = scenario()
    before = copies(tables)
    result = match_rate(tables, parameters=params())
    assert_unchanged(tables, before)
    assert_share(one(result, ID, wave=0), 1, 3)
    assert_share(one(result, ID, wave=6), 3, 8)
    assert_share(one(result, ID, wave=12), 3, 6)
    assert_share(one(result, ID, wave=None), 4, 8)
    assert select(result, ID, wave=24).empty
    assert set(result["indicator"]) == {ID}


def test_match_rate_by_category_and_scope() -> None:
    result = match_rate(scenario(), parameters=params())
    # T0 by category: logement N1 not met that day (0/1); alimentation N4 met, N8 not (1/2).
    assert_share(one(result, ID, wave=0, breakdown="need_category", breakdown_value="logement"), 0, 1)
    assert_share(one(result, ID, wave=0, breakdown="need_category", breakdown_value="alimentation"), 1, 2)
    # T6 logement: N1 met, N5 waiting list, N6 met → 2/3.
    assert_share(one(result, ID, wave=6, breakdown="need_category", breakdown_value="logement"), 2, 3)
    # Final status, garde (N3, a gap) → 0/1.
    assert_share(one(result, ID, wave=None, breakdown="need_category", breakdown_value="garde"), 0, 1)
    # Territory and region cells.
    assert_share(one(result, ID, scope="territory", scope_id="T1", wave=0), 1, 2)
    assert_share(one(result, ID, scope="territory", scope_id="T3", wave=0), 0, 1)
    assert_share(one(result, ID, scope="region", scope_id="01", wave=6), 3, 7)
    assert_share(one(result, ID, scope="region", scope_id="02", wave=12), 0, 1)
    # Stratum urbain at Québec scope: T1 and T3 at T6: N1–N5 and N8 (6), met N1, N4 → 2/6.
    assert_share(one(result, ID, stratum="environment", stratum_value="urbain", wave=6), 2, 6)
    # The categories add up to the breakdown "all" in every cell.
    by_category = result[result["breakdown"] == "need_category"]
    keys = ["scope", "scope_id", "stratum", "stratum_value", "wave"]
    summed = by_category.groupby(keys, dropna=False)[["numerator", "denominator"]].sum().reset_index()
    totals = result.loc[result["breakdown"] == "all", [*keys, "numerator", "denominator"]]
    joined = summed.merge(totals, on=keys, how="outer", suffixes=("_sum", "_all"), indicator=True)
    assert (joined["_merge"] == "both").all() and len(joined) == len(totals)
    assert (joined["numerator_sum"] == joined["numerator_all"]).all()
    assert (joined["denominator_sum"] == joined["denominator_all"]).all()


def test_match_rate_follows_the_data_end() -> None:
    # Without as_of the end is the latest date of the tables (2025-05-01, F6's first contact): N8
    # (met 2025-04-15) and N9 are then in, and T12 is due for F5 too (no need, so no change).
    result = match_rate(scenario(), parameters=params(as_of=None))
    assert_share(one(result, ID, wave=None), 5, 9)
    # An end before every T6 due date leaves only T0 and the final status.
    early = match_rate(scenario(), parameters=params(as_of=dt.date(2024, 6, 30)))
    assert sorted(early["wave"].dropna().unique().tolist()) == [0]
    # By 2024-06-30: N1, N3, N4, N5, N6, N7, N8 identified (N2 too: 2024-02-01) → 8; met by then N1, N4, N6.
    assert_share(one(early, ID, wave=None), 3, 8)

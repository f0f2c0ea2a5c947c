"""Spec: ``needs_offer.match_rate`` = needs met / needs identified, by wave and need category.

Scenario of ``_needs_offer_tables`` (end 2025-03-31). Waves are read at the close of DESIGN's
assessment windows: T0 = first contact + 30 days (``baseline_within_days``), Tk = first contact
+ k months + 45 days (``window_days``). Wave k counts, among the families whose window has closed
by the end and who had not left before their previous wave's window closed, the needs identified
by the close; met = ``repondu`` dated by the close.

- T0 (F1, F2 close 2024-01-31; F3 2024-03-02; F4 2024-03-31): identified by then N1, N4, N5 (F1,
  F2), N6, N7 (F3), N8 (F4) → 6; met by then: N4 (01-01) only (N1 on 03-01, N6 on 05-15) → 1/6.
  T1: N1, N4, N5 → 1/3; T2: N6, N7 → 0/2; T3: N8 → 0/1.
- T6 (F1, F2 close 2024-08-15; F3 2024-09-15; F4 2024-10-16): N1–N8 all identified (8); met:
  N1 (03-01), N4, N6 (05-15); N2 (09-01) is after F1's close → 3/8. Region 01 (T1, T2): 3/7.
- T12 (F1 2025-02-15, F3 2025-03-18; F4 2025-04-15 is after the end, so F4 is not counted yet;
  F2 left on 2024-03-15, before its T6 close → out): N1, N2, N3, N6, N7 (5); met N1, N2
  (2024-09-01), N6 → 3/5.
- T24: closes in 2026, after the end → no row.
- Final status (wave missing): N1–N8 (N9 identified after the end); met N1, N2, N4, N6 (N8 met
  after the end) → 4/8.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from proximite.indicators.base import wave_window_note
from proximite.indicators.needs_offer import match_rate

from ._needs_offer_tables import assert_share, assert_unchanged, copies, one, params, scenario, select

ID = "needs_offer.match_rate"
#: The method of the wave rows: Wilson, and how the waves are anchored.
WAVE_METHOD = (
    "wilson; wave k read at the close of its assessment window: T0 = first contact + 30 days, "
    "Tk = first contact + k months + 45 days"
)


def assert_wave_share(row: pd.Series, numerator: int, denominator: int) -> None:
    """A wave row: the share checks of ``assert_share`` and the anchoring said in ``method``."""
    assert row["method"] == WAVE_METHOD
    assert_share(pd.Series({**row.to_dict(), "method": "wilson"}), numerator, denominator)


def test_match_rate_by_wave_at_quebec_scope() -> None:
    tables = scenario()
    before = copies(tables)
    result = match_rate(tables, parameters=params())
    assert_unchanged(tables, before)
    assert_wave_share(one(result, ID, wave=0), 1, 6)
    assert_wave_share(one(result, ID, wave=6), 3, 8)
    assert_wave_share(one(result, ID, wave=12), 3, 5)
    assert_share(one(result, ID, wave=None), 4, 8)
    assert select(result, ID, wave=24).empty
    assert set(result["indicator"]) == {ID}


def test_match_rate_by_category_and_scope() -> None:
    result = match_rate(scenario(), parameters=params())
    # T0 by category: logement N1, N5, N6 none met by the close (0/3); alimentation N4 met, N8 not (1/2).
    assert_wave_share(one(result, ID, wave=0, breakdown="need_category", breakdown_value="logement"), 0, 3)
    assert_wave_share(one(result, ID, wave=0, breakdown="need_category", breakdown_value="alimentation"), 1, 2)
    # T6 logement: N1 met, N5 waiting list, N6 met → 2/3.
    assert_wave_share(one(result, ID, wave=6, breakdown="need_category", breakdown_value="logement"), 2, 3)
    # Final status, garde (N3, a gap) → 0/1.
    assert_share(one(result, ID, wave=None, breakdown="need_category", breakdown_value="garde"), 0, 1)
    # Territory and region cells.
    assert_wave_share(one(result, ID, scope="territory", scope_id="T1", wave=0), 1, 3)
    assert_wave_share(one(result, ID, scope="territory", scope_id="T2", wave=0), 0, 2)
    assert_wave_share(one(result, ID, scope="territory", scope_id="T3", wave=0), 0, 1)
    assert_wave_share(one(result, ID, scope="region", scope_id="01", wave=6), 3, 7)
    assert_wave_share(one(result, ID, scope="region", scope_id="02", wave=6), 0, 1)
    # Region 02 at T12: F4's window closes after the end and F5 has no need → no row.
    assert select(result, ID, scope="region", scope_id="02", wave=12).empty
    # Stratum urbain at Québec scope: T1 and T3 at T6: N1–N5 and N8 (6), met N1, N4 → 2/6.
    assert_wave_share(one(result, ID, stratum="environment", stratum_value="urbain", wave=6), 2, 6)
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
    # (met 2025-04-15) and N9 are then in, and F4's T12 window (closing 2025-04-15) has closed:
    # T12 = N1, N2, N3, N6, N7, N8, N9 (identified 04-10) → met N1, N2, N6, N8 (04-15 ≤ 04-15) → 4/7.
    result = match_rate(scenario(), parameters=params(as_of=None))
    assert_share(one(result, ID, wave=None), 5, 9)
    assert_wave_share(one(result, ID, wave=12), 4, 7)
    # An end before every T6 window closes leaves only T0 and the final status.
    early = match_rate(scenario(), parameters=params(as_of=dt.date(2024, 6, 30)))
    assert sorted(early["wave"].dropna().unique().tolist()) == [0]
    # By 2024-06-30: N1, N3, N4, N5, N6, N7, N8 identified (N2 too: 2024-02-01) → 8; met by then N1, N4, N6.
    assert_share(one(early, ID, wave=None), 3, 8)


def later_needs_scenario() -> dict[str, pd.DataFrame]:
    """The scenario with every need identified two days later and N4 (F2) met on 2024-01-25.

    As in real follow-ups, no need is identified and met on the contact day itself.
    """
    tables = scenario()
    need = tables["need"].copy()
    need["identified_date"] = need["identified_date"] + pd.Timedelta(days=2)
    need.loc[need["need_id"] == "N4", "status_date"] = pd.Timestamp("2024-01-25")
    tables["need"] = need
    return tables


def test_needs_met_at_t0_is_not_zero_when_a_need_is_met_within_the_t0_window() -> None:
    tables = later_needs_scenario()
    # Read on the contact day (the old anchoring), no need met at T0.
    need = tables["need"].merge(tables["family"][["family_id", "first_contact_date"]], on="family_id")
    on_contact_day = need["status"].eq("repondu") & need["status_date"].le(need["first_contact_date"])
    assert not on_contact_day.any()
    # At the close of the T0 window (contact + 30 days): identified N1 (01-03), N4 (01-03),
    # N5 (01-12), N6 (02-17), N8 (03-03); N7 (03-03) is after F3's close (03-02) → 5; met N4 → 1/5.
    result = match_rate(tables, parameters=params())
    assert_wave_share(one(result, ID, wave=0), 1, 5)
    assert one(result, ID, wave=0)["value"] > 0


def test_the_t0_window_comes_from_the_parameters() -> None:
    # T0 within 10 days: closes 2024-01-11 (F1, F2), 02-11 (F3), 03-11 (F4): N1, N4, N8 identified
    # (N5 on 01-12 is after the close), N4 met on 01-25 → after it → 0/3.
    parameters = params(baseline_days=10)
    result = match_rate(later_needs_scenario(), parameters=parameters)
    row = one(result, ID, wave=0)
    assert (row["numerator"], row["denominator"]) == (0, 3)
    assert row["method"] == f"wilson; {wave_window_note(parameters)}"
    assert "T0 = first contact + 10 days" in row["method"]

"""Spec: ``needs_offer.service_gaps`` = needs ``aucune_ressource`` or ``liste_attente`` / needs identified.

Scenario of ``_needs_offer_tables`` (end 2025-03-31): needs N1–N8 (N9 identified after the end).
Gaps: N3 (garde, aucune_ressource) and N5 (logement, liste_attente) → 2/8 at Québec.

- T1 (N1–N5): 2/5; T2 (N6, N7): 0/2; T3 (N8): 0/1; region 01: 2/7.
- By category at Québec: garde 1/1; logement N1, N5, N6 → 1/3; alimentation N2, N4, N8 → 0/3;
  transport N7 → 0/1. T1 logement (N1, N5): 1/2.
"""

from __future__ import annotations

from proximite.indicators.needs_offer import service_gaps

from ._needs_offer_tables import assert_share, assert_unchanged, copies, one, params, scenario, select

ID = "needs_offer.service_gaps"


def test_service_gaps_shares() -> None:
    tables = scenario()
    before = copies(tables)
    result = service_gaps(tables, parameters=params())
    assert_unchanged(tables, before)
    assert set(result["indicator"]) == {ID}
    assert_share(one(result, ID), 2, 8)
    assert_share(one(result, ID, scope="territory", scope_id="T1"), 2, 5)
    assert_share(one(result, ID, scope="territory", scope_id="T2"), 0, 2)
    assert_share(one(result, ID, scope="territory", scope_id="T3"), 0, 1)
    assert_share(one(result, ID, scope="region", scope_id="01"), 2, 7)
    assert_share(one(result, ID, stratum="host_type", stratum_value="CPSC"), 0, 2)
    for category, (gaps, needs) in {"garde": (1, 1), "logement": (1, 3), "alimentation": (0, 3),
                                    "transport": (0, 1)}.items():
        assert_share(one(result, ID, breakdown="need_category", breakdown_value=category), gaps, needs)
    assert_share(one(result, ID, scope="territory", scope_id="T1", breakdown="need_category",
                     breakdown_value="logement"), 1, 2)
    # Only categories with needs in the cell get a row; the period is the whole follow-up.
    assert set(select(result, ID, breakdown="need_category")["breakdown_value"]) == {
        "garde", "logement", "alimentation", "transport"}
    assert (result["period"] == "all").all() and result["wave"].isna().all()
    assert (result["period_end"] == "2025-03-31").all()


def test_a_gap_dated_after_the_end_is_not_known_yet() -> None:
    tables = scenario()
    need = tables["need"].copy()
    # N3's status moves after the end: at the end it is still open, so not a gap.
    need.loc[need["need_id"] == "N3", "status_date"] = need["status_date"].max()
    result = service_gaps({**tables, "need": need}, parameters=params())
    assert_share(one(result, ID), 1, 8)

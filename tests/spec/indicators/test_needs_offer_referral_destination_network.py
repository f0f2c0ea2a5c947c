"""Spec: ``needs_offer.referral_destination_network`` = PTP-to-partner referrals to each network / all of them.

Scenario of ``_needs_offer_tables`` (end 2025-03-31). PTP-to-partner referrals made by the end and
their destination's network: R1 O1, R3 O1, R4 O3, R5 O1, R6 O4 → communautaire (5); R2 O2 →
public_sss (1); R8 O6, R12 O6 → education (2); R11 → OX, missing from the organisation table
(counted in the denominator only). Québec: communautaire 5/9, public_sss 1/9, education 2/9
(sum 8/9). Networks never referred to (municipal: O7) get no row; a network seen anywhere gets
a row, zero included, in every cell with referrals: T2 (R6) communautaire 1/1, public_sss 0/1,
education 0/1. T1 (R1–R5, R11): communautaire 4/6, public_sss 1/6, education 0/6.
"""

from __future__ import annotations

from proximite.indicators.needs_offer import referral_destination_network

from ._needs_offer_tables import assert_share, assert_unchanged, copies, one, params, scenario, select

ID = "needs_offer.referral_destination_network"


def test_destination_networks() -> None:
    tables = scenario()
    before = copies(tables)
    result = referral_destination_network(tables, parameters=params())
    assert_unchanged(tables, before)
    assert set(result["indicator"]) == {ID}
    for network, count in {"communautaire": 5, "public_sss": 1, "education": 2}.items():
        assert_share(one(result, ID, breakdown="network", breakdown_value=network), count, 9)
    assert set(select(result, ID)["breakdown_value"]) == {"communautaire", "public_sss", "education"}
    assert set(result.loc[result["indicator"] == ID, "breakdown"]) == {"network"}
    for network, count in {"communautaire": 1, "public_sss": 0, "education": 0}.items():
        assert_share(one(result, ID, scope="territory", scope_id="T2", breakdown="network", breakdown_value=network),
                     count, 1)
    for network, count in {"communautaire": 4, "public_sss": 1, "education": 0}.items():
        assert_share(one(result, ID, scope="territory", scope_id="T1", breakdown="network", breakdown_value=network),
                     count, 6)
    # Region 02 = T3 (R8, R12 to O6): education 2/2.
    assert_share(one(result, ID, scope="region", scope_id="02", breakdown="network", breakdown_value="education"), 2, 2)

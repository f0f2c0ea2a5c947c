"""Spec: ``needs_offer.referral_destination_mission`` = PTP-to-partner referrals to each mission / all of them.

Scenario of ``_needs_offer_tables`` (end 2025-03-31). PTP-to-partner referrals made by the end and
their destination's mission: R1, R3, R5 (O1) and R6 (O4) → famille_enfance (4); R2 (O2) →
sante_mentale (1); R4 (O3) → aide_materielle_alimentation (1); R8, R12 (O6) → autre (2); R11 →
OX, unknown (denominator only). Québec: 4/9, 1/9, 1/9, 2/9. Stratum rural at Québec scope (T2:
R6): famille_enfance 1/1, the three others 0/1.
"""

from __future__ import annotations

from proximite.indicators.needs_offer import referral_destination_mission

from ._needs_offer_tables import assert_share, one, params, scenario, select

ID = "needs_offer.referral_destination_mission"
QUEBEC = {"famille_enfance": 4, "sante_mentale": 1, "aide_materielle_alimentation": 1, "autre": 2}


def test_destination_missions() -> None:
    result = referral_destination_mission(scenario(), parameters=params())
    assert set(result["indicator"]) == {ID}
    for mission, count in QUEBEC.items():
        assert_share(one(result, ID, breakdown="mission", breakdown_value=mission), count, 9)
    assert set(select(result, ID)["breakdown_value"]) == set(QUEBEC)
    for mission in QUEBEC:
        assert_share(one(result, ID, stratum="environment", stratum_value="rural", breakdown="mission",
                         breakdown_value=mission), int(mission == "famille_enfance"), 1)
    # Region 01 (T1, T2): famille_enfance R1 R3 R5 R6 of R1–R6 and R11 → 4/7.
    assert_share(one(result, ID, scope="region", scope_id="01", breakdown="mission",
                     breakdown_value="famille_enfance"), 4, 7)

"""Truth recovery on the pilot-sized synthetic cohort (5,305 families, 50 territories).

The generator plants the pilot's figures and an isolation trajectory, then applies attrition that
depends on the T0 index (``truth["attrition"]``): the complete-case change is biased towards
zero, and the attrition-weighted panel estimate should undo part of that.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from proximite.indicators import isolation, reach
from proximite.indicators.base import IndicatorParameters

from ._reach_isolation_tables import pick

PARAMETERS = IndicatorParameters()


@pytest.fixture(scope="module")
def results(pilot_cohort):
    tables, truth = pilot_cohort
    before = copy.deepcopy(tables)
    out = {"reach": reach.compute(tables, parameters=PARAMETERS),
           "isolation": isolation.compute(tables, parameters=PARAMETERS)}
    return out, truth, before, tables


def test_inputs_are_not_modified(results) -> None:
    _, _, before, tables = results
    assert set(tables) == set(before)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(tables[name], frame, check_exact=True)


def test_one_row_per_cell_and_catalogued_ids(results) -> None:
    out, _, _, _ = results
    keys = ["scope", "scope_id", "stratum", "stratum_value", "wave", "period", "breakdown", "breakdown_value",
            "indicator"]
    for family, module in (("reach", reach), ("isolation", isolation)):
        assert not out[family].duplicated(keys).any()
        assert set(out[family]["indicator"]) == set(module.INDICATORS)
        shares = out[family].loc[out[family]["unit"] == "share", "value"]
        assert shares.between(0, 1).all()


def test_share_isolated_at_contact_is_the_pilot_figure(results) -> None:
    out, truth, _, _ = results
    realised = truth["calibration"]["realised_as_written"]
    row = pick(out["reach"], "reach.isolated_at_contact_share")
    assert (row["numerator"], row["denominator"]) == (3242, 5305)
    assert row["ci_low"] <= realised["isolated_at_contact_share"] <= row["ci_high"]
    assert pick(out["reach"], "reach.families_reached")["value"] == realised["families"] == 5305


def test_children_shares_match_the_generator(results) -> None:
    out, truth, _, _ = results
    realised = truth["calibration"]["realised_as_written"]
    assert pick(out["reach"], "reach.children")["value"] == realised["children"]
    # Same definitions as the generator: the shares are its own figures, not just close.
    unborn = pick(out["reach"], "reach.children_unborn_share")
    young = pick(out["reach"], "reach.children_0_5_share")
    assert unborn["value"] == pytest.approx(realised["unborn_share"], abs=1e-6)
    assert young["value"] == pytest.approx(realised["aged_five_or_less_share"], abs=1e-6)


@pytest.mark.parametrize("wave", [6, 12, 24])
@pytest.mark.parametrize("indicator", ["isolation.adjusted_effect", "isolation.adjusted_effect_ipw"])
def test_adjusted_effect_covers_the_planted_change(results, indicator: str, wave: int) -> None:
    out, truth, _, _ = results
    planted = truth["isolation"]["complete_data"]["mean_change_from_t0_by_wave"][str(wave)]
    row = pick(out["isolation"], indicator, wave=wave)
    assert row["ci_low"] <= planted <= row["ci_high"]


def test_weighting_corrects_attrition_bias_at_t24(results) -> None:
    out, truth, _, _ = results
    planted = truth["isolation"]["complete_data"]["mean_change_from_t0_by_wave"]["24"]
    weighted = pick(out["isolation"], "isolation.adjusted_effect_ipw", wave=24)["value"]
    complete_case = pick(out["isolation"], "isolation.change_from_baseline", wave=24)["value"]
    # Families with a high T0 index (the ones that improve most) drop out more: the complete-case
    # change is too small in magnitude; the weighted estimate is nearer the planted one.
    assert abs(weighted - planted) < abs(complete_case - planted)

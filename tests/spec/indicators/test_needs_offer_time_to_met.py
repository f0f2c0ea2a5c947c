"""Spec: ``needs_offer.time_to_met`` = Kaplan–Meier median days from identification to the need being met.

Scenario of ``_needs_offer_tables`` (end 2025-03-31). A met need (``repondu``) has its event at its
status date; any other need is censored at max(status date, the family's last observation: its
exit date, else its latest assessment, need status or referral date), capped at the end.

| need | family's last observation | duration (days) | |
|---|---|---|---|
| N1 logement | | 2024-01-01 → 2024-03-01 = 60 | met |
| N2 alimentation | | 2024-02-01 → 2024-09-01 = 213 | met |
| N3 garde | F1: assessment 2025-01-03 | 2024-05-01 → 2025-01-03 = 247 | censored |
| N4 alimentation | | 0 | met |
| N5 logement | F2: exit 2024-03-15 | 2024-01-10 → 2024-03-15 = 65 | censored |
| N6 logement | | 2024-02-15 → 2024-05-15 = 90 | met |
| N7 transport | F3: status 2025-02-01 | 2024-03-01 → 2025-02-01 = 337 | censored |
| N8 alimentation | F4: met after the end → open at the end | 2024-03-01 → 2025-03-31 = 395 | censored |

Québec: S(0) = 7/8, S(60) = 7/8 · 6/7 = 0.75, (65 censored), S(90) = 0.75 · 4/5 = 0.6,
S(213) = 0.6 · 3/4 = 0.45 ≤ 0.5 → median 213 days, 4 events of 8 needs.
By category: alimentation (0 met, 213 met, 395 censored): S(0) = 2/3, S(213) = 1/3 → 213;
logement (60 met, 65 censored, 90 met): S(60) = 2/3, S(90) = 0 → 90; garde and transport have no
event → median not reached.
T1 (N1–N5: 0, 60 met, 65 censored, 213 met, 247 censored): S(60) = 0.6, S(213) = 0.3 → 213.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from proximite.indicators.needs_offer import time_to_met

from ._needs_offer_tables import assert_unchanged, copies, one, params, scenario, select

ID = "needs_offer.time_to_met"
DURATIONS = {"N1": 60, "N2": 213, "N3": 247, "N4": 0, "N5": 65, "N6": 90, "N7": 337, "N8": 395}
EVENTS = {"N1": True, "N2": True, "N3": False, "N4": True, "N5": False, "N6": True, "N7": False, "N8": False}


def lifelines_reference(needs: list[str], *, confidence: float = 0.95) -> tuple[float, float, float]:
    """Median and interval fitted directly with lifelines on the hand-computed durations."""
    fitter = KaplanMeierFitter(alpha=1 - confidence).fit(
        [DURATIONS[need] for need in needs], [EVENTS[need] for need in needs]
    )
    bounds = median_survival_times(fitter.confidence_interval_).iloc[0]
    return float(fitter.median_survival_time_), float(bounds.iloc[0]), float(bounds.iloc[1])


def assert_km(row: pd.Series, needs: list[str], *, median: float, confidence: float = 0.95) -> None:
    assert row["n"] == len(needs) and row["denominator"] == len(needs)
    assert row["numerator"] == sum(EVENTS[need] for need in needs)
    assert row["unit"] == "days"
    expected, low, high = lifelines_reference(needs, confidence=confidence)
    assert expected == median
    if math.isinf(median):
        assert np.isnan(row["value"]) and "median not reached" in row["method"]
    else:
        assert row["value"] == median and "median not reached" not in row["method"]
        assert ("upper bound not reached" in row["method"]) == math.isinf(high)
    for bound, reference in ((row["ci_low"], low), (row["ci_high"], high)):
        assert (np.isnan(bound) and math.isinf(reference)) or bound == reference
    assert row["method"].startswith("Kaplan-Meier median (lifelines)")


def test_time_to_met_medians() -> None:
    tables = scenario()
    before = copies(tables)
    result = time_to_met(tables, parameters=params())
    assert_unchanged(tables, before)
    assert set(result["indicator"]) == {ID}
    assert_km(one(result, ID), list(DURATIONS), median=213)
    assert_km(one(result, ID, breakdown="need_category", breakdown_value="alimentation"), ["N2", "N4", "N8"],
              median=213)
    assert_km(one(result, ID, breakdown="need_category", breakdown_value="logement"), ["N1", "N5", "N6"],
              median=90)
    assert_km(one(result, ID, breakdown="need_category", breakdown_value="garde"), ["N3"], median=math.inf)
    assert_km(one(result, ID, scope="territory", scope_id="T1"), ["N1", "N2", "N3", "N4", "N5"], median=213)
    assert_km(one(result, ID, scope="region", scope_id="01"), ["N1", "N2", "N3", "N4", "N5", "N6", "N7"],
              median=213)
    assert_km(one(result, ID, scope="region", scope_id="01", breakdown="need_category", breakdown_value="logement"),
              ["N1", "N5", "N6"], median=90)
    # The 90 % interval is narrower than the 95 % one.
    narrow = one(time_to_met(tables, parameters=params(confidence=0.9)), ID)
    assert_km(narrow, list(DURATIONS), median=213, confidence=0.9)


def test_category_breakdown_only_at_quebec_and_region_without_stratum() -> None:
    result = time_to_met(scenario(), parameters=params())
    by_category = result[result["breakdown"] == "need_category"]
    assert set(by_category["scope"]) == {"quebec", "region"}
    assert set(by_category["stratum"]) == {"all"}
    # Every scope cell has its "all" row: Québec and region × (all, 2 environments, 2 host types), 3 territories.
    overall = result[result["breakdown"] == "all"]
    # Québec: all, urbain, rural, OCF, CPSC; regions: 01 and 02, 01 urbain, 01 rural, 02 urbain,
    # 01 OCF, 01 CPSC, 02 OCF; territories T1, T2, T3.
    assert (overall["scope"].value_counts().to_dict()) == {"quebec": 5, "region": 8, "territory": 3}
    assert select(result, ID, scope="territory", scope_id="T2", breakdown="all")["n"].tolist() == [2]


def test_met_after_the_end_is_censored() -> None:
    # With the end moved to 2025-05-01 (as_of None: the latest date of the tables) N8 is met at
    # 410 days, N9 (identified 2025-04-10, open) is censored at 2025-04-20 (its status date) = 10
    # days, and N7 at F3's last observation, R6's outcome on 2025-05-01 = 426 days.
    result = time_to_met(scenario(), parameters=params(as_of=None))
    row = one(result, ID)
    assert (row["numerator"], row["n"]) == (5, 9)
    fitter = KaplanMeierFitter().fit([60, 213, 247, 0, 65, 90, 426, 410, 10], [1, 1, 0, 1, 0, 1, 0, 1, 0])
    assert row["value"] == fitter.median_survival_time_

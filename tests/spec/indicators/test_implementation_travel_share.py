"""implementation.travel_share: Σ travel / (Σ activity minutes + Σ travel), missing travel = 0.

- T1 2024: travel 30 + 0 (not logged) + 10 = 40 min over 180 + 40 = 220 min → 2/11;
  numerator 40/60 h, denominator 220/60 h;
- Québec 2024: (40 + 15) / (220 + 60) = 55/280.
Interval: ratio estimator with the workers as clusters, checked against statsmodels' cluster-robust
WLS of travel on (minutes + travel) without intercept, weights 1 / (minutes + travel).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from proximite.indicators import implementation

from ._registry_tables import PARAMETERS, WORK_ACTIVITIES, pick, unit_of, work_tables

ID = "implementation.travel_share"


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return implementation.travel_share(work_tables(), parameters=PARAMETERS)


def test_territory_share(result: pd.DataFrame) -> None:
    row = pick(result, ID, period="2024", scope="territory", scope_id="T1")
    assert row["value"] == pytest.approx(2 / 11)
    assert row["numerator"] == pytest.approx(40 / 60) and row["denominator"] == pytest.approx(220 / 60)
    assert row["n"] == 3
    assert row["unit"] == unit_of(ID)
    assert "counts as 0" in row["method"] and "clustered by worker" in row["method"]


def test_one_worker_has_no_interval(result: pd.DataFrame) -> None:
    # T2 2024: W3 alone, 15 / 60.
    row = pick(result, ID, period="2024", scope="territory", scope_id="T2")
    assert row["value"] == pytest.approx(0.25)
    assert math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])


def test_quebec_interval_matches_statsmodels(result: pd.DataFrame) -> None:
    in_2024 = [a for a in WORK_ACTIVITIES if a[2].startswith("2024")]
    travel = np.array([a[5] or 0 for a in in_2024], dtype=float)
    total = np.array([a[3] for a in in_2024], dtype=float) + travel
    workers = pd.factorize(np.array([a[1] for a in in_2024]))[0]
    fit = sm.WLS(travel, total[:, None], weights=1 / total).fit(
        cov_type="cluster", cov_kwds={"groups": workers}, use_t=True
    )
    low, high = fit.conf_int(alpha=0.05)[0]
    row = pick(result, ID, period="2024")
    assert row["value"] == pytest.approx(55 / 280) and row["value"] == pytest.approx(fit.params[0])
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((max(low, 0.0), min(high, 1.0)))


def test_ratio_interval_by_hand() -> None:
    # Two clusters (y, x) = (30, 180), (10, 40): R = 40/220; residuals 30 − 180R, 10 − 40R sum to 0,
    # each ±30/11; Var = 2/1 × 2 (30/11)² / 220²; t(1) = 12.706.
    ratio, low, high = implementation.ratio_interval(
        np.array([40.0]), np.array([220.0]), np.array([2]), sums=(np.array([1000.0]), np.array([5800.0]),
                                                                  np.array([34000.0]))
    )
    se = math.sqrt(2 * 2 * (30 / 11) ** 2) / 220
    assert ratio[0] == pytest.approx(2 / 11)
    assert high[0] - ratio[0] == pytest.approx(12.7062047 * se)
    assert ratio[0] - low[0] == pytest.approx(12.7062047 * se)


def test_environment_strata(result: pd.DataFrame) -> None:
    rural = pick(result, ID, period="2024", stratum="environment", stratum_value="rural")
    urbain = pick(result, ID, period="2024", stratum="environment", stratum_value="urbain")
    assert (rural["value"], urbain["value"]) == pytest.approx((0.25, 2 / 11))


def test_returns_only_its_own_id(result: pd.DataFrame) -> None:
    assert set(result["indicator"]) == {ID}

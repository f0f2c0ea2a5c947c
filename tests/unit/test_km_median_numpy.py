"""The numpy Kaplan–Meier median (median_with_interval) equals lifelines' on random samples (ties, zeros, censoring, small cells)."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from proximite.cohort.models.survival.kaplan_meier import median_with_interval


def _lifelines(duration: np.ndarray, event: np.ndarray, confidence: float) -> tuple[float, float, float]:
    fitter = KaplanMeierFitter(alpha=1 - confidence).fit(duration, event)
    bounds = median_survival_times(fitter.confidence_interval_).iloc[0].to_numpy(dtype="float64")
    return float(fitter.median_survival_time_), float(bounds.min()), float(bounds.max())


def _samples() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(20261207)
    samples = []
    for size in (1, 2, 3, 5, 8, 20, 60, 400):
        for share_met in (0.0, 0.3, 0.6, 1.0):
            for spread in (3, 40, 400):
                duration = rng.integers(0, spread, size).astype("float64")
                samples.append((duration, rng.random(size) < share_met))
    samples.append((np.array([0.0, 0.0, 0.0]), np.array([True, True, False])))
    samples.append((np.array([0.0, 0.0]), np.array([True, True])))
    samples.append((np.array([2.5, 7.25, 7.25, 11.0]), np.array([True, False, True, True])))
    return samples


@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_median_with_interval_equals_lifelines(confidence: float) -> None:
    checked = 0
    for duration, event in _samples():
        expected = _lifelines(duration, event, confidence)
        assert median_with_interval(duration, event, confidence=confidence) == pytest.approx(expected, rel=1e-12, abs=0), (duration, event)
        checked += 1
    assert checked > 90


def test_median_with_interval_of_a_known_curve() -> None:
    # 4 subjects: events at 1 and 2, censored at 3 and 4: S = 3/4, 1/2 → the median is 2.
    median, low, high = median_with_interval(np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, True, False, False]), confidence=0.95)
    assert median == 2.0
    assert low <= median and high == np.inf

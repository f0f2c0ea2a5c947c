"""Truth recovery on the pilot-sized synthetic cohort: PTP turnover, travel, supervision.

The generator (``cohort/sandbox/_registry.py``) plants:

- turnover: Poisson departures at an annual hazard of 0.30 (urbain), 0.35 (mixte), 0.45 (rural),
  at most three per territory; ``truth["turnover"]["realised"]["departures_per_worker_year"]``
  is departures / worker-years over each tenure's whole history (the first PTPs start in
  2023, before the registry) up to the end of complete data. The indicator's period "all" is
  the registry span (first to last referral or activity date), so it counts departures and
  exposure from 2024-01-01 only: the test recomputes the truth's figure from the worker table
  the truth's way, checks it matches, and checks the indicator's interval covers it;
- travel: round-trip km and pace by environment (rural farthest, then mixte, then urbain);
- supervision: each kind of session at most once per month of tenure with probability p, minutes
  LogNormal(log median, 0.3²) rounded to 15, so the expected hours per PTP-month are
  Σ p × median × exp(0.3² / 2) / 60 (with the log-normal mean correction; ≈ 5.07 h, 4.85 h
  without it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from proximite.indicators import implementation
from proximite.indicators.base import IndicatorParameters, poisson_rate_interval

from ._registry_tables import pick

#: Log-normal sigma of session minutes (truth["supervision"]["model"] says "LogNormal(log median, 0.3^2)").
SESSION_SIGMA = 0.3


@pytest.fixture(scope="module")
def pilot(pilot_cohort: tuple[dict[str, pd.DataFrame], dict[str, Any]]) -> tuple[pd.DataFrame, dict, dict]:
    tables, truth = pilot_cohort
    return implementation.compute(tables, parameters=IndicatorParameters()), tables, truth


def _full_history_rates(tables: dict[str, pd.DataFrame], end: pd.Timestamp) -> pd.DataFrame:
    """Departures / worker-years over every tenure's whole history (the truth's definition)."""
    worker = tables["worker"].merge(tables["territory"][["territory_id", "environment"]], on="territory_id")
    days = (worker["end_date"].fillna(end) - worker["start_date"]).dt.days
    frame = pd.DataFrame(
        {
            "environment": worker["environment"].astype(str),
            "years": days / 365.25,
            "departures": worker["end_date"].notna(),
        }
    )
    summary = frame.groupby("environment")[["years", "departures"]].sum()
    summary.loc["all"] = summary.sum()
    return summary.assign(rate=summary["departures"] / summary["years"])


def test_turnover_interval_covers_the_realised_rate(pilot: tuple[pd.DataFrame, dict, dict]) -> None:
    result, tables, truth = pilot
    realised = truth["turnover"]["realised"]["departures_per_worker_year"]
    end = pd.Timestamp(truth["generator"]["complete_data_end"])
    history = _full_history_rates(tables, end)
    # The worker table reproduces the truth's figure when computed its way...
    assert history.loc["all", "rate"] == pytest.approx(realised, rel=1e-3)
    assert history.loc["all", "departures"] == truth["turnover"]["realised"]["departures"]
    # ...and the indicator over the registry span has an interval covering it.
    row = pick(result, "implementation.worker_turnover", period="all")
    assert row["ci_low"] <= realised <= row["ci_high"]
    assert row["value"] == pytest.approx(row["numerator"] / row["denominator"])


def test_turnover_rural_above_urban(pilot: tuple[pd.DataFrame, dict, dict]) -> None:
    result, tables, truth = pilot
    hazard = truth["turnover"]["annual_hazard"]
    assert hazard["rural"] > hazard["urbain"]
    # Over the whole tenure history (the truth's exposure), the rural rate is above the urban one.
    history = _full_history_rates(tables, pd.Timestamp(truth["generator"]["complete_data_end"]))
    assert history.loc["rural", "rate"] > history.loc["urbain", "rate"]
    # The same figures from the indicator's own arithmetic: tenure_exposure over one period
    # spanning every tenure, and the exact Poisson rate.
    span = pd.DataFrame(
        {
            "period": ["history"],
            "period_start": [tables["worker"]["start_date"].min()],
            "period_end": [pd.Timestamp(truth["generator"]["complete_data_end"])],
        }
    )
    exposure = implementation.tenure_exposure(tables["worker"], span).merge(
        tables["territory"][["territory_id", "environment"]].astype("string"), on="territory_id"
    )
    by = exposure.groupby("environment")[["days", "departure"]].sum()
    rate = by["departure"] / (by["days"] / 365.25)
    assert rate["rural"] > rate["urbain"]
    # Over the registry span (2024 on) each environment's planted hazard lies within the
    # indicator's exact interval (the point estimates are noisy: about 20-30 departures each).
    for environment, planted in hazard.items():
        row = pick(result, "implementation.worker_turnover", period="all", stratum="environment",
                   stratum_value=environment)
        assert row["ci_low"] <= planted <= row["ci_high"], environment
        low, high = poisson_rate_interval([row["numerator"]], [row["denominator"]])
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low[0], high[0]))


def test_travel_share_orders_environments(pilot: tuple[pd.DataFrame, dict, dict]) -> None:
    result, _, truth = pilot
    realised = truth["travel"]["realised_complete_by_environment"]
    minutes = {env: realised[env]["mean_travel_minutes_all_activities"] for env in ("rural", "mixte", "urbain")}
    assert minutes["rural"] > minutes["mixte"] > minutes["urbain"]
    share = {
        env: pick(result, "implementation.travel_share", period="all", stratum="environment", stratum_value=env)
        for env in ("rural", "mixte", "urbain")
    }
    assert share["rural"]["value"] > share["mixte"]["value"] > share["urbain"]["value"]
    # Clearly apart: the intervals (clustered by worker) do not overlap.
    assert share["rural"]["ci_low"] > share["mixte"]["ci_high"]
    assert share["mixte"]["ci_low"] > share["urbain"]["ci_high"]


def test_supervision_hours_per_month_near_the_planted_rate(pilot: tuple[pd.DataFrame, dict, dict]) -> None:
    result, _, truth = pilot
    assert "0.3^2" in truth["supervision"]["model"]
    kinds = truth["supervision"]["kinds"]
    expected = sum(
        spec["monthly_probability"] * spec["median_minutes"] * math.exp(SESSION_SIGMA**2 / 2) for spec in kinds.values()
    ) / 60
    assert expected == pytest.approx(5.07, abs=0.01)
    row = pick(result, "implementation.supervision_hours_per_month", period="all")
    assert row["value"] == pytest.approx(expected, rel=0.10)
    assert np.isfinite(row["denominator"]) and row["denominator"] > 0

"""implementation.worker_turnover: departures (tenure end in the period) / PTP-years in post.

- T1 2024: W1 leaves 2024-06-30: 1 departure over (182 + 184) / 365.25 years;
- T2 2025: W3 leaves T2 2025-03-31: 1 over 90 / 365.25; T3 2025: 0 over 275 / 365.25;
- Québec all: 2 departures over 1462 / 365.25 years, 3 workers.
Exact Poisson (Garwood) interval, checked with the gamma form: [Γ⁻¹(α/2; k), Γ⁻¹(1 − α/2; k + 1)] / E.
"""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from proximite.indicators import implementation

from ._registry_tables import PARAMETERS, WORK_ACTIVITIES, WORK_SESSIONS, WORK_TENURES, pick, registry_tables, unit_of

ID = "implementation.worker_turnover"
YEAR = 365.25


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return implementation.worker_turnover(
        registry_tables(activities=WORK_ACTIVITIES, tenures=WORK_TENURES, sessions=WORK_SESSIONS),
        parameters=PARAMETERS,
    )


def _garwood(k: int, exposure: float) -> tuple[float, float]:
    low = stats.gamma.ppf(0.025, k) / exposure if k > 0 else 0.0
    return low, stats.gamma.ppf(0.975, k + 1) / exposure


@pytest.mark.parametrize(
    ("territory", "period", "departures", "days"),
    [("T1", "2024", 1, 366), ("T1", "2025", 0, 365), ("T2", "2025", 1, 90), ("T3", "2025", 0, 275)],
)
def test_territory_rates(result: pd.DataFrame, territory: str, period: str, departures: int, days: int) -> None:
    row = pick(result, ID, period=period, scope="territory", scope_id=territory)
    years = days / YEAR
    assert (row["numerator"], row["denominator"]) == pytest.approx((departures, years))
    assert row["value"] == pytest.approx(departures / years)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(_garwood(departures, years))
    assert row["unit"] == unit_of(ID)


def test_quebec_all(result: pd.DataFrame) -> None:
    row = pick(result, ID, period="all")
    years = 1462 / YEAR
    assert row["value"] == pytest.approx(2 / years)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(_garwood(2, years))
    assert row["n"] == 3
    assert "Poisson" in row["method"]


def test_departures_outside_the_span_do_not_count() -> None:
    # W0 left T1 before the span (2023); W4 will leave T3 after it (2026): neither is a departure,
    # W4's 2025 days count as exposure.
    tenures = [*WORK_TENURES, ("W0", "T1", "2022-01-01", "2023-05-31"), ("W4", "T3", "2025-07-01", "2026-03-01")]
    result = implementation.worker_turnover(
        registry_tables(activities=WORK_ACTIVITIES, tenures=tenures), parameters=PARAMETERS
    )
    row = pick(result, ID, period="all")
    assert row["numerator"] == 2
    assert row["denominator"] == pytest.approx((1462 + 184) / YEAR)  # W4: 2025-07-01..2025-12-31


def test_returns_only_its_own_id(result: pd.DataFrame) -> None:
    assert set(result["indicator"]) == {ID}

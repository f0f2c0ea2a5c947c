"""implementation.supervision_hours_per_month: Σ session minutes / 60 / PTP-months in post.

Tenures (``WORK_TENURES``): W1 in T1 to 2024-06-30, W2 in T1 from 2024-07-01; W3 in T2 to
2025-03-31, then in T3. Months = days in post in the period / (365.25 / 12):

- T1 2024: W1 182 days (Jan–Jun 2024; its 2023 days are outside the span) + W2 184 days = 366;
  sessions 60 + 90 min = 2.5 h → 2.5 / (366 / 30.4375);
- T2 2024: W3 366 days, 120 min → 2 / (366 / 30.4375); T2 2025: 90 days, no session → 0;
- T3 2025: W3 275 days; its 2025-05-01 session (30 min) falls in the T3 tenure → 0.5 / (275 / 30.4375);
- Québec all: 300 min = 5 h over 366 + 366 + 365 + 90 + 275 = 1462 days.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from proximite.indicators import implementation

from ._registry_tables import (
    PARAMETERS,
    WORK_ACTIVITIES,
    WORK_SESSIONS,
    WORK_TENURES,
    pick,
    registry_tables,
    unit_of,
    work_tables,
)

ID = "implementation.supervision_hours_per_month"
MONTH = 365.25 / 12


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    return implementation.supervision_hours_per_month(work_tables(), parameters=PARAMETERS)


@pytest.mark.parametrize(
    ("territory", "period", "hours", "days", "workers"),
    [
        ("T1", "2024", 2.5, 366, 2),
        ("T2", "2024", 2.0, 366, 1),
        ("T2", "2025", 0.0, 90, 1),
        ("T3", "2025", 0.5, 275, 1),
        ("T1", "all", 2.5, 366 + 365, 2),
    ],
)
def test_territory_values(
    result: pd.DataFrame, territory: str, period: str, hours: float, days: int, workers: int
) -> None:
    row = pick(result, ID, period=period, scope="territory", scope_id=territory)
    assert row["numerator"] == pytest.approx(hours)
    assert row["denominator"] == pytest.approx(days / MONTH)
    assert row["value"] == pytest.approx(hours / (days / MONTH))
    assert row["n"] == workers
    assert math.isnan(row["ci_low"])
    assert row["unit"] == unit_of(ID)


def test_quebec_all(result: pd.DataFrame) -> None:
    row = pick(result, ID, period="all")
    assert row["value"] == pytest.approx(5 / (1462 / MONTH))
    assert row["n"] == 3  # W1, W2, W3 (W3's two tenures are one worker)
    # Additive numerator and denominator: Québec = region 01 + region 02.
    parts = [pick(result, ID, period="all", scope="region", scope_id=r) for r in ("01", "02")]
    assert row["numerator"] == pytest.approx(sum(p["numerator"] for p in parts))
    assert row["denominator"] == pytest.approx(sum(p["denominator"] for p in parts))


def test_tenure_exposure_by_hand() -> None:
    tables = work_tables()
    periods = pd.DataFrame(
        {
            "period": ["2024", "2025"],
            "period_start": pd.to_datetime(["2024-01-01", "2025-01-01"]),
            "period_end": pd.to_datetime(["2024-12-31", "2025-12-31"]),
        }
    )
    exposure = implementation.tenure_exposure(tables["worker"], periods)
    got = {(r.worker_id, r.territory_id, r.period): (r.days, r.departure) for r in exposure.itertuples()}
    assert got == {
        ("W1", "T1", "2024"): (182, 1),
        ("W2", "T1", "2024"): (184, 0),
        ("W2", "T1", "2025"): (365, 0),
        ("W3", "T2", "2024"): (366, 0),
        ("W3", "T2", "2025"): (90, 1),
        ("W3", "T3", "2025"): (275, 0),
    }
    assert len(WORK_TENURES) == 4


def test_session_outside_every_tenure_goes_to_the_nearest_one() -> None:
    # W1's session two weeks after it left T1 still counts for T1; a worker unknown to the worker
    # table has no territory and is left out.
    sessions = [*WORK_SESSIONS, ("W1", "2024-07-15", 30), ("W9", "2024-07-15", 600)]
    tables = registry_tables(activities=WORK_ACTIVITIES, tenures=WORK_TENURES, sessions=sessions)
    result = implementation.supervision_hours_per_month(tables, parameters=PARAMETERS)
    assert pick(result, ID, period="2024", scope="territory", scope_id="T1")["numerator"] == pytest.approx(3.0)
    assert pick(result, ID, period="all")["numerator"] == pytest.approx(5.5)


def test_returns_only_its_own_id(result: pd.DataFrame) -> None:
    assert set(result["indicator"]) == {ID}

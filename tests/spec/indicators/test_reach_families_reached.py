"""Spec: ``reach.families_reached``, distinct families with at least one accompaniment activity.

An accompaniment is an activity whose ``family_id`` is set; a family counts once per period, in
its own territory; families the cohort does not hold are left out. Periods are the registry
periods (here calendar years) plus ``all``, the whole registry span.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from proximite.indicators import reach
from proximite.indicators.base import IndicatorParameters

from ._reach_isolation_tables import PARAMETERS, pick, reach_tables, rows, unchanged, unit_of

ID = "reach.families_reached"

FAMILIES = [
    ("F1", "T1", "2024-03-10", True),
    ("F2", "T1", "2024-05-01", False),
    ("F3", "T2", "2024-11-20", True),
    ("F4", "T3", "2025-02-01", False),  # never met by a PTP activity: not reached
]
ACTIVITIES = [
    ("T1", "2024-03-10", "F1"),
    ("T1", "2024-04-02", "F1"),  # F1 twice in 2024: counted once
    ("T1", "2025-01-15", "F1"),
    ("T1", "2024-06-01", None),  # a concertation activity: no family
    ("T1", "2024-06-05", "F2"),
    ("T2", "2025-03-01", "F3"),
    ("T3", "2024-08-01", "GHOST"),  # a family the cohort does not hold
]


def compute(**options):
    parameters = options.pop("parameters", PARAMETERS)
    tables = reach_tables(FAMILIES, activities=ACTIVITIES, **options)
    return unchanged(reach.compute, tables, parameters=parameters)


def test_each_family_counts_once_per_period_in_its_territory() -> None:
    out = compute()
    # 2024: F1 (twice) and F2 in T1 → 2; 2025: F1 in T1, F3 in T2 → 2; all: F1, F2, F3 → 3.
    assert pick(out, ID, period="2024")["value"] == 2
    assert pick(out, ID, period="2025")["value"] == 2
    assert pick(out, ID)["value"] == 3
    assert pick(out, ID, scope="territory", scope_id="T1")["value"] == 2
    assert pick(out, ID, scope="territory", scope_id="T2")["value"] == 1
    assert pick(out, ID, scope="territory", scope_id="T1", period="2025")["value"] == 1
    assert pick(out, ID, scope="territory", scope_id="T2", period="2025")["value"] == 1
    assert pick(out, ID, scope="region", scope_id="01")["value"] == 3
    # T2 reached nobody in 2024, and region 02 (T3) only met a family the cohort does not hold.
    assert rows(out, ID).query("scope_id == 'T2' and period == '2024'").empty
    assert rows(out, ID).query("scope_id == '02'").empty


def test_strata_split_quebec_and_regions_not_territories() -> None:
    out = compute()
    assert pick(out, ID, stratum="environment", stratum_value="urbain")["value"] == 2  # F1, F2 (T1)
    assert pick(out, ID, stratum="environment", stratum_value="rural")["value"] == 1  # F3 (T2)
    assert pick(out, ID, stratum="host_type", stratum_value="CPSC", period="2025")["value"] == 1
    assert pick(out, ID, scope="region", scope_id="01", stratum="host_type", stratum_value="OCF")["value"] == 2
    assert set(rows(out, ID).query("scope == 'territory'")["stratum"]) == {"all"}


def test_a_count_has_no_interval_and_no_denominator() -> None:
    row = pick(compute(), ID)
    assert row["numerator"] == row["value"] == row["n"] == 3
    assert np.isnan(row["denominator"]) and np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
    assert row["unit"] == unit_of(ID) == "count"
    assert "distinct families" in row["method"]


def test_periods_span_the_registry() -> None:
    out = compute()
    # First dated activity 2024-03-10 (any activity), last 2025-03-01.
    assert pick(out, ID, period="2024")["period_start"] == pd.Timestamp("2024-03-10")
    assert pick(out, ID, period="2024")["period_end"] == pd.Timestamp("2024-12-31")
    whole = pick(out, ID)
    assert (whole["period_start"], whole["period_end"]) == (pd.Timestamp("2024-03-10"), pd.Timestamp("2025-03-01"))
    assert pd.isna(whole["wave"])


def test_as_of_drops_later_activities() -> None:
    out = compute(parameters=IndicatorParameters(periods="year", as_of=dt.date(2024, 12, 31)))
    assert pick(out, ID)["value"] == 2  # F1 and F2; F3 is met only in 2025
    assert pick(out, ID)["period_end"] == pd.Timestamp("2024-12-31")
    assert rows(out, ID).query("period == '2025'").empty


def test_wave_windows_label_periods() -> None:
    families = [("F1", "T1", "2024-01-10", True), ("F2", "T1", "2024-01-10", False)]
    activities = [
        ("T1", "2024-01-10", "F1"),
        ("T1", "2024-07-09", "F1"),  # the day before T6's window (2024-01-10 + 6 months)
        ("T1", "2024-07-10", "F2"),
        ("T1", "2025-02-01", "F1"),  # T12 window from 2025-01-10; T24 starts after the data end
    ]
    tables = reach_tables(families, activities=activities)
    out = reach.compute(tables, parameters=IndicatorParameters(periods="wave"))
    found = rows(out, ID).query("scope == 'quebec' and stratum == 'all'")
    got = {row.period: row.value for row in found.itertuples()}
    # T0: F1 (twice); T6: F2; T12: F1; all: F1 and F2.
    assert got == {"T0": 1, "T6": 1, "T12": 1, "all": 2}
    # Registry rows are dated by period only: the label names the wave window.
    assert found["wave"].isna().all()
    assert pick(out, ID, period="T6")["period_start"] == pd.Timestamp("2024-07-10")


def test_no_accompaniment_no_rows() -> None:
    tables = reach_tables(FAMILIES, activities=[("T1", "2024-06-01", None)])
    assert rows(reach.compute(tables, parameters=PARAMETERS), ID).empty

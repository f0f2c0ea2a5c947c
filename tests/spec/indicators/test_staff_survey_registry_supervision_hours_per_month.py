"""Spec: ``staff_survey.registry_supervision_hours_per_month`` = the registry's supervision hours per PTP-month, by survey year.

Staff world of ``_survey_tables`` (answers in 2024 and 2025) with the registry:

| worker | territory | tenure | sessions (minutes) |
|---|---|---|---|
| W1 | T1 | 2024-01-01 → | 2024-03-01 120, 2024-06-01 120, 2024-09-01 120 |
| W2 | T2 | 2024-01-01 → 2024-06-30 | 2024-02-01 60 |
| W2b | T2 | 2024-07-01 → | 2024-08-01 90 |

and activities on 2024-01-01 and 2026-03-01 (the registry's span: 2024, 2025, 2026). The row of a
survey year is :func:`implementation.supervision_hours_per_month` on calendar years, under this
id: T1 2024 = 6 h / 12 months ≈ 0.5 h per month, T2 2024 = 2.5 h / 12 months. 2026 has no
answer: no row.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from proximite.indicators.implementation import supervision_hours_per_month
from proximite.indicators.staff_survey import registry_supervision_hours_per_month

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import STAFF_REGISTRY as REGISTRY
from ._survey_tables import staff_world

ID = "staff_survey.registry_supervision_hours_per_month"


def test_the_registry_figure_of_each_survey_year() -> None:
    tables = staff_world(**REGISTRY)
    frame = unchanged(registry_supervision_hours_per_month, tables, parameters=PARAMETERS)
    reference = supervision_hours_per_month(tables, parameters=dataclasses.replace(PARAMETERS, periods="year"))
    for cell in ({}, {"scope": "territory", "scope_id": "T1"}, {"scope": "territory", "scope_id": "T2"}):
        ours = pick(frame, ID, period="2024", **cell)
        theirs = pick(reference, "implementation.supervision_hours_per_month", period="2024", **cell)
        assert (ours["value"], ours["n"]) == (theirs["value"], theirs["n"])
    assert pick(frame, ID, period="2024", scope="territory", scope_id="T1")["value"] == pytest.approx(6 / 12, abs=0.01)
    assert pick(frame, ID, period="2024", scope="territory", scope_id="T2")["value"] == pytest.approx(2.5 / 12, abs=0.01)
    assert set(frame["period"]) == {"2024", "2025"} and "2026" in set(reference["period"])
    row = pick(frame, ID, period="2025")
    assert row["unit"] == unit_of(ID) == "hours" and "activity registry" in row["method"]
    assert row["period_start"] == pd.Timestamp("2025-01-01")


def test_no_answer_no_registry_rows() -> None:
    tables = staff_world(**REGISTRY)
    tables["staff_survey"] = tables["staff_survey"].iloc[0:0]
    assert unchanged(registry_supervision_hours_per_month, tables, parameters=PARAMETERS).empty

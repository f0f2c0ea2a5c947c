"""Spec: ``staff_survey.registry_worker_turnover`` = the registry's PTP departures per PTP-year, by survey year.

Staff world of ``_survey_tables`` with the registry of the supervision spec (W1 in T1 all year;
W2 leaves T2 on 2024-06-30, W2b takes over the next day). The row of a survey year is
:func:`implementation.worker_turnover` on calendar years, under this id: T2 2024 = 1 departure in
about 1 PTP-year; T1 2024 = 0 departures.
"""

from __future__ import annotations

import dataclasses

import pytest

from proximite.indicators.implementation import worker_turnover
from proximite.indicators.staff_survey import registry_worker_turnover

from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of
from ._survey_tables import STAFF_REGISTRY as REGISTRY
from ._survey_tables import staff_world

ID = "staff_survey.registry_worker_turnover"


def test_the_registry_turnover_of_each_survey_year() -> None:
    tables = staff_world(**REGISTRY)
    frame = unchanged(registry_worker_turnover, tables, parameters=PARAMETERS)
    reference = worker_turnover(tables, parameters=dataclasses.replace(PARAMETERS, periods="year"))
    t2 = pick(frame, ID, period="2024", scope="territory", scope_id="T2")
    theirs = pick(reference, "implementation.worker_turnover", period="2024", scope="territory", scope_id="T2")
    assert (t2["numerator"], t2["value"], t2["ci_high"]) == (theirs["numerator"], theirs["value"], theirs["ci_high"])
    assert t2["numerator"] == 1 and t2["value"] == pytest.approx(1.0, abs=0.01)
    assert pick(frame, ID, period="2024", scope="territory", scope_id="T1")["numerator"] == 0
    assert set(frame["period"]) <= {"2024", "2025"} and t2["unit"] == unit_of(ID) == "rate"

"""Spec: ``qualitative.sessions`` = sessions analysed (consent in force, at least one coded segment).

Calendar-year periods over the registry and session dates (2024, 2025, and ``all``).

| session | territory | date | participant type | consent | codings | analysed |
|---|---|---|---|---|---|---|
| S1 | T1 | 2024-03-01 | parent | yes | C2 ×2, C3 | yes |
| S2 | T1 | 2024-05-01 | parent | yes | C1, C5 | yes |
| S3 | T1 | 2025-02-01 | ptp | yes | C4, C3 ×2 | yes |
| S4 | T2 | 2024-06-01 | gestionnaire | yes | C5 ×3 (no theme) | yes |
| S5 | T3 | 2025-04-01 | partenaire | yes | C4 | yes |
| S6 | T1 | 2024-07-01 | parent | **no** | C1 | no: consent not in force |
| S7 | T2 | 2024-08-01 | parent | yes | none | no: not coded |

Québec: 2024 = S1, S2, S4 = 3; 2025 = S3, S5 = 2; all = 5. T1: 2024 = 2, 2025 = 1, all = 3, of which
parent 2 and ptp 1. Region 01 (T1, T2): all = 4 = urbain 3 (T1) + rural 1 (T2) = parent 2 +
ptp 1 + gestionnaire 1. With ``as_of`` = 2024-12-31 the 2025 sessions do not exist: Québec all = 3.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from proximite.indicators.qualitative import sessions

from ._qualitative_tables import qualitative_tables
from ._reach_isolation_tables import unchanged
from ._registry_tables import PARAMETERS, pick, unit_of

ID = "qualitative.sessions"
SESSIONS = [
    ("S1", "T1", "2024-03-01", "parent", True, (("C2", 2), ("C3", 1))),
    ("S2", "T1", "2024-05-01", "parent", True, (("C1", 1), ("C5", 1))),
    ("S3", "T1", "2025-02-01", "ptp", True, (("C4", 1), ("C3", 2))),
    ("S4", "T2", "2024-06-01", "gestionnaire", True, (("C5", 3),)),
    ("S5", "T3", "2025-04-01", "partenaire", True, (("C4", 1),)),
    ("S6", "T1", "2024-07-01", "parent", False, (("C1", 1),)),
    ("S7", "T2", "2024-08-01", "parent", True, ()),
]


def result(parameters=PARAMETERS):
    return unchanged(sessions, qualitative_tables(SESSIONS), parameters=parameters)


@pytest.mark.parametrize(("period", "expected"), [("2024", 3), ("2025", 2), ("all", 5)])
def test_quebec_counts_the_sessions_analysed(period: str, expected: int) -> None:
    row = pick(result(), ID, period=period)
    assert (row["value"], row["numerator"], row["n"]) == (expected, expected, expected)
    assert row["unit"] == unit_of(ID) == "count" and "consent" in row["method"]
    assert set(result()["indicator"]) == {ID}


def test_a_territory_by_participant_type() -> None:
    frame = result()
    assert pick(frame, ID, period="all", scope="territory", scope_id="T1")["value"] == 3
    assert pick(frame, ID, period="2024", scope="territory", scope_id="T1")["value"] == 2
    parent = pick(frame, ID, period="all", scope="territory", scope_id="T1", stratum="participant_type", stratum_value="parent")
    ptp = pick(frame, ID, period="all", scope="territory", scope_id="T1", stratum="participant_type", stratum_value="ptp")
    assert (parent["value"], ptp["value"]) == (2, 1)


def test_strata_add_up_in_a_region() -> None:
    frame = result()
    cell = {"period": "all", "scope": "region", "scope_id": "01"}
    assert pick(frame, ID, **cell)["value"] == 4
    assert [pick(frame, ID, **cell, stratum="environment", stratum_value=value)["value"] for value in ("urbain", "rural")] == [3, 1]
    by_type = [pick(frame, ID, **cell, stratum="participant_type", stratum_value=value)["value"]
               for value in ("parent", "ptp", "gestionnaire")]
    assert by_type == [2, 1, 1]


def test_nothing_after_as_of() -> None:
    frame = result(dataclasses.replace(PARAMETERS, as_of=dt.date(2024, 12, 31)))
    assert pick(frame, ID, period="all")["value"] == 3
    assert set(frame["period"]) == {"2024", "all"}

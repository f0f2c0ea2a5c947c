"""Tiny questionnaire tables for the partner and staff spec tests, in the registry tests' world.

The territories and organisations are those of ``_registry_tables`` (T1: host H1, partners
P1a–P1e; T2: H2, P2a; T3: H3, P3a, P3b; T1 and T2 in region 01, T3 in region 02). Each test writes
the answers it needs as short tuples:

- a partner response ``(response_id, org_id, territory, year, appreciation or None)``;
- a tie ``(response_id, to_org_id, level, trust items or None, value items or None)``: the
  responding organisation (``from_org_id``) is its response's;
- a staff answer ``(respondent, territory, year, role, worker_id or None, {column: value})``.

Referrals, tenures and sessions are ``_registry_tables``' tuples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ._registry_tables import Activity, Referral, Session, Tenure, registry_tables

Response = tuple[str, str, str, int, int | None]
Items = tuple[int | None, int | None, int | None] | None
Tie = tuple[str, str, str, Items, Items]
Answer = tuple[str, str, int, str, str | None, Mapping[str, Any]]

TRUST = ("trust_openness", "trust_reliability", "trust_shared_mission")
VALUE = ("value_influence", "value_resources", "value_involvement")
STAFF_ANSWERS = {
    "supervision_frequency": "string", "supervision_adequacy": "Int64", "training_hours": "Int64",
    "training_adequacy": "Int64", "role_clarity": "Float64", "mandate_misread": "Int64", "workload_heavy": "Int64",
    "intention_to_stay": "Int64",
}


def _partner_tables(responses: list[Response], ties: list[Tie]) -> dict[str, pd.DataFrame]:
    org_of = {response[0]: response[1] for response in responses}
    response = pd.DataFrame(
        {
            "response_id": pd.Series([r[0] for r in responses], dtype="string"),
            "org_id": pd.Series([r[1] for r in responses], dtype="string"),
            "territory_id": pd.Series([r[2] for r in responses], dtype="string"),
            "year": pd.Series([r[3] for r in responses], dtype="Int64"),
            "network": pd.Series(["communautaire"] * len(responses), dtype="string"),
            "mission": pd.Series(["famille_enfance"] * len(responses), dtype="string"),
            "collaboration_with_host": pd.Series([r[4] for r in responses], dtype="Int64"),
            "response_date": pd.Series(pd.to_datetime([f"{r[3]}-11-01" for r in responses]), dtype="datetime64[ns]"),
        }
    )
    columns: dict[str, Any] = {
        "response_id": pd.Series([t[0] for t in ties], dtype="string"),
        "from_org_id": pd.Series([org_of.get(t[0]) for t in ties], dtype="string"),
        "to_org_id": pd.Series([t[1] for t in ties], dtype="string"),
        "frequency": pd.Series(["mensuelle"] * len(ties), dtype="string"),
        "collaboration_level": pd.Series([t[2] for t in ties], dtype="string"),
    }
    for position, names in ((3, TRUST), (4, VALUE)):
        for item, name in enumerate(names):
            columns[name] = pd.Series([None if t[position] is None else t[position][item] for t in ties], dtype="Int64")
    return {"partner_response": response, "partner_tie": pd.DataFrame(columns)}


def _staff_table(answers: list[Answer]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "respondent_id": pd.Series([a[0] for a in answers], dtype="string"),
            "year": pd.Series([a[2] for a in answers], dtype="Int64"),
            "role": pd.Series([a[3] for a in answers], dtype="string"),
            "worker_id": pd.Series([a[4] for a in answers], dtype="string"),
            "territory_id": pd.Series([a[1] for a in answers], dtype="string"),
            "response_date": pd.Series(pd.to_datetime([f"{a[2]}-10-20" for a in answers]), dtype="datetime64[ns]"),
        }
    )
    for column, dtype in STAFF_ANSWERS.items():
        frame[column] = pd.Series([a[5].get(column) for a in answers], dtype=dtype)
    return frame


def survey_tables(
    *,
    responses: Iterable[Response] = (),
    ties: Iterable[Tie] = (),
    answers: Iterable[Answer] = (),
    referrals: Iterable[Referral] = (),
    activities: Iterable[Activity] = (),
    tenures: Iterable[Tenure] = (),
    sessions: Iterable[Session] = (),
) -> dict[str, pd.DataFrame]:
    """The harmonised tables of the tiny world with these answers (typed like the warehouse)."""
    tables = registry_tables(referrals=referrals, activities=activities, tenures=tenures, sessions=sessions)
    tables.update(_partner_tables(list(responses), list(ties)))
    tables["staff_survey"] = _staff_table(list(answers))
    return tables


# ---------------------------------------------------------------------------- the partner world
#: Answers of the partner world shared by the mean and network specs (appreciations unused there).
#:
#: ==========  ===  ====  ==================================================================
#: response    org  year  ties: partner, level, trust items → score, value items → score
#: ==========  ===  ====  ==================================================================
#: r1 (T1)     P1a  2024  H1 coordination (4 4 4) 4.0 (3 3 3) 3.0; P1b cooperation (3 2 –) 2.5
#:                        (2 2 2) 2.0; P1c aucune (no items)
#: r2 (T1)     P1b  2024  H1 cooperation (2 2 2) 2.0 (1 2 3) 2.0
#: r3 (T2)     P2a  2024  H2 coordination (3 3 4) 10/3 (4 4 4) 4.0
#: r4 (T1)     P1a  2025  H1 integration (4 4 3) 11/3 (4 3 4) 11/3; P1e cooperation (2 3 3) 8/3
#:                        (2 2 1) 5/3
#: ==========  ===  ====  ==================================================================
#:
#: Referrals: T1 2024 H1→P1a, H1→P1d; T1 2025 H1→P1a; T2 2024 P2a→H2; T3 2024 H3→P3a (T3
#: did not answer: no network row there).
PARTNER_RESPONSES: list[Response] = [
    ("r1", "P1a", "T1", 2024, 4), ("r2", "P1b", "T1", 2024, 3), ("r3", "P2a", "T2", 2024, 3), ("r4", "P1a", "T1", 2025, 4),
]
PARTNER_TIES: list[Tie] = [
    ("r1", "H1", "coordination", (4, 4, 4), (3, 3, 3)),
    ("r1", "P1b", "cooperation", (3, 2, None), (2, 2, 2)),
    ("r1", "P1c", "aucune", None, None),
    ("r2", "H1", "cooperation", (2, 2, 2), (1, 2, 3)),
    ("r3", "H2", "coordination", (3, 3, 4), (4, 4, 4)),
    ("r4", "H1", "integration", (4, 4, 3), (4, 3, 4)),
    ("r4", "P1e", "cooperation", (2, 3, 3), (2, 2, 1)),
]
PARTNER_REFERRALS: list[Referral] = [
    ("T1", "ptp_to_partner", "H1", "P1a", "2024-03-01"),
    ("T1", "ptp_to_partner", "H1", "P1d", "2024-05-01"),
    ("T1", "ptp_to_partner", "H1", "P1a", "2025-02-01"),
    ("T2", "partner_to_ptp", "P2a", "H2", "2024-06-01"),
    ("T3", "ptp_to_partner", "H3", "P3a", "2024-06-01"),
]


def partner_world() -> dict[str, pd.DataFrame]:
    """The tables of the partner world above."""
    return survey_tables(responses=PARTNER_RESPONSES, ties=PARTNER_TIES, referrals=PARTNER_REFERRALS)


# ---------------------------------------------------------------------------- the staff world
def _staff(frequency: str, supervision: int | None, training: int | None, clarity: float, misread: int,
           workload: int, stay: int | None) -> dict[str, Any]:
    return {"supervision_frequency": frequency, "supervision_adequacy": supervision, "training_adequacy": training,
            "role_clarity": clarity, "mandate_misread": misread, "workload_heavy": workload, "intention_to_stay": stay}


#: Answers of the staff world shared by the staff specs (– : not answered):
#:
#: ======  ====  ====  ============  ====== ===============  ====  =====  =======  =======  ========  ====
#: answer  terr  year  role          worker frequency        sup.  train  clarity  misread  workload  stay
#: ======  ====  ====  ============  ====== ===============  ====  =====  =======  =======  ========  ====
#: s1      T1    2024  ptp           W1     mensuelle        5     4      4.5      4        5         5
#: s2      T1    2024  gestionnaire         moins_mensuelle  3     4      3.0      2        4         4
#: s3      T2    2024  ptp           W2     hebdomadaire     4     2      2.5      5        2         2
#: s4      T3    2024  ptp           W3     jamais           2     –      4.0      4        3         –
#: s5      T3    2024  gestionnaire         bimensuelle      –     5      3.5      1        4         3
#: s1      T1    2025  ptp           W1     hebdomadaire     4     4      5.0      3        4         4
#: ======  ====  ====  ============  ====== ===============  ====  =====  =======  =======  ========  ====
STAFF_WORLD: list[Answer] = [
    ("s1", "T1", 2024, "ptp", "W1", _staff("mensuelle", 5, 4, 4.5, 4, 5, 5)),
    ("s2", "T1", 2024, "gestionnaire", None, _staff("moins_mensuelle", 3, 4, 3.0, 2, 4, 4)),
    ("s3", "T2", 2024, "ptp", "W2", _staff("hebdomadaire", 4, 2, 2.5, 5, 2, 2)),
    ("s4", "T3", 2024, "ptp", "W3", _staff("jamais", 2, None, 4.0, 4, 3, None)),
    ("s5", "T3", 2024, "gestionnaire", None, _staff("bimensuelle", None, 5, 3.5, 1, 4, 3)),
    ("s1", "T1", 2025, "ptp", "W1", _staff("hebdomadaire", 4, 4, 5.0, 3, 4, 4)),
]


def staff_world(**registry: Any) -> dict[str, pd.DataFrame]:
    """The tables of the staff world above (with registry rows when given)."""
    return survey_tables(answers=STAFF_WORLD, **registry)


#: The registry beside the staff world (tenures, sessions, and activities spanning 2024–2026):
#: W1 in T1 from 2024-01-01 (sessions 2024-03-01, 06-01, 09-01 of 120 minutes); W2 in T2 from
#: 2024-01-01 to 2024-06-30 (2024-02-01, 60 minutes), W2b from 2024-07-01 (2024-08-01, 90).
STAFF_REGISTRY: dict[str, list[Any]] = {
    "tenures": [("W1", "T1", "2024-01-01", None), ("W2", "T2", "2024-01-01", "2024-06-30"), ("W2b", "T2", "2024-07-01", None)],
    "sessions": [("W1", "2024-03-01", 120), ("W1", "2024-06-01", 120), ("W1", "2024-09-01", 120),
                 ("W2", "2024-02-01", 60), ("W2b", "2024-08-01", 90)],
    "activities": [("T1", "W1", "2024-01-01", 60, "information", 0, None), ("T1", "W1", "2026-03-01", 60, "information", 0, None)],
}

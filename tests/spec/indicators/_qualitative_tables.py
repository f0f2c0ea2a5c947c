"""Tiny qualitative tables for the ``qualitative.*`` spec tests.

The world of :mod:`._registry_tables` (T1 and T2 in region 01, T3 in region 02; calendar-year
periods) with one activity a year in 2024 and 2025 (so the periods span both years), and the
sessions each test lists as short tuples. The codebook of the one QDA project (``p.qdpx``):

==========  =====================  ===================  ==========================
code        path                   theme                axis
==========  =====================  ===================  ==========================
C1          Relation               Confiance            acceptabilite
C2          Relation > Confiance   Confiance            acceptabilite (its parent's)
C3          Transport              Transport            pertinence
C4          Silos                  Décloisonnement      effets_systemiques
C5          Divers                 (none)               (none)
==========  =====================  ===================  ==========================
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ._registry_tables import registry_tables

CODES = [
    ("C1", "Relation", "Relation", None, "Confiance", "acceptabilite"),
    ("C2", "Confiance", "Relation > Confiance", "C1", "Confiance", "acceptabilite"),
    ("C3", "Transport", "Transport", None, "Transport", "pertinence"),
    ("C4", "Silos", "Silos", None, "Décloisonnement", "effets_systemiques"),
    ("C5", "Divers", "Divers", None, None, None),
]
ACTIVITIES = [("T1", "W1", "2024-01-01", 60, "information", 0, None), ("T1", "W1", "2025-12-31", 60, "information", 0, None)]

Session = tuple[str, str, str, str, bool, tuple[tuple[str, int], ...]]
"""(session id, territory, date, participant type, consent, ((code, segments), ...))."""


def qualitative_tables(sessions: Iterable[Session]) -> dict[str, pd.DataFrame]:
    """The harmonised tables of the tiny world with these sessions and their codings."""
    sessions = list(sessions)
    tables = registry_tables(activities=ACTIVITIES)
    tables["qual_session"] = pd.DataFrame(
        {
            "session_id": pd.Series([s[0] for s in sessions], dtype="string"),
            "territory_id": pd.Series([s[1] for s in sessions], dtype="string"),
            "session_date": pd.Series(pd.to_datetime([s[2] for s in sessions]), dtype="datetime64[ns]"),
            "participant_type": pd.Series([s[3] for s in sessions], dtype="string"),
            "consent": pd.Series([s[4] for s in sessions], dtype="boolean"),
        }
    )
    tables["qual_code"] = pd.DataFrame(CODES, columns=["code_id", "name", "path", "parent_id", "theme", "axis"]).assign(
        project="p.qdpx").astype("string")
    coding = [(s[0], "p.qdpx", code, segments) for s in sessions for code, segments in s[5]]
    tables["qual_coding"] = pd.DataFrame(coding, columns=["session_id", "project", "code_id", "segments"]).astype(
        {"session_id": "string", "project": "string", "code_id": "string", "segments": "Int64"})
    return tables

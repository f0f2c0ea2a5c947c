"""Tiny harmonised tables for the acceptability and relevance spec tests (the evaluation's axes).

The world of :mod:`._reach_isolation_tables` (T1 and T2 in region 01, urban and rural; T3 alone
in region 02, so its region cells are clustered by family); each test lists its families'
answers as ``(family_id, wave, {column: value})``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ._reach_isolation_tables import family_table, territory_table

#: (family_id, wave, {assessment column: value or None})
Answer = tuple[str, int, Mapping[str, Any]]


def cohort_tables(answers: Iterable[Answer], *, territories: Mapping[str, str], columns: Iterable[str]
                  ) -> dict[str, pd.DataFrame]:
    """``territory``, ``family`` and ``assessment`` tables; each column is nullable Int64 as harmonised."""
    answers = list(answers)
    frame = pd.DataFrame(
        [{"family_id": family, "wave": wave, **{c: values.get(c) for c in columns}} for family, wave, values in answers]
    )
    frame = frame.astype({"family_id": "string", "wave": "Int64", **{c: "Int64" for c in columns}})
    frame["assessment_date"] = pd.Timestamp("2024-06-01")
    family = family_table((f, territories[f], "2024-01-15", False) for f in dict.fromkeys(frame["family_id"]))
    return {"territory": territory_table(), "family": family, "assessment": frame}

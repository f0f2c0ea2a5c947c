"""The relevance specs' scenario: ``non_recours`` / ``resources_used_3m`` per family and wave.

| family | territory | T0 | T6 | T12 |
|---|---|---|---|---|
| A | T1 | 3 / 0 | 1 / 2 | 0 / 4 |
| B | T1 | 2 / 1 | 2 / 1 | |
| C | T1 | 3 / 0 | – / – (not observed) | |
| D | T2 (rural) | 1 / 2 | 0 / 4 | |
| E | T2 (rural) | 0 / 5 | | 0 / 6 |
| G | T3 (region 02) | 3 / 0 | 2 / 1 | |
| H | T3 (region 02) | 2 / 1 | | |
"""

from __future__ import annotations

import pandas as pd

from ._axes_tables import cohort_tables

TERRITORIES = {"A": "T1", "B": "T1", "C": "T1", "D": "T2", "E": "T2", "G": "T3", "H": "T3"}
#: (family, wave, non_recours, resources_used_3m)
SCORES = [
    ("A", 0, 3, 0), ("B", 0, 2, 1), ("C", 0, 3, 0), ("D", 0, 1, 2), ("E", 0, 0, 5), ("G", 0, 3, 0), ("H", 0, 2, 1),
    ("A", 6, 1, 2), ("B", 6, 2, 1), ("C", 6, None, None), ("D", 6, 0, 4), ("G", 6, 2, 1),
    ("A", 12, 0, 4), ("E", 12, 0, 6),
]


def relevance_tables() -> dict[str, pd.DataFrame]:
    answers = [(f, w, {"non_recours": n, "resources_used_3m": r}) for f, w, n, r in SCORES]
    return cohort_tables(answers, territories=TERRITORIES, columns=["non_recours", "resources_used_3m"])

"""The qualitative family as a whole: ids, the empty case, and disclosure over participant types.

Disclosure world (calendar years, all sessions in 2024, every session codes one theme):

| territory | parent | ptp | all |
|---|---|---|---|
| T1 | 6 | **3** | 9 |
| T2 | 7 | 6 | 13 |
| T3 | 8 | – | 8 |

T1's 3 PTP sessions are a small count (primary suppression). Two published relations would give
it back: T1 all (9) − T1 parent (6), and region 01 ptp (9) − T2 ptp (6). The participant type is
a stratum that territory rows carry, so both relations are groups of the table and complementary
suppression hides a second cell in each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from proximite.indicators import compute_family
from proximite.indicators.disclosure import apply_disclosure
from proximite.indicators.qualitative import AXIS_FAMILY, INDICATORS, compute

from ._qualitative_tables import qualitative_tables
from ._registry_tables import PARAMETERS, registry_tables, rows
from .test_qualitative_sessions import SESSIONS

COUNTS = {("T1", "parent"): 6, ("T1", "ptp"): 3, ("T2", "parent"): 7, ("T2", "ptp"): 6, ("T3", "parent"): 8}


def disclosure_world() -> dict[str, pd.DataFrame]:
    sessions = [
        (f"{territory}-{kind}-{number}", territory, "2024-06-01", kind, True, (("C3", 1),))
        for (territory, kind), count in COUNTS.items()
        for number in range(count)
    ]
    return qualitative_tables(sessions)


def test_the_family_emits_its_ids_and_nothing_without_sessions() -> None:
    frame = compute_family("qualitative", qualitative_tables(SESSIONS), parameters=PARAMETERS)
    assert set(frame["indicator"]) == set(INDICATORS)
    assert compute(registry_tables(), parameters=PARAMETERS).empty  # no qualitative table at all
    assert compute(qualitative_tables([]), parameters=PARAMETERS).empty
    assert set(AXIS_FAMILY.values()) == {"acceptability", "relevance", "effectiveness", "systemic"}


def _hidden(frame: pd.DataFrame, **labels: str) -> bool:
    labels = {"stratum": "all", "stratum_value": "all", **labels}
    found = rows(frame, "qualitative.sessions", period="2024", **labels)
    assert len(found) == 1, labels
    return bool(found.iloc[0]["suppressed"])


def test_a_small_participant_type_cell_cannot_be_recomputed() -> None:
    tables = disclosure_world()
    table = compute(tables, parameters=PARAMETERS)
    disclosed = apply_disclosure(table, level="internal", threshold=5, territory=tables["territory"])
    ptp = {"stratum": "participant_type", "stratum_value": "ptp"}
    assert _hidden(disclosed, scope="territory", scope_id="T1", **ptp)
    # T1 all = T1 parent + T1 ptp: a second member of the group is hidden.
    assert _hidden(disclosed, scope="territory", scope_id="T1") or _hidden(
        disclosed, scope="territory", scope_id="T1", stratum="participant_type", stratum_value="parent")
    # region 01 ptp = T1 ptp + T2 ptp: so is a second member of this one.
    assert _hidden(disclosed, scope="region", scope_id="01", **ptp) or _hidden(disclosed, scope="territory", scope_id="T2", **ptp)
    published = disclosed.loc[~disclosed["suppressed"]]
    assert np.all(published["value"].to_numpy() >= 5)

"""Spec: ``acceptability.satisfaction_mean`` = mean score (1–5) of each satisfaction item, by wave.

``satisfaction_relation`` at T0 (the scores of ``test_acceptability_trust_agree_share``):
A 5, B 4, C 2 (T1); D 3, E 5 (T2); G 4, H 1 (T3).

By hand: Québec T0 mean = 24/7 = 3.4286, SE clustered by territory (3 clusters) =
statsmodels ``OLS(y, 1).fit(cov_type="cluster", use_t=True)`` (t with G − 1 = 2 df).
T1 T0 (clustered by family = the plain t interval): mean 11/3, s² = (16/9 + 1/9 + 25/9)/2 = 7/3,
SE = √(7/9) = 0.8819, t(2) = 4.3027 → 3.667 ± 3.795 = [−0.128, 7.461], cut to the scale [1, 5].
``satisfaction_help`` at T0: all 3 except H = 5 → Québec mean 23/7. No breakdown ``all``:
the items are not averaged together.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from proximite.indicators.acceptability import satisfaction_mean

from ._axes_tables import cohort_tables
from ._reach_isolation_tables import PARAMETERS, pick, rows, statsmodels_clustered_mean, unchanged, unit_of

ID = "acceptability.satisfaction_mean"
TERRITORIES = {"A": "T1", "B": "T1", "C": "T1", "D": "T2", "E": "T2", "G": "T3", "H": "T3"}
RELATION = {"A": 5, "B": 4, "C": 2, "D": 3, "E": 5, "G": 4, "H": 1}
ITEMS = ["satisfaction_relation", "satisfaction_help", "satisfaction_recommend"]


def result():
    answers = [(f, 0, {"satisfaction_relation": s, "satisfaction_help": 5 if f == "H" else 3})
               for f, s in RELATION.items()]
    return unchanged(satisfaction_mean, cohort_tables(answers, territories=TERRITORIES, columns=ITEMS),
                     parameters=PARAMETERS)


def test_quebec_mean_clustered_by_territory() -> None:
    row = pick(result(), ID, wave=0, breakdown_value="satisfaction_relation")
    mean, low, high = statsmodels_clustered_mean(RELATION.values(), [TERRITORIES[f] for f in RELATION])
    assert row["value"] == pytest.approx(24 / 7) == pytest.approx(mean)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(max(low, 1.0)), pytest.approx(min(high, 5.0)))
    assert row["n"] == 7 and row["breakdown"] == "satisfaction_item"
    assert row["unit"] == unit_of(ID) == "mean" and "clustered by territory" in row["method"]


def test_territory_mean_is_the_plain_t_interval_cut_to_the_scale() -> None:
    row = pick(result(), ID, scope="territory", scope_id="T1", wave=0, breakdown_value="satisfaction_relation")
    low, high = stats.t.interval(0.95, 2, loc=11 / 3, scale=np.sqrt(7 / 9))
    assert (low, high) == (pytest.approx(-0.128, abs=1e-3), pytest.approx(7.461, abs=1e-3))
    assert row["value"] == pytest.approx(11 / 3)
    assert (row["ci_low"], row["ci_high"]) == (1.0, 5.0)
    assert "clustered by family" in row["method"]


def test_one_row_per_answered_item_and_no_all_breakdown() -> None:
    frame = rows(result(), ID)
    assert set(frame["breakdown_value"]) == {"satisfaction_relation", "satisfaction_help"}
    assert pick(frame, ID, wave=0, breakdown_value="satisfaction_help")["value"] == pytest.approx(23 / 7)

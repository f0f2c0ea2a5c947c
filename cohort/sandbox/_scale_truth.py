"""The empowerment and parental stress part of ``truth.json``: the items' model and complete-data means."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.harmonise.scores import item_mean
from proximite.cohort.sandbox._sampling import round_or_none

#: The Likert items of each scale, as the cohort's forms name them (0 in the frame: unanswered).
SCALE_ITEMS: dict[str, tuple[str, ...]] = {
    "empowerment": ("pa_1", "pa_2", "pa_3", "pa_4"),
    "parental_stress": ("stress_1", "stress_2", "stress_3", "stress_4"),
}

MODEL: dict[str, str] = {
    "empowerment_items": "round(3.1 - 0.45 severity + 0.3 trait + 0.55 F(months) h + N(0, 0.75^2)) clipped 1-5",
    "stress_items": "round(3.3 + 0.4 severity + 0.3 trait - 0.4 F(months) h + N(0, 0.75^2)) clipped 1-5",
    "satisfaction_items": "after T0 only: round(4.2 + 0.3 F(months) + 0.3 trait + N(0, 0.65^2)) clipped 1-5",
    "F": "1 - exp(-months / 10)",
    "score": "mean of the answered items (as the harmonised assessment computes it)",
}


def scale_scores(assessments: pd.DataFrame, items: tuple[str, ...]) -> np.ndarray:
    """Each row's score: the harmonised assessment's :func:`~proximite.cohort.harmonise.scores.item_mean`
    of its answered items (0 here = unanswered), NaN when none is."""
    values = assessments[list(items)].astype("float64")
    return item_mean(values.where(values > 0)).to_numpy(dtype="float64", na_value=np.nan)


def complete_means(assessments: pd.DataFrame, items: tuple[str, ...]) -> dict[str, dict[str, float | None]]:
    """Mean score by wave and mean within-family change from T0, over every family (no attrition).

    Parameters
    ----------
    assessments : DataFrame
        Complete data, before attrition: ``family_index``, ``wave`` (months) and the items.
    items : tuple of str
        The scale's items.
    """
    scored = pd.DataFrame(
        {"family_index": assessments["family_index"].to_numpy(), "wave": assessments["wave"].to_numpy(),
         "score": scale_scores(assessments, items)}
    )
    by_wave = scored.groupby("wave")["score"].mean()
    first = int(scored["wave"].min())
    baseline = scored.loc[scored["wave"] == first].set_index("family_index")["score"]
    change = {}
    for wave, rows in scored.groupby("wave"):
        # Families with a score at both waves (pandas aligns on the family and skips NaN).
        change[str(wave)] = round_or_none(float((rows.set_index("family_index")["score"] - baseline).mean()))
    return {"mean_by_wave": {str(k): round_or_none(v) for k, v in by_wave.items()}, "mean_change_from_t0_by_wave": change}


def scale_truth(assessments: pd.DataFrame) -> dict[str, Any]:
    """``truth["empowerment_and_stress"]``: the items' model and, per scale, its complete-data means.

    The complete-data means are the estimands of the simulation study's empowerment and stress
    effects: what this cohort's mean change would have been had no family dropped out (the
    rounding and clipping of the items leave no closed-form population change).
    """
    return {**MODEL, "complete_data": {scale: complete_means(assessments, items) for scale, items in SCALE_ITEMS.items()}}

"""The isolation part of ``truth.json``: planted parameters and complete-data means by wave."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._isolation import (
    ISOLATION_COVARIATES,
    ISOLATION_CUTS,
    ISOLATION_DIMENSIONS,
    ISOLATION_NOISE,
    ITEM_MISSING,
    LIKERT_ITEM_MISSING,
    WAVE_EFFECT_HETEROGENEITY,
    WAVE_EFFECT_POINTS,
    target_change,
)
from proximite.cohort.sandbox._sampling import round_or_none


def isolation_truth(
    ctx: Context, families: pd.DataFrame, assessments: pd.DataFrame, shifts: dict[int, float], effects: dict[str, Any]
) -> dict[str, Any]:
    """The isolation part of ``truth.json``: the planted latent model and its complete-data values.

    Parameters
    ----------
    ctx : Context
    families, assessments : DataFrame
        Complete data, before attrition (:func:`._assessments.make_assessments`).
    shifts : dict
        Wave month -> latent shift used.
    effects : dict
        ``territory_effect`` and ``territory_wave_effect_multiplier`` by territory index
        (:func:`._isolation.isolation_base`).
    """
    threshold = float(ctx.isolation["isolated_threshold"])
    by_wave = assessments.groupby("wave")["complete_index"].mean()
    t0 = assessments.loc[assessments["wave"] == 0].set_index("family_index")["complete_index"]
    change = {}
    for months in ctx.waves:
        later = assessments.loc[assessments["wave"] == months].set_index("family_index")["complete_index"]
        change[str(months)] = round_or_none(float((later - t0).mean()))
    isolated_contact = families["isolated_at_contact"].to_numpy()
    by_group = {}
    for label, mask in (("isolated_at_contact", isolated_contact), ("not_isolated_at_contact", ~isolated_contact)):
        rows = assessments.loc[mask[assessments["family_index"].to_numpy()]]
        by_group[label] = {str(k): round_or_none(v) for k, v in rows.groupby("wave")["complete_index"].mean().items()}
    by_environment = {}
    for environment in ("urbain", "mixte", "rural"):
        mask = families["environment"].to_numpy(dtype=object) == environment
        rows = assessments.loc[mask[assessments["family_index"].to_numpy()]]
        if len(rows):
            by_environment[environment] = {
                str(k): round_or_none(v) for k, v in rows.groupby("wave")["complete_index"].mean().items()
            }
    share_isolated = (
        assessments.assign(isolated=assessments["complete_index"] >= threshold).groupby("wave")["isolated"].mean()
    )
    t0_rows = assessments.loc[assessments["wave"] == 0]
    iso_t0 = t0_rows.loc[isolated_contact[t0_rows["family_index"].to_numpy()], "resources_used"]
    return {
        "model": (
            "y[f,d,w] = a_d + b_d*severity_f + g_d*isolated_at_contact_f + covariates + u_t + e_fd "
            "+ shift_w * wave_weight_d * h_f + eps; score = number of cut points below y; "
            "h_f = max(1 + v_t, 0) * max(1 + b_f, 0)"
        ),
        "dimensions": ISOLATION_DIMENSIONS,
        "cut_points": list(ISOLATION_CUTS),
        "noise": ISOLATION_NOISE,
        "covariates": ISOLATION_COVARIATES,
        "target_mean_index_change": {
            "formula": "asymptote * (1 - exp(-months / time_constant_months))",
            **WAVE_EFFECT_POINTS,
            "by_wave": {str(m): round_or_none(target_change(m)) for m in ctx.waves},
        },
        "wave_effect_heterogeneity": WAVE_EFFECT_HETEROGENEITY,
        "latent_wave_shift": {str(m): round_or_none(v) for m, v in shifts.items()},
        "territory_effect_sd_realised": round_or_none(float(np.std(effects["territory_effect"]))),
        "territory_effects": {
            str(territory_id): {
                "isolation_latent_shift": round_or_none(float(level)),
                "wave_effect_multiplier": round_or_none(float(multiplier)),
            }
            for territory_id, level, multiplier in zip(
                ctx.territories["territory_id"],
                effects["territory_effect"],
                effects["territory_wave_effect_multiplier"],
            )
        },
        "item_missing_probability": ITEM_MISSING,
        "likert_item_missing_probability": LIKERT_ITEM_MISSING,
        "complete_data": {
            "mean_index_by_wave": {str(k): round_or_none(v) for k, v in by_wave.items()},
            "mean_change_from_t0_by_wave": change,
            "share_isolated_by_wave": {str(k): round_or_none(v) for k, v in share_isolated.items()},
            "mean_index_by_wave_and_isolated_at_contact": by_group,
            "mean_index_by_wave_and_environment": by_environment,
            "t0_share_of_isolated_at_contact_using_0_or_1_resource": (
                round_or_none(float((iso_t0 <= 1).mean())) if len(iso_t0) else None
            ),
        },
        "index_definition": {
            "formula": "100 * weighted mean of answered dimension scores / max_score, if at least min_answered answered",
            "weights": ctx.isolation["weights"],
            "max_score": ctx.isolation["max_score"],
            "min_answered": ctx.isolation["min_answered"],
            "isolated_threshold": ctx.isolation["isolated_threshold"],
        },
    }


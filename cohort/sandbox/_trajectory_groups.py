"""Planted trajectory groups of the isolation index (``generate_cohort(..., trajectory_groups=True)``).

Off by default. When on, every family belongs to one of three latent groups whose isolation
index follows its own curve (a rapid improvement, a gradual one, persistent isolation), so that
group-based trajectory models (:class:`proximite.cohort.models.GroupTrajectory`) have known
groups to recover. The group takes the place of the family's persistent terms in the latent
isolation model: the latent of a family of group ``g`` on dimension ``d`` at wave ``w`` is

``y = a_d + L_g + delta_w * wave_weight_d * M_g(w) + eps``,  ``eps ~ N(0, 0.55^2)``,

with the dimension's intercept ``a_d``, the group's level ``L_g`` (solved so that the group's
expected T0 index is its planted one), its wave-effect profile
``M_g(w) = A_g (1 - exp(-w / T_g)) / (1 - exp(-w / 10))`` and the cohort's latent wave shift
``delta_w``, calibrated as without groups so that the cohort's mean index still changes by
``-20 (1 - exp(-months / 10))`` from T0. Severity, isolation at contact, the covariates and
the territory and family effects of the default model are left out of the index: any
persistent difference between the families of a group spreads it into a continuum that the
BIC splits into more groups (with 1,500 families, a family-level SD of 5 index points within
groups already makes four groups fit better than three). They act on membership instead:
families isolated at contact mostly start high, and a territory's wave-effect multiplier
``m_t`` moves its families from persistent isolation to rapid improvement.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._families import ISOLATED_AT_CONTACT_SHARE
from proximite.cohort.sandbox._isolation import (
    ISOLATION_CUTS,
    ISOLATION_DIMENSIONS,
    ISOLATION_NOISE,
    calibrate_wave_shifts,
    expected_change,
    expected_index,
    solve_wave_shifts,
    target_change,
    wave_fraction,
)
from proximite.cohort.sandbox._sampling import round_or_none, stream

#: The planted groups, numbered by increasing mean expected index over the default waves (as
#: ``GroupTrajectory`` numbers its groups): expected T0 index, relative size ``A_g`` of the
#: wave effect and its time constant ``T_g`` (months).
TRAJECTORY_GROUPS: dict[str, dict[str, Any]] = {
    "gradual_improvement": {
        "number": 1,
        "label_fr": "Amélioration graduelle",
        "label_en": "Gradual improvement",
        "t0_index": 40.0,
        "relative_wave_effect": 1.0,
        "time_constant_months": 30.0,
    },
    "rapid_improvement": {
        "number": 2,
        "label_fr": "Amélioration rapide",
        "label_en": "Rapid improvement",
        "t0_index": 72.0,
        "relative_wave_effect": 3.0,
        "time_constant_months": 6.0,
    },
    "persistent_isolation": {
        "number": 3,
        "label_fr": "Isolement persistant",
        "label_en": "Persistent isolation",
        "t0_index": 72.0,
        "relative_wave_effect": 0.0,
        "time_constant_months": 10.0,
    },
}
#: Probability of each group by isolation at contact, in a territory whose multiplier is 1. A
#: territory with multiplier ``m`` (clipped to 0–2, so its mean stays 1) has
#: ``P(rapid) = r m`` and ``P(persistent) = p + r (1 - m)``; gradual keeps its probability.
MEMBERSHIP: dict[str, dict[str, float]] = {
    "isolated_at_contact": {"gradual_improvement": 0.20, "rapid_improvement": 0.40, "persistent_isolation": 0.40},
    "not_isolated_at_contact": {"gradual_improvement": 0.84, "rapid_improvement": 0.08, "persistent_isolation": 0.08},
}
GROUP_NAMES: tuple[str, ...] = tuple(TRAJECTORY_GROUPS)
MODEL = (
    "y[f,d,w] = a_d + L_g + shift_w * wave_weight_d * M_g(w) + eps, eps ~ N(0, occasion_sd^2); "
    "M_g(w) = A_g (1 - exp(-w / T_g)) / (1 - exp(-w / 10)); score = number of cut points below y; "
    "P(g | isolated at contact s, territory t): gradual g_s, rapid r_s m_t, persistent p_s + r_s (1 - m_t), "
    "m_t = clip(territory wave-effect multiplier, 0, 2)"
)


def planted_shares(isolated_share: float = ISOLATED_AT_CONTACT_SHARE) -> np.ndarray:
    """Expected share of each group (in :data:`GROUP_NAMES` order) when ``isolated_share`` of
    the families are isolated at contact (territories average out: ``E[m_t] = 1``)."""
    isolated = np.array([MEMBERSHIP["isolated_at_contact"][name] for name in GROUP_NAMES])
    other = np.array([MEMBERSHIP["not_isolated_at_contact"][name] for name in GROUP_NAMES])
    return isolated_share * isolated + (1.0 - isolated_share) * other


def _intercepts() -> np.ndarray:
    return np.array([ISOLATION_DIMENSIONS[d]["intercept"] for d in ISOLATION_DIMENSIONS])


def _wave_weights() -> np.ndarray:
    return np.array([ISOLATION_DIMENSIONS[d]["wave_effect"] for d in ISOLATION_DIMENSIONS])


@cache
def group_levels() -> np.ndarray:
    """Latent level ``L_g`` of each group: its expected T0 index is its planted ``t0_index``."""
    rows = _intercepts()[None, :]
    ones = np.ones(1)
    return np.array(
        [
            optimize.brentq(
                lambda level, goal=spec["t0_index"]: expected_index(rows + level, 0.0, ones, _wave_weights()) - goal,
                -6.0,
                6.0,
                xtol=1e-12,
            )
            for spec in TRAJECTORY_GROUPS.values()
        ]
    )


def group_profiles(waves: tuple[int, ...]) -> np.ndarray:
    """``M_g(w)``, one row per group and one column per wave (T0: ``A_g``; its shift is 0)."""
    months = np.asarray(waves, dtype=float)
    common = np.where(months > 0, wave_fraction(months), 1.0)
    rows = []
    for spec in TRAJECTORY_GROUPS.values():
        own = np.where(months > 0, 1.0 - np.exp(-months / spec["time_constant_months"]), 1.0)
        rows.append(spec["relative_wave_effect"] * own / common)
    return np.array(rows)


def membership_probabilities(families: pd.DataFrame, territory_multiplier: np.ndarray) -> np.ndarray:
    """Each family's probability of each group (columns in :data:`GROUP_NAMES` order).

    ``territory_multiplier`` is the default model's wave-effect multiplier of each territory
    (by territory index), clipped here to 0–2 (:data:`MEMBERSHIP`).
    """
    isolated = families["isolated_at_contact"].to_numpy().astype(bool)
    multiplier = np.clip(territory_multiplier, 0.0, 2.0)[families["territory_index"].to_numpy()]
    probabilities = np.empty((len(families), len(GROUP_NAMES)))
    for status, rows in (("isolated_at_contact", isolated), ("not_isolated_at_contact", ~isolated)):
        base = MEMBERSHIP[status]
        rapid = base["rapid_improvement"] * multiplier[rows]
        probabilities[rows, GROUP_NAMES.index("gradual_improvement")] = base["gradual_improvement"]
        probabilities[rows, GROUP_NAMES.index("rapid_improvement")] = rapid
        probabilities[rows, GROUP_NAMES.index("persistent_isolation")] = (
            base["persistent_isolation"] + base["rapid_improvement"] - rapid
        )
    return probabilities


def draw_groups(ctx: Context, probabilities: np.ndarray) -> np.ndarray:
    """Each family's group (0-based, in :data:`GROUP_NAMES` order), one uniform each from the
    stream ``trajectory_groups`` (no other part of the cohort draws from it)."""
    draws = stream(ctx.seed, "trajectory_groups").random(len(probabilities))
    groups = (draws[:, None] >= np.cumsum(probabilities, axis=1)).sum(axis=1)
    return np.minimum(groups, len(GROUP_NAMES) - 1).astype(np.int64)


def group_latent(waves: tuple[int, ...], groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The latent base (families × dimensions) and the per-wave multipliers (families × waves)."""
    base = _intercepts()[None, :] + group_levels()[groups][:, None]
    return base, group_profiles(waves)[groups]


def group_wave_shifts(
    ctx: Context, base: np.ndarray, modifier: np.ndarray, *, calibration: str
) -> tuple[dict[int, float], dict[str, Any] | None]:
    """The latent wave shifts with trajectory groups, solved as ``calibration`` says.

    ``"sample"``: on the cohort's families (:func:`calibrate_wave_shifts`). ``"reference"``: on
    the population, which is exact here: a family's expected index depends on its group only,
    so the population is one row per group weighted by :func:`planted_shares`.

    Returns
    -------
    shifts : dict
    truth : dict or None
        With ``"reference"``, what ``truth.json`` records under ``isolation.wave_shift_calibration``.
    """
    if calibration == "sample":
        return calibrate_wave_shifts(base, modifier, ctx.waves), None
    rows = np.arange(len(GROUP_NAMES))
    population_base, population_modifier = group_latent(ctx.waves, rows)
    shifts = solve_wave_shifts(population_base, population_modifier, ctx.waves, row_weights=planted_shares())
    truth = {
        "method": "reference",
        "note": (
            "latent wave shifts solved on the population of families with trajectory groups: one row per group "
            "weighted by its planted share (exact, no Monte Carlo: a family's expected index depends on its group "
            "only); this cohort's expected change varies around it with its group shares"
        ),
        "population_group_shares": dict(zip(GROUP_NAMES, (round(float(s), 6) for s in planted_shares()))),
        "population_target_mean_index_change_by_wave": {str(m): round_or_none(target_change(m)) for m in ctx.waves},
        "cohort_expected_mean_index_change_by_wave": {
            str(m): round_or_none(v) for m, v in expected_change(base, modifier, shifts).items()
        },
    }
    return shifts, truth


def expected_group_means(ctx: Context, shifts: dict[int, float]) -> np.ndarray:
    """Expected isolation index of each group (rows) at each wave (columns), noise integrated out.

    Notes
    -----
    The index of a family of group ``g`` at wave ``w`` has expectation
    ``100 / (S sum_d v_d) sum_d v_d sum_k Phi((a_d + L_g + delta_w c_d M_g(w) - k_cut) / s)``
    (index weights ``v_d``, maximum score ``S``, occasion SD ``s``), the same for every member:
    exact, no Monte Carlo. It is the index of the complete scores (every dimension answered).
    """
    dimensions = list(ISOLATION_DIMENSIONS)
    index_weights = np.array([float(ctx.isolation["weights"][d]) for d in dimensions])
    rows = np.arange(len(GROUP_NAMES))
    base, modifier = group_latent(ctx.waves, rows)
    sd = ISOLATION_NOISE["occasion_sd"]
    means = np.empty((len(GROUP_NAMES), len(ctx.waves)))
    for position, months in enumerate(ctx.waves):
        location = base + shifts[months] * modifier[:, position][:, None] * _wave_weights()[None, :]
        scores = sum(special.ndtr((location - cut) / sd) for cut in ISOLATION_CUTS)
        means[:, position] = 100.0 * (scores @ index_weights) / (index_weights.sum() * float(ctx.isolation["max_score"]))
    return means


def trajectory_groups_truth(
    ctx: Context,
    families: pd.DataFrame,
    assessments: pd.DataFrame,
    groups: np.ndarray,
    probabilities: np.ndarray,
    shifts: dict[int, float],
) -> dict[str, Any]:
    """The ``trajectory_groups`` part of ``truth.json``: the planted groups, their shares
    (planted, expected given the cohort's territories, realised), their expected and
    complete-data means by wave, and each family's group keyed by its REDCap record id."""
    expected = expected_group_means(ctx, shifts)
    shares = planted_shares(float(families["isolated_at_contact"].mean()) if len(families) else ISOLATED_AT_CONTACT_SHARE)
    family_group = groups[assessments["family_index"].to_numpy()]
    levels = group_levels()
    described = {}
    for g, (name, spec) in enumerate(TRAJECTORY_GROUPS.items()):
        rows = assessments.loc[family_group == g]
        described[name] = {
            **spec,
            "latent_level": round_or_none(float(levels[g])),
            "membership_probability": {status: probabilities[name] for status, probabilities in MEMBERSHIP.items()},
            "planted_share": round_or_none(float(shares[g])),
            "cohort_expected_share": round_or_none(float(probabilities[:, g].mean())) if len(groups) else None,
            "families": int((groups == g).sum()),
            "realised_share": round_or_none(float((groups == g).mean())) if len(groups) else None,
            "expected_mean_index_by_wave": {str(m): round_or_none(float(v)) for m, v in zip(ctx.waves, expected[g])},
            "complete_data_mean_index_by_wave": {
                str(k): round_or_none(v) for k, v in rows.groupby("wave")["complete_index"].mean().items()
            },
        }
    return {
        "model": MODEL,
        "groups": described,
        "planted_share": "expected share given this cohort's share isolated at contact (territories average out)",
        "cohort_expected_share": "mean of this cohort's families' probabilities of the group (given their territories)",
        "expected_means": (
            "exact expectation of the complete-data index of a group's family at each wave under this cohort's "
            "latent wave shifts, occasion noise integrated out (the calibration's formula; no Monte Carlo)"
        ),
        "membership_by_record_id": {
            str(record): int(groups[i]) + 1 for i, record in enumerate(families["record_num"].to_numpy())
        },
    }

"""Wave assessments of the synthetic cohort: isolation grid, resources used and Likert items.

Complete data (every family at every wave) before attrition; see :mod:`._attrition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._isolation import (
    ISOLATION_CUTS,
    ISOLATION_DIMENSIONS,
    ISOLATION_NOISE,
    ITEM_MISSING,
    LIKERT_ITEM_MISSING,
    isolation_base,
    wave_fraction,
    wave_modifier,
    wave_shifts,
)
from proximite.cohort.sandbox._isolation_truth import isolation_truth
from proximite.cohort.sandbox._trajectory_groups import (
    MODEL as GROUP_MODEL,
    draw_groups,
    group_latent,
    group_wave_shifts,
    membership_probabilities,
    trajectory_groups_truth,
)
from proximite.cohort.sandbox._sampling import add_months, stream, top_k_mask

RESOURCE_WEIGHTS = {
    "ocf": 0.18,
    "cpsc": 0.05,
    "aide_alimentaire": 0.16,
    "halte_garderie": 0.10,
    "clsc": 0.14,
    "bibliotheque_loisirs": 0.08,
    "francisation": 0.05,
    "friperie": 0.09,
    "groupe_parents": 0.10,
    "autre_ressource": 0.05,
}


def _resource_count_bands(isolation: dict[str, Any], n_types: int) -> dict[int, tuple[int, int]]:
    """Range of resources used (inclusive) that gives each non_recours score, from the config bands."""
    bands = [(int(upper), int(score)) for upper, score in isolation["non_recours_bands"]]
    ranges: dict[int, tuple[int, int]] = {}
    lower = 0
    for upper, score in bands:
        ranges[score] = (lower, upper)
        lower = upper + 1
    ranges[int(isolation["non_recours_above"])] = (lower, n_types)
    return ranges


def make_assessments(
    ctx: Context, families: pd.DataFrame, *, calibration: str = "sample", trajectory_groups: bool = False
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Complete-data assessments: one row per family and wave, before attrition.

    ``calibration`` (:data:`._isolation.WAVE_SHIFT_CALIBRATIONS`): the latent wave shifts are solved on
    these families (``"sample"``) or on the reference population (``"reference"``, see
    :func:`._isolation.reference_calibration`); the random draws are the same either way.
    ``trajectory_groups``: the isolation latent is each family's planted group's
    (:mod:`._trajectory_groups`; the groups are drawn from a stream of their own, so the
    families and children are those of the default cohort, while the scores and what is drawn
    after them differ); the truth then has a ``trajectory_groups`` part.

    Returns
    -------
    assessments : DataFrame
        ``family_index``, ``record_num``, ``wave``, ``wave_position``, ``due`` (day), the six
        complete scores (``score_<dimension>``), the answered flags (``answered_<dimension>``),
        ``resources_used`` and one ``resource_<code>`` flag per resource type, the Likert items
        (``pa_1``.. ``stress_4``, ``satisf_*``; 0 when unanswered or not asked) and
        ``complete_index`` (index from the complete scores).
    truth : dict
        Planted parameters and the complete-data means per wave.

    Notes
    -----
    Latent ``y_{f,d,w} = a_d + b_d s_f + g_d I_f + x_{f,d} + u_t + e_{f,d} + delta_w w_d h_f + eps``
    with severity ``s``, isolated-at-contact ``I``, covariates ``x`` (rural transport, language,
    single parent), territory ``u_t ~ N(0, 0.25^2)``, family-dimension ``e ~ N(0, 0.35^2)``,
    occasion ``eps ~ N(0, 0.55^2)``, effect heterogeneity ``h_f = (1 + v_t)(1 + b_f)`` clipped at
    0. Score = number of cuts (-0.75, 0.05, 0.85) below ``y``. ``non_recours`` is written as the
    resources ticked in ``ressources_3m``: score 3 -> none (``aucune``), 2 -> 1, 1 -> 2–3,
    0 -> 4 or more, which the DESIGN bands turn back into the same score. With trajectory
    groups the latent is ``a_d + L_g + delta_w w_d M_g(w) + eps`` instead
    (:mod:`._trajectory_groups`); the Likert items keep ``h_f``.
    Empowerment items: ``round(3.1 - 0.45 s + 0.3 a_f + 0.55 F(m) h_f + N(0, 0.75^2))``; stress
    items ``round(3.3 + 0.4 s + 0.3 c_f - 0.4 F(m) h_f + N(0, 0.75^2))``; satisfaction (after T0)
    ``round(4.2 + 0.3 F(m) + 0.3 q_f + N(0, 0.65^2))``, all clipped to 1–5, with
    ``F(m) = 1 - exp(-m / 10)``.
    """
    rng = stream(ctx.seed, "assessments")
    base, modifier, effects = isolation_base(ctx, families, rng)
    groups, probabilities = None, None
    if trajectory_groups:
        probabilities = membership_probabilities(families, effects["territory_wave_effect_multiplier"])
        groups = draw_groups(ctx, probabilities)
        latent_base, latent_modifier = group_latent(ctx.waves, groups)
        shifts, calibration_truth = group_wave_shifts(ctx, latent_base, latent_modifier, calibration=calibration)
    else:
        latent_base, latent_modifier = base, modifier
        shifts, calibration_truth = wave_shifts(ctx, base, modifier, calibration=calibration)
    latent = _Latent(base=latent_base, modifier=latent_modifier, shifts=shifts, likert_modifier=modifier)
    n = len(families)
    # Drawn in this order after the latent base: empowerment, stress, satisfaction.
    traits = _Traits(
        severity=families["severity"].to_numpy(),
        empowerment=rng.standard_normal(n),
        stress=rng.standard_normal(n),
        satisfaction=rng.standard_normal(n),
    )
    resources = _ResourceModel.from_context(ctx)
    t0 = families["first_contact"].to_numpy() + families["t0_offset"].to_numpy()
    frames = [
        _wave_frame(ctx, families, rng, position, months, t0, latent, traits, resources)
        for position, months in enumerate(ctx.waves)
    ]
    assessments = pd.concat(frames, ignore_index=True)
    assessments = assessments.sort_values(["family_index", "wave_position"], kind="stable").reset_index(drop=True)
    assessments["complete_index"] = _complete_index(ctx, assessments)

    truth = isolation_truth(ctx, families, assessments, shifts, effects)
    if calibration_truth is not None:
        # Only with "reference": the default writes the same truth.json as before the option.
        truth["wave_shift_calibration"] = calibration_truth
    if groups is not None and probabilities is not None:
        truth["model"] = f"with trajectory groups (truth.trajectory_groups): {GROUP_MODEL}"
        truth["trajectory_groups"] = trajectory_groups_truth(ctx, families, assessments, groups, probabilities, shifts)
    return assessments, truth


@dataclass(frozen=True)
class _Latent:
    """The isolation latent's family means, wave-effect multipliers (one per family, or one per
    family and wave with trajectory groups) and wave shifts; the Likert items' multipliers."""

    base: np.ndarray
    modifier: np.ndarray
    shifts: dict[int, float]
    likert_modifier: np.ndarray


@dataclass(frozen=True)
class _Traits:
    """Per-family terms of the Likert items: severity and the three latent traits."""

    severity: np.ndarray
    empowerment: np.ndarray
    stress: np.ndarray
    satisfaction: np.ndarray


@dataclass(frozen=True)
class _ResourceModel:
    """Resource types (``aucune`` excepted), their log weights and the non_recours bands."""

    codes: list[str]
    log_weights: np.ndarray
    francisation: int
    bands: dict[int, tuple[int, int]]
    above: int

    @classmethod
    def from_context(cls, ctx: Context) -> _ResourceModel:
        codes = [code for code in ctx.codebook.codes("resource_type") if code != "aucune"]
        return cls(
            codes=codes,
            log_weights=np.log([RESOURCE_WEIGHTS[code] for code in codes]),
            francisation=codes.index("francisation"),
            bands=_resource_count_bands(ctx.isolation, len(codes)),
            above=int(ctx.isolation["non_recours_above"]),
        )


def _wave_frame(
    ctx: Context,
    families: pd.DataFrame,
    rng: np.random.Generator,
    position: int,
    months: int,
    t0: np.ndarray,
    latent: _Latent,
    traits: _Traits,
    resources: _ResourceModel,
) -> pd.DataFrame:
    """Every family's assessment at one wave (the draws in the stream's order)."""
    n = len(families)
    dimensions = list(ctx.isolation["dimensions"])
    due = _due_days(rng, t0, months)
    scores, answered = _wave_scores(
        rng, dimensions, latent.base, wave_modifier(latent.modifier, position), latent.shifts[months]
    )
    count, used = _resources_used(rng, resources, scores[:, dimensions.index("non_recours")], families)
    frame: dict[str, np.ndarray] = {
        "family_index": np.arange(n),
        "record_num": families["record_num"].to_numpy(),
        "wave": np.full(n, months, dtype=np.int64),
        "wave_position": np.full(n, position, dtype=np.int64),
        "due": due.astype(np.int64),
        "resources_used": count,
    }
    for j, dimension in enumerate(dimensions):
        frame[f"score_{dimension}"] = scores[:, j]
        frame[f"answered_{dimension}"] = answered[:, j]
    for k, code in enumerate(resources.codes):
        frame[f"resource_{code}"] = used[:, k]
    frame["resource_aucune"] = count == 0
    frame.update(_likert_items(rng, traits, months, latent.likert_modifier))
    return pd.DataFrame(frame)


def _due_days(rng: np.random.Generator, t0: np.ndarray, months: int) -> np.ndarray:
    """Due day of the wave: T0 itself, or T0 + months with a N(0, 12^2) jitter clipped to ±45 days."""
    if months == 0:
        return t0.copy()
    jitter = np.clip(np.round(12 * rng.standard_normal(len(t0))), -45, 45).astype(np.int64)
    return add_months(t0, months) + jitter


def _wave_scores(
    rng: np.random.Generator, dimensions: list[str], base: np.ndarray, modifier: np.ndarray, shift: float
) -> tuple[np.ndarray, np.ndarray]:
    """The 0–3 scores of each dimension (latent cut at the cut points) and which were answered."""
    n = len(base)
    effect_weights = np.array([ISOLATION_DIMENSIONS[d]["wave_effect"] for d in dimensions])
    latent = base + shift * modifier[:, None] * effect_weights[None, :]
    latent = latent + ISOLATION_NOISE["occasion_sd"] * rng.standard_normal((n, len(dimensions)))
    scores = sum((latent > cut).astype(np.int64) for cut in ISOLATION_CUTS)
    answered = np.ones((n, len(dimensions)), dtype=bool)
    for j, dimension in enumerate(dimensions):
        if dimension in ITEM_MISSING:
            answered[:, j] = rng.random(n) >= ITEM_MISSING[dimension]
    return scores, answered


def _resources_used(
    rng: np.random.Generator, resources: _ResourceModel, non_recours: np.ndarray, families: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """How many resources each family used (the band of its non_recours score) and which ones."""
    n = len(non_recours)
    count = np.zeros(n, dtype=np.int64)
    for score, (low, high) in resources.bands.items():
        rows = non_recours == score
        if high == low:
            count[rows] = low
        elif score == resources.above:
            # "4 or more": mostly 4 to 6.
            count[rows] = np.minimum(low + rng.binomial(high - low, 0.2, int(rows.sum())), high)
        else:
            count[rows] = rng.integers(low, high + 1, int(rows.sum()))
    log_weights = np.repeat(resources.log_weights[None, :], n, axis=0)
    log_weights[families["immigrant"].to_numpy(), resources.francisation] += np.log(4.0)
    return count, top_k_mask(rng, log_weights, count)


def _likert_items(
    rng: np.random.Generator, traits: _Traits, months: int, modifier: np.ndarray
) -> dict[str, np.ndarray]:
    """Empowerment (``pa_*``), stress and, after T0, satisfaction items (0: not asked)."""
    n = len(modifier)
    severity = traits.severity
    fraction = float(wave_fraction(months))
    items: dict[str, np.ndarray] = {}
    for item in range(1, 5):
        value = (
            3.1
            - 0.45 * severity
            + 0.3 * traits.empowerment
            + 0.55 * fraction * modifier
            + 0.75 * rng.standard_normal(n)
        )
        items[f"pa_{item}"] = _likert(value, rng)
    for item in range(1, 5):
        value = 3.3 + 0.4 * severity + 0.3 * traits.stress - 0.4 * fraction * modifier + 0.75 * rng.standard_normal(n)
        items[f"stress_{item}"] = _likert(value, rng)
    for item in ("satisf_relation", "satisf_aide", "satisf_recommande"):
        # Drawn at T0 too (and dropped), so the stream is the same whatever the waves.
        value = 4.2 + 0.3 * fraction + 0.3 * traits.satisfaction + 0.65 * rng.standard_normal(n)
        items[item] = _likert(value, rng) if months > 0 else np.zeros(n, dtype=np.int64)
    return items


def _complete_index(ctx: Context, assessments: pd.DataFrame) -> np.ndarray:
    """Isolation index (0–100) from the complete scores: weighted mean score over the maximum."""
    dimensions = list(ctx.isolation["dimensions"])
    score_columns = [f"score_{d}" for d in dimensions]
    weights = np.array([float(ctx.isolation["weights"][d]) for d in dimensions])
    max_score = float(ctx.isolation["max_score"])
    return 100.0 * (assessments[score_columns].to_numpy() * weights).sum(axis=1) / (weights.sum() * max_score)


def _likert(value: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round to a 1–5 Likert answer; about 2 % left unanswered (0)."""
    answer = np.clip(np.round(value), 1, 5).astype(np.int64)
    answer[rng.random(len(value)) < LIKERT_ITEM_MISSING] = 0
    return answer

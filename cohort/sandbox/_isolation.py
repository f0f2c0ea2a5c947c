"""The latent isolation model and the calibration of its wave shifts.

The wave shift of each wave is solved so that the mean isolation index changes by the planted
``-20 (1 - exp(-months / 10))`` points from T0, either on the cohort's own families or once on
a fixed reference population drawn by the same process.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._families import make_families
from proximite.cohort.sandbox._sampling import round_or_none, stream
from proximite.cohort.sandbox.geography import make_territories

# ---------------------------------------------------------------------------------------------
# The isolation grid
# ---------------------------------------------------------------------------------------------
#: Latent model per dimension: intercept, loading on severity, shift when isolated at contact,
#: multiplier of the wave effect. Scores are the latent cut at ``ISOLATION_CUTS``.
ISOLATION_DIMENSIONS: dict[str, dict[str, float]] = {
    "non_recours": {"intercept": -0.65, "severity": 0.45, "isolated_at_contact": 1.50, "wave_effect": 1.5},
    "transport": {"intercept": -0.20, "severity": 0.45, "isolated_at_contact": 0.20, "wave_effect": 0.8},
    "contraintes_economiques": {"intercept": 0.35, "severity": 0.55, "isolated_at_contact": 0.20, "wave_effect": 0.6},
    "reseau_soutien": {"intercept": 0.10, "severity": 0.55, "isolated_at_contact": 0.35, "wave_effect": 1.1},
    "barrieres_linguistiques_culturelles": {
        "intercept": -0.60,
        "severity": 0.30,
        "isolated_at_contact": 0.10,
        "wave_effect": 0.9,
    },
    "mefiance_institutions": {"intercept": -0.35, "severity": 0.45, "isolated_at_contact": 0.30, "wave_effect": 1.0},
}
ISOLATION_CUTS = (-0.75, 0.05, 0.85)
ISOLATION_NOISE = {"family_dimension_sd": 0.35, "occasion_sd": 0.55, "territory_sd": 0.25}
#: Covariate shifts of the latent: rural transport, language barriers, single parents.
ISOLATION_COVARIATES = {
    "transport_by_environment": {"urbain": -0.20, "mixte": 0.25, "rural": 0.60},
    "barrieres_non_francophone": 1.20,
    "barrieres_immigrant_francophone": 0.40,
    "reseau_soutien_single_parent": 0.30,
    "contraintes_single_parent": 0.20,
}
#: Target mean change of the isolation index from T0 (points): -20 (1 - exp(-months / 10)),
#: i.e. about -9, -14 and -18 at T6, T12 and T24.
WAVE_EFFECT_POINTS = {"asymptote": -20.0, "time_constant_months": 10.0}
#: Heterogeneity of the wave effect: multiplier (1 + v_territory)(1 + b_family), clipped at 0.
WAVE_EFFECT_HETEROGENEITY = {"territory_sd": 0.30, "family_sd": 0.40}
#: How the latent wave shifts are solved: on the cohort's own families (``"sample"``, the
#: default: every cohort's expected change is the planted one exactly) or once on a fixed
#: reference population drawn by the same process (``"reference"``: the planted change is a
#: population parameter and each cohort's expected change varies around it).
WAVE_SHIFT_CALIBRATIONS = ("sample", "reference")
#: The reference population of ``calibration="reference"``: ``blocks`` cohorts of
#: ``families_per_block`` families, each with the cohort's number of territories drawn afresh
#: (:func:`make_territories`), cohort ``b`` from seed ``seed + b`` (independent of any cohort's
#: seed). Many blocks, because the territories' wave-effect multipliers (SD 0.30) are what varies
#: most between cohorts: 2,000 blocks of 14 territories leave a Monte Carlo error of about 0.04
#: point on the T24 change.
REFERENCE_POPULATION = {"seed": 2**40, "blocks": 2000, "families_per_block": 100}

#: Probability that an isolation item is left unanswered at a wave.
ITEM_MISSING = {
    "transport": 0.03,
    "contraintes_economiques": 0.03,
    "reseau_soutien": 0.03,
    "barrieres_linguistiques_culturelles": 0.04,
    "mefiance_institutions": 0.06,
}
#: Probability that a Likert item (empowerment, stress, satisfaction) is left unanswered.
LIKERT_ITEM_MISSING = 0.02


def wave_fraction(months: np.ndarray | float) -> np.ndarray:
    """Share of the asymptotic wave effect reached after ``months``: ``1 - exp(-months / 10)``."""
    return 1.0 - np.exp(-np.asarray(months, dtype=float) / WAVE_EFFECT_POINTS["time_constant_months"])


def target_change(months: int) -> float:
    """Planted mean change of the isolation index from T0 at ``months`` (points)."""
    return WAVE_EFFECT_POINTS["asymptote"] * float(wave_fraction(months))


def wave_shifts(
    ctx: Context, base: np.ndarray, modifier: np.ndarray, *, calibration: str = "sample"
) -> tuple[dict[int, float], dict[str, Any] | None]:
    """Latent shift of each wave, solved as ``calibration`` says (:data:`WAVE_SHIFT_CALIBRATIONS`).

    Parameters
    ----------
    ctx : Context
    base, modifier : ndarray
        The cohort's latent means and wave-effect multipliers (:func:`isolation_base`).
    calibration : {"sample", "reference"}, keyword-only
        On these families (:func:`calibrate_wave_shifts`) or on the reference population
        (:func:`reference_calibration`).

    Returns
    -------
    shifts : dict
        Wave month -> latent shift.
    truth : dict or None
        With ``"reference"``: what ``truth.json`` records under
        ``isolation.wave_shift_calibration``; None with ``"sample"``.
    """
    if calibration == "sample":
        return calibrate_wave_shifts(base, modifier, ctx.waves), None
    if calibration != "reference":
        raise ValueError(f"calibration must be one of {', '.join(WAVE_SHIFT_CALIBRATIONS)} (got {calibration!r})")
    reference = reference_calibration(ctx)
    shifts = dict(reference["shifts"])
    truth = {
        "method": "reference",
        "note": (
            "latent wave shifts solved once on a fixed reference population drawn by the same process; "
            "target_mean_index_change.by_wave is its (population) expected change, and this cohort's "
            "expected change varies around it"
        ),
        "reference_population": {
            **REFERENCE_POPULATION,
            "territories_per_block": ctx.n_territories,
            "families": reference["families"],
            "territories": reference["territories"],
        },
        "population_target_mean_index_change_by_wave": {str(m): round_or_none(target_change(m)) for m in ctx.waves},
        "cohort_expected_mean_index_change_by_wave": {
            str(m): round_or_none(v) for m, v in expected_change(base, modifier, shifts).items()
        },
    }
    return shifts, truth


def isolation_base(
    ctx: Context, families: pd.DataFrame, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Latent mean of each family on each dimension (before the wave effect and occasion noise)."""
    n = len(families)
    dimensions = list(ctx.isolation["dimensions"])
    territory_effect = ISOLATION_NOISE["territory_sd"] * rng.standard_normal(ctx.n_territories)
    territory_index = families["territory_index"].to_numpy()
    severity = families["severity"].to_numpy()
    isolated = families["isolated_at_contact"].to_numpy().astype(float)
    environment = families["environment"].to_numpy(dtype=object)
    non_francophone = (families["language"].to_numpy(dtype=object) != "francais").astype(float)
    immigrant_francophone = (families["immigrant"].to_numpy() & (non_francophone == 0)).astype(float)
    single = families["single_parent"].to_numpy().astype(float)
    base = np.empty((n, len(dimensions)))
    for j, dimension in enumerate(dimensions):
        params = ISOLATION_DIMENSIONS[dimension]
        column = params["intercept"] + params["severity"] * severity + params["isolated_at_contact"] * isolated
        if dimension == "transport":
            column = column + pd.Series(environment).map(ISOLATION_COVARIATES["transport_by_environment"]).to_numpy(
                dtype=float
            )
        elif dimension == "barrieres_linguistiques_culturelles":
            column = column + ISOLATION_COVARIATES["barrieres_non_francophone"] * non_francophone
            column = column + ISOLATION_COVARIATES["barrieres_immigrant_francophone"] * immigrant_francophone
        elif dimension == "reseau_soutien":
            column = column + ISOLATION_COVARIATES["reseau_soutien_single_parent"] * single
        elif dimension == "contraintes_economiques":
            column = column + ISOLATION_COVARIATES["contraintes_single_parent"] * single
        base[:, j] = column
    base += ISOLATION_NOISE["family_dimension_sd"] * rng.standard_normal((n, len(dimensions)))
    base += territory_effect[territory_index][:, None]
    territory_modifier = np.maximum(
        1 + WAVE_EFFECT_HETEROGENEITY["territory_sd"] * rng.standard_normal(ctx.n_territories), 0.0
    )
    family_modifier = np.maximum(1 + WAVE_EFFECT_HETEROGENEITY["family_sd"] * rng.standard_normal(n), 0.0)
    modifier = territory_modifier[territory_index] * family_modifier
    effects = {
        "territory_effect": territory_effect,
        "territory_wave_effect_multiplier": territory_modifier,
    }
    return base, modifier, effects


def wave_modifier(modifier: np.ndarray, position: int) -> np.ndarray:
    """The wave-effect multipliers at the wave in ``position``: ``modifier`` itself when it is one
    per family, its column ``position`` when it is one per family and wave (trajectory groups)."""
    return modifier if modifier.ndim == 1 else modifier[:, position]


def expected_index(
    base: np.ndarray,
    shift: float,
    modifier: np.ndarray,
    weights: np.ndarray,
    row_weights: np.ndarray | None = None,
) -> float:
    """Expected mean isolation index given a latent shift (occasion noise integrated out).

    ``row_weights`` (default: equal) weight the rows' expected indices, so a population of a few
    kinds of families can be given as one row per kind and its share.
    """
    sd = ISOLATION_NOISE["occasion_sd"]
    location = base + shift * modifier[:, None] * weights[None, :]
    expected_score = sum(special.ndtr((location - cut) / sd) for cut in ISOLATION_CUTS)
    if row_weights is None:
        return float(100.0 * expected_score.mean() / 3.0)
    return float(100.0 * np.average(expected_score.mean(axis=1), weights=row_weights) / 3.0)


def calibrate_wave_shifts(base: np.ndarray, modifier: np.ndarray, waves: tuple[int, ...]) -> dict[int, float]:
    """Latent shift of each wave that gives the target mean index change (bisection).

    Notes
    -----
    With ``y = m + delta w_d h + e``, ``e ~ N(0, s^2)``, the expected index is
    ``100 / (3 D) sum_d sum_k Phi((m + delta w_d h - c_k) / s)``, monotone in ``delta``; the
    shift is solved so that its mean over the families equals the T0 mean plus
    ``-20 (1 - exp(-months / 10))``. Calibrated on the generated families themselves (at most
    10,000 of them), so the realised change is on target at any scale. ``modifier`` is one
    multiplier per family, or one per family and wave (columns in ``waves`` order, see
    :func:`wave_modifier`).
    """
    sample = slice(0, min(len(base), 10_000))
    base_sample, modifier_sample = base[sample], modifier[sample]
    weights = np.array([ISOLATION_DIMENSIONS[d]["wave_effect"] for d in ISOLATION_DIMENSIONS])
    baseline = expected_index(base_sample, 0.0, wave_modifier(modifier_sample, 0), weights)
    shifts: dict[int, float] = {}
    for position, months in enumerate(waves):
        if months == 0 or len(base_sample) == 0:
            shifts[months] = 0.0
            continue
        target = baseline + target_change(months)
        at_wave = wave_modifier(modifier_sample, position)
        low, high = -6.0, 0.0
        for _ in range(32):
            middle = (low + high) / 2
            if expected_index(base_sample, middle, at_wave, weights) > target:
                high = middle
            else:
                low = middle
        shifts[months] = (low + high) / 2
    return shifts


_REFERENCE_CACHE: dict[tuple[Any, ...], dict[str, Any]] = {}


def reference_calibration(ctx: Context) -> dict[str, Any]:
    """Wave shifts solved once on the reference population (:data:`REFERENCE_POPULATION`).

    Notes
    -----
    The reference is ``blocks`` cohorts drawn by the generator's own process, each with
    ``ctx.n_territories`` territories (:func:`make_territories`), ``families_per_block``
    families (:func:`make_families`: severity, the isolated-at-contact rule, covariates) and
    the latent isolation model (:func:`isolation_base`: territory random effects, territory
    and family wave-effect multipliers), block ``b`` from the seed ``seed + b``. The shifts are
    solved on all of its families together, so the planted change is the expected change of
    the population of cohorts of this design, not of one cohort. Cached per process by the
    number of territories, the waves and the isolation dimensions.

    Returns
    -------
    dict
        ``shifts`` (month -> latent shift), ``families`` and ``territories`` (drawn in all).
    """
    dimensions = tuple(ctx.isolation["dimensions"])
    key = (ctx.n_territories, tuple(ctx.waves), dimensions, ctx.recruitment_start, ctx.recruitment_end)
    if key not in _REFERENCE_CACHE:
        seed = int(REFERENCE_POPULATION["seed"])
        bases, modifiers = [], []
        for block in range(int(REFERENCE_POPULATION["blocks"])):
            block_seed = seed + block
            block_ctx = dataclasses.replace(
                ctx, seed=block_seed, territories=make_territories(ctx.n_territories, seed=block_seed)
            )
            block_families = make_families(block_ctx, int(REFERENCE_POPULATION["families_per_block"]))
            base, modifier, _ = isolation_base(block_ctx, block_families, stream(block_seed, "assessments"))
            bases.append(base)
            modifiers.append(modifier)
        base, modifier = np.concatenate(bases), np.concatenate(modifiers)
        _REFERENCE_CACHE[key] = {
            "shifts": solve_wave_shifts(base, modifier, tuple(ctx.waves)),
            "families": len(base),
            "territories": int(REFERENCE_POPULATION["blocks"]) * ctx.n_territories,
        }
    return _REFERENCE_CACHE[key]


def solve_wave_shifts(
    base: np.ndarray, modifier: np.ndarray, waves: tuple[int, ...], row_weights: np.ndarray | None = None
) -> dict[int, float]:
    """The shifts of :func:`calibrate_wave_shifts` on all of ``base`` (rows weighted by
    ``row_weights``, default equally), by Brent's method (a dozen evaluations of the expected
    index per wave instead of 32: the reference is large)."""
    from scipy import optimize

    weights = np.array([ISOLATION_DIMENSIONS[d]["wave_effect"] for d in ISOLATION_DIMENSIONS])
    baseline = expected_index(base, 0.0, wave_modifier(modifier, 0), weights, row_weights)
    shifts: dict[int, float] = {}
    for position, months in enumerate(waves):
        if months == 0 or len(base) == 0:
            shifts[months] = 0.0
            continue
        target = baseline + target_change(months)
        at_wave = wave_modifier(modifier, position)
        shifts[months] = float(
            optimize.brentq(
                lambda shift, goal=target: expected_index(base, shift, at_wave, weights, row_weights) - goal,
                -6.0,
                0.0,
                xtol=1e-10,
            )
        )
    return shifts


def expected_change(base: np.ndarray, modifier: np.ndarray, shifts: dict[int, float]) -> dict[int, float]:
    """Expected mean index change from T0 of these families under ``shifts`` (noise integrated
    out); a per-wave ``modifier`` has its columns in the order of ``shifts``."""
    weights = np.array([ISOLATION_DIMENSIONS[d]["wave_effect"] for d in ISOLATION_DIMENSIONS])
    baseline = expected_index(base, 0.0, wave_modifier(modifier, 0), weights)
    return {
        months: expected_index(base, shift, wave_modifier(modifier, position), weights) - baseline
        for position, (months, shift) in enumerate(shifts.items())
    }


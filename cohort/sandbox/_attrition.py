"""Attrition and exits of the synthetic cohort: who answers each wave, who leaves and when."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from proximite.cohort.sandbox._context import Context
from proximite.cohort.sandbox._sampling import NO_DATE, categorical, round_or_none, stream

# ---------------------------------------------------------------------------------------------
# Attrition and exits
# ---------------------------------------------------------------------------------------------
#: logit P(drop out before wave k | present at the previous wave) = alpha_k + beta z, with
#: z = (T0 isolation index - 50) / 10 (complete data).
ATTRITION = {
    "base_dropout": {6: 0.09, 12: 0.08, 24: 0.12},
    "base_dropout_per_month_other": 0.018,
    "beta_per_10_points": 0.30,
}
INTERMITTENT_MISS = 0.04
COMPLETER_EXIT_PROBABILITY = 0.35
COMPLETER_EXIT_REASONS = {
    "objectifs_atteints": 0.70,
    "services_autre_organisme": 0.15,
    "demenagement": 0.10,
    "autre": 0.05,
}


def apply_attrition(
    ctx: Context, families: pd.DataFrame, assessments: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Decide who answers each wave and who leaves the accompaniment (sortie).

    Returns
    -------
    assessments : DataFrame
        With ``responded`` (bool) added.
    families : DataFrame
        With ``exit_date`` (day or NO_DATE), ``exit_reason`` (code or ""), ``dropout_wave``
        (first wave missed for good, -1 if none) and ``accompaniment_end`` (day).
    truth : dict

    Notes
    -----
    Monotone dropout: ``logit P(drop before wave k | present at wave k-1) = alpha_k + beta z``
    with ``z = (complete T0 index - 50) / 10``, ``alpha_k = logit(base_k)``; the more isolated at
    T0, the likelier to drop. Families still present miss a wave at random with probability
    0.04 (intermittent). A family that drops out leaves the accompaniment with ``perte_contact``
    between its last wave and the wave it misses. 35 % of the others leave with another reason
    (goals reached, another organisation, moved, other) after T0 + 120 days and keep answering
    the research waves. The accompaniment ends at the exit, else at the last due wave.
    """
    rng = stream(ctx.seed, "attrition")
    n, waves = len(families), ctx.waves
    wide_due = assessments["due"].to_numpy().reshape(n, len(waves))
    t0_index = assessments["complete_index"].to_numpy().reshape(n, len(waves))[:, 0]
    alive, alphas = _stay_in_study(rng, waves, t0_index)
    intermittent = rng.random((n, len(waves))) < INTERMITTENT_MISS
    intermittent[:, 0] = False
    responded = alive & ~intermittent
    exit_date, exit_reason, dropout_position = _exits(rng, alive, wide_due)
    dropped = ~alive[:, -1]

    assessments = assessments.assign(responded=responded.reshape(-1))
    families = families.assign(
        exit_date=exit_date,
        exit_reason=exit_reason,
        dropout_wave=np.where(dropped, np.asarray(waves)[np.maximum(dropout_position, 0)], -1),
        accompaniment_end=np.where(exit_date != NO_DATE, exit_date, wide_due[:, -1]),
        t0_complete_index=t0_index,
    )
    return assessments, families, _attrition_truth(ctx, families, responded, alphas, int(dropped.sum()))


def _stay_in_study(
    rng: np.random.Generator, waves: tuple[int, ...], t0_index: np.ndarray
) -> tuple[np.ndarray, dict[str, float | None]]:
    """Who is still in the study at each wave (monotone dropout), and the ``alpha_k`` used."""
    n = len(t0_index)
    z = (t0_index - 50.0) / 10.0
    beta = ATTRITION["beta_per_10_points"]
    alive = np.ones((n, len(waves)), dtype=bool)
    alphas: dict[str, float | None] = {}
    previous_months = 0
    for position, months in enumerate(waves):
        if position == 0:
            previous_months = months
            continue
        base = ATTRITION["base_dropout"].get(
            months, min(0.5, ATTRITION["base_dropout_per_month_other"] * (months - previous_months))
        )
        alpha = float(np.log(base / (1 - base)))
        alphas[str(months)] = round_or_none(alpha)
        drop = rng.random(n) < special.expit(alpha + beta * z)
        alive[:, position] = alive[:, position - 1] & ~drop
        previous_months = months
    return alive, alphas


def _exits(
    rng: np.random.Generator, alive: np.ndarray, wide_due: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exit day (or NO_DATE), exit reason (or "") and the dropout wave's position (-1 if none)."""
    n, n_waves = alive.shape
    dropped = ~alive[:, -1]
    dropout_position = np.where(dropped, np.argmin(alive, axis=1), -1)
    last_alive_due = wide_due[np.arange(n), np.where(dropped, dropout_position - 1, n_waves - 1)]
    missed_due = wide_due[np.arange(n), np.where(dropped, dropout_position, n_waves - 1)]
    gap = np.maximum(missed_due - last_alive_due, 2)
    dropout_exit = last_alive_due + 1 + np.floor(rng.random(n) * (gap - 1)).astype(np.int64)

    end_of_schedule = wide_due[:, -1]
    completer_exits = ~dropped & (rng.random(n) < COMPLETER_EXIT_PROBABILITY)
    earliest = wide_due[:, 0] + 120
    completer_exit = earliest + np.floor(rng.random(n) * np.maximum(end_of_schedule - earliest, 1)).astype(np.int64)
    reasons = np.array(list(COMPLETER_EXIT_REASONS), dtype=object)[
        categorical(rng, list(COMPLETER_EXIT_REASONS.values()), n)
    ]

    exit_date = np.full(n, NO_DATE, dtype=np.int64)
    exit_reason = np.full(n, "", dtype=object)
    exit_date[dropped] = dropout_exit[dropped]
    exit_reason[dropped] = "perte_contact"
    exit_date[completer_exits] = np.minimum(completer_exit[completer_exits], end_of_schedule[completer_exits])
    exit_reason[completer_exits] = reasons[completer_exits]
    return exit_date, exit_reason, dropout_position


def _attrition_truth(
    ctx: Context, families: pd.DataFrame, responded: np.ndarray, alphas: dict[str, float | None], dropped_out: int
) -> dict[str, Any]:
    """The planted attrition model and the realised response rates by wave and group."""
    n = len(families)
    baseline_isolated = families["t0_complete_index"].to_numpy() >= float(ctx.isolation["isolated_threshold"])
    contact = families["isolated_at_contact"].to_numpy()
    response = {}
    by_status: dict[str, dict[str, float | None]] = {"isolated_at_t0": {}, "not_isolated_at_t0": {}}
    by_contact: dict[str, dict[str, float | None]] = {"isolated_at_contact": {}, "not_isolated_at_contact": {}}
    for position, months in enumerate(ctx.waves):
        response[str(months)] = _response_rate(responded[:, position], np.ones(n, dtype=bool))
        for label, mask in (("isolated_at_t0", baseline_isolated), ("not_isolated_at_t0", ~baseline_isolated)):
            by_status[label][str(months)] = _response_rate(responded[:, position], mask)
        for label, mask in (("isolated_at_contact", contact), ("not_isolated_at_contact", ~contact)):
            by_contact[label][str(months)] = _response_rate(responded[:, position], mask)
    return {
        "model": "logit P(drop out before wave k | present at wave k-1) = alpha_k + beta * (T0 complete index - 50) / 10; monotone",
        "alpha": alphas,
        "base_dropout_probability": {str(k): v for k, v in ATTRITION["base_dropout"].items()},
        "beta_per_10_index_points": ATTRITION["beta_per_10_points"],
        "intermittent_miss_probability": INTERMITTENT_MISS,
        "dropout_exit_reason": "perte_contact",
        "completer_exit_probability": COMPLETER_EXIT_PROBABILITY,
        "completer_exit_reasons": COMPLETER_EXIT_REASONS,
        "realised_response_rate_by_wave": response,
        "realised_response_rate_by_wave_and_t0_isolated": by_status,
        "realised_response_rate_by_wave_and_isolated_at_contact": by_contact,
        "families_dropped_out": dropped_out,
    }


def _response_rate(responded: np.ndarray, mask: np.ndarray) -> float | None:
    """Share of the ``mask`` families who answered (None if there are none)."""
    return round_or_none(float(responded[mask].mean())) if mask.any() else None

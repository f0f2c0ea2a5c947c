"""Small-sample inference for the linear panel models: CR2 or the wild cluster bootstrap.

:class:`~proximite.cohort.models.panel.PanelOLS` and ``PooledOLS`` fit with linearmodels; with
``small_sample="cr2"`` or ``"wild"``, :func:`adjusted_results` recomputes the terms' standard
errors, intervals and p-values from the rows linearmodels used
(:mod:`~proximite.cohort.models.small_sample`). The estimates are linearmodels' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.models.base import ModelError, ModelResults

__all__ = ["SMALL_SAMPLE", "SmallSample", "adjusted_results"]

#: ``small_sample`` options: None (linearmodels' CR1), ``"cr2"`` (Bell–McCaffrey), ``"wild"`` (bootstrap).
SMALL_SAMPLE: tuple[str | None, ...] = (None, "cr2", "wild")
#: linearmodels' names of the constant, which entity effects absorb.
_CONSTANT_TERMS = ("Intercept", "const")


@dataclass(frozen=True)
class SmallSample:
    """A model's small-sample option, checked when the model is made."""

    method: str | None
    draws: int = 999
    bootstrap_weights: str = "webb"
    seed: int = 0
    kind: str = ""

    def __post_init__(self) -> None:
        from proximite.cohort.models.small_sample import WEIGHT_DISTRIBUTIONS

        if self.method not in SMALL_SAMPLE:
            raise ModelError(f"{self.kind}: small_sample must be one of {', '.join(map(repr, SMALL_SAMPLE))}, got {self.method!r}")
        if self.method == "wild" and self.bootstrap_weights not in WEIGHT_DISTRIBUTIONS:
            raise ModelError(f"{self.kind}: bootstrap_weights must be one of {', '.join(WEIGHT_DISTRIBUTIONS)}, got {self.bootstrap_weights!r}")
        if self.method == "wild" and self.draws < 99:
            raise ModelError(f"{self.kind}: draws must be at least 99, got {self.draws}")


def adjusted_results(
    results: ModelResults, native: Any, frame: pd.DataFrame, *, cluster: str | None, inference: SmallSample
) -> ModelResults:
    """``results`` with the terms' inference replaced as ``inference`` asks (unchanged for None).

    With entity effects the constant keeps linearmodels' figures (the effects absorb it). CR2
    puts each term's degrees of freedom in ``statistics["cr2_df"]``; the bootstrap its draws,
    weights and seed in ``statistics["bootstrap"]``.
    """
    if inference.method is None:
        return results
    names, arrays = _regression(native, frame, cluster=cluster)
    try:
        if inference.method == "cr2":
            summary, extra = _cr2_summary(results, names, arrays, cluster=cluster)
        else:
            summary, extra = _wild_summary(results, names, arrays, inference, cluster=cluster)
    except ValueError as error:
        raise ModelError(f"{results.model}: small_sample={inference.method!r}: {error}") from None
    return ModelResults(model=results.model, summary=summary, statistics={**results.statistics, **extra},
                        title=results.title, confidence=results.confidence, native=native)


def _regression(native: Any, frame: pd.DataFrame, *, cluster: str | None) -> tuple[list[str], dict[str, Any]]:
    """The terms and the arrays linearmodels fitted: outcome, design, clusters, entities, weights."""
    model = native.model  # linearmodels dropped the rows with a missing value from its data
    terms = list(model.exog.vars)
    absorbed = bool(getattr(model, "entity_effects", False))
    used = [j for j, term in enumerate(terms) if not (absorbed and term in _CONSTANT_TERMS)]
    entities = model.dependent.entity_ids[:, 0]
    labels = entities if cluster == "family" else frame["territory_id"].reindex(model.dependent.index).to_numpy(dtype=object)
    arrays = {
        "dependent": model.dependent.values2d[:, 0],
        "design": model.exog.values2d[:, used],
        # The labels themselves: the bootstrap draws one weight per cluster in label order, so
        # a seed gives the same intervals whatever the rows' order.
        "clusters": np.asarray(labels).astype(str),
        "entities": entities if absorbed else None,
        "weights": model.weights.values2d[:, 0],
    }
    return [terms[j] for j in used], arrays


def _cr2_summary(
    results: ModelResults, names: list[str], arrays: dict[str, Any], *, cluster: str | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from scipy import stats

    from proximite.cohort.models.small_sample import cr2

    estimate = cr2(**arrays)
    lower, upper = estimate.intervals(results.confidence)
    t = results.summary.loc[names, "estimate"].to_numpy() / estimate.std_errors
    summary = _replaced(results.summary, names, estimate.std_errors, lower, upper, 2 * stats.t.sf(np.abs(t), estimate.df))
    return summary, {"cov_type": f"CR2 (Bell–McCaffrey df) by {cluster}", "cr2_df": dict(zip(names, map(float, estimate.df)))}


def _wild_summary(
    results: ModelResults, names: list[str], arrays: dict[str, Any], inference: SmallSample, *, cluster: str | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from proximite.cohort.models.small_sample import wild_cluster_bootstrap

    # K counts every term of the summary, the absorbed constant too, as linearmodels' CR1 does.
    estimate = wild_cluster_bootstrap(**arrays, draws=inference.draws, distribution=inference.bootstrap_weights,
                                      seed=inference.seed, counted_terms=len(results.summary))
    lower, upper = estimate.intervals(results.confidence)
    summary = _replaced(results.summary, names, estimate.std_errors, lower, upper, estimate.p_values())
    bootstrap = {"draws": inference.draws, "weights": inference.bootstrap_weights, "seed": inference.seed}
    return summary, {"cov_type": f"wild cluster bootstrap (percentile-t, {inference.bootstrap_weights}) by {cluster}",
                     "bootstrap": bootstrap}


def _replaced(summary: pd.DataFrame, names: list[str], errors: np.ndarray, lower: np.ndarray, upper: np.ndarray,
              p_values: np.ndarray) -> pd.DataFrame:
    out = summary.copy()
    out.loc[names, "std_error"] = errors
    out.loc[names, "ci_lower"] = lower
    out.loc[names, "ci_upper"] = upper
    out.loc[names, "p_value"] = p_values
    return out

"""Restricted mean survival time up to a horizon, per stratum, with bootstrap intervals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.models.base import Model, ModelError, ModelResults, register
from proximite.cohort.models.survival.common import (
    DEFAULT_SEED,
    check_confidence,
    complete_rows,
    durations_of,
    event_codes,
    format_time,
    require_columns,
    summary_frame,
    term_name,
    wald_p,
)

__all__ = ["RMST", "rmst_area"]


def rmst_area(durations: np.ndarray, events: np.ndarray, *, tau: float) -> float:
    """Area under the Kaplan–Meier curve from 0 to ``tau``.

    Parameters
    ----------
    durations : array of float
        Times (≥ 0).
    events : array of int
        1 event, 0 censored.
    tau : float, keyword-only
        Restriction time (> 0).

    Returns
    -------
    float

    Notes
    -----
    :math:`\\mathrm{RMST}(\\tau) = \\int_0^\\tau \\hat S(t)\\,dt = \\sum_j \\hat S(t_{j-1})\\,(\\min(t_j, \\tau) - t_{j-1})`
    over the event times :math:`t_j \\le \\tau` (with :math:`t_0 = 0`, the last piece ending at
    :math:`\\tau`); equal to lifelines' ``restricted_mean_survival_time`` of a fitted KM.
    """
    durations = np.asarray(durations, dtype="float64")
    events = np.asarray(events, dtype="float64")
    if durations.size == 0:
        return float("nan")
    order = np.argsort(durations, kind="stable")
    durations, events = durations[order], events[order]
    times, first = np.unique(durations, return_index=True)
    at_risk = durations.size - first
    deaths = np.add.reduceat(events, first)
    keep = (deaths > 0) & (times <= tau)
    survival = np.cumprod(1.0 - deaths[keep] / at_risk[keep])
    knots = np.concatenate([[0.0], times[keep], [tau]])
    levels = np.concatenate([[1.0], survival])
    return float(np.sum(levels * np.diff(knots)))


@register("rmst")
class RMST(Model):
    """Restricted mean survival time up to ``tau``, per stratum and differences, bootstrap CIs.

    Parameters
    ----------
    tau : float, keyword-only
        Restriction time (unit of ``duration``), > 0.
    duration, event : str, keyword-only
    strata : str, optional, keyword-only
        One RMST per value; differences of each value against ``reference``.
    reference : str, optional, keyword-only
        Reference value of ``strata`` (default: the first in sorted order).
    cluster_col : str, optional, keyword-only
        Resample these clusters (e.g. ``family_id`` for needs) instead of rows within strata.
    n_boot : int, keyword-only
        Bootstrap replicates (default 500).
    seed : int, keyword-only
    confidence : float, keyword-only

    Notes
    -----
    :math:`\\mathrm{RMST}_g(\\tau) = \\int_0^\\tau \\hat S_g(t)\\,dt` (:func:`rmst_area`);
    difference :math:`\\Delta_g = \\mathrm{RMST}_g - \\mathrm{RMST}_{ref}`. Intervals are
    bootstrap percentiles (rows resampled within each stratum, or clusters across the data);
    ``std_error`` is the bootstrap SD and the ``p_value`` of a difference the Wald
    :math:`2(1 - \\Phi(|\\Delta| / \\mathrm{SE}))` (NaN for a single RMST). Rows:
    ``rmst(tau=<tau>)`` (``| <stratum>``) and ``rmst_difference(tau=<tau>) | <g> - <ref>``.
    """

    def __init__(
        self,
        *,
        tau: float,
        duration: str = "duration",
        event: str = "event",
        strata: str | None = None,
        reference: str | None = None,
        cluster_col: str | None = None,
        n_boot: int = 500,
        seed: int = DEFAULT_SEED,
        confidence: float = 0.95,
    ) -> None:
        if not (isinstance(tau, int | float) and math.isfinite(tau) and tau > 0):
            raise ModelError("rmst: option tau must be a positive number")
        if int(n_boot) < 2:
            raise ModelError("rmst: option n_boot must be at least 2")
        if strata is not None and not isinstance(strata, str):
            raise ModelError("rmst: option strata must be one column name")
        if reference is not None and strata is None:
            raise ModelError("rmst: option reference needs strata")
        check_confidence("rmst", confidence)
        self.tau = float(tau)
        self.duration = duration
        self.event = event
        self.strata = strata
        self.reference = reference
        self.cluster_col = cluster_col
        self.n_boot = int(n_boot)
        self.seed = int(seed)
        self.confidence = float(confidence)

    def fit(self, data: pd.DataFrame) -> ModelResults:
        """Estimate the RMSTs and bootstrap them on ``data`` (not modified)."""
        kind = self.kind
        columns = [self.duration, self.event, *([self.strata] if self.strata else []), *([self.cluster_col] if self.cluster_col else [])]
        require_columns(kind, data, columns)
        frame, dropped = complete_rows(kind, data, columns)
        durations = durations_of(kind, frame, self.duration)
        events = event_codes(kind, frame, self.event)
        if self.strata:
            groups = frame[self.strata].astype(str).to_numpy()
            levels = sorted(set(groups))
        else:
            groups = np.full(len(frame), "", dtype=object)
            levels = [""]
        reference = self.reference if self.reference is not None else levels[0]
        if self.strata and reference not in levels:
            raise ModelError(f"rmst: the reference is not a value of the column {self.strata!r}")
        codes = np.searchsorted(np.array(levels, dtype=object), groups)

        def estimate(rows: np.ndarray) -> np.ndarray:
            values = np.full(len(levels), np.nan)
            for position in range(len(levels)):
                chosen = rows[codes[rows] == position]
                if chosen.size:
                    values[position] = rmst_area(durations[chosen], events[chosen], tau=self.tau)
            return values

        everything = np.arange(len(frame))
        point = estimate(everything)
        rng = np.random.default_rng(self.seed)
        if self.cluster_col:
            clusters = pd.factorize(frame[self.cluster_col].astype(str))[0]
            order = np.argsort(clusters, kind="stable")
            sizes = np.bincount(clusters)
            offsets = np.concatenate([[0], np.cumsum(sizes)])
        members = [np.flatnonzero(codes == position) for position in range(len(levels))]
        boot = np.empty((self.n_boot, len(levels)))
        for b in range(self.n_boot):
            if self.cluster_col:
                chosen = rng.integers(0, len(sizes), len(sizes))
                rows = np.concatenate([order[offsets[c]:offsets[c + 1]] for c in chosen])
            else:
                rows = np.concatenate([member[rng.integers(0, member.size, member.size)] for member in members])
            boot[b] = estimate(rows)
        alpha = 1 - self.confidence
        tau_text = format_time(self.tau)
        summary_rows: list[dict[str, Any]] = []
        for position, level in enumerate(levels):
            label = f"{self.strata}={level}" if self.strata else ""
            draws = boot[:, position][np.isfinite(boot[:, position])]
            mask = codes == position
            summary_rows.append(self._row(f"rmst(tau={tau_text})", label, point[position], draws, alpha, float("nan"),
                                          n=int(mask.sum()), events=int(events[mask].sum())))
        ref = levels.index(reference)
        for position, level in enumerate(levels):
            if position == ref:
                continue
            diff = boot[:, position] - boot[:, ref]
            draws = diff[np.isfinite(diff)]
            value = point[position] - point[ref]
            error = float(draws.std(ddof=1)) if draws.size > 1 else float("nan")
            label = f"{self.strata}={level} - {self.strata}={reference}"
            summary_rows.append(self._row(f"rmst_difference(tau={tau_text})", label, value, draws, alpha, wald_p(value, error),
                                          n=int(((codes == position) | (codes == ref)).sum()),
                                          events=int(events[(codes == position) | (codes == ref)].sum())))
        statistics: dict[str, Any] = {
            "nobs": len(frame),
            "events": int(events.sum()),
            "dropped_missing": dropped,
            "tau": self.tau,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "bootstrap": f"clusters by {self.cluster_col}" if self.cluster_col else ("rows within strata" if self.strata else "rows"),
            "reference": f"{self.strata}={reference}" if self.strata else None,
        }
        by = f" by {self.strata}" if self.strata else ""
        title = f"RMST up to {tau_text} of {self.event} over {self.duration}{by}"
        return ModelResults(model=kind, summary=summary_frame(summary_rows), statistics=statistics, title=title,
                            confidence=self.confidence, extra={}, native=None)

    @staticmethod
    def _row(term: str, label: str, value: float, draws: np.ndarray, alpha: float, p_value: float, *, n: int, events: int) -> dict[str, Any]:
        enough = draws.size > 1
        return {
            "term": term_name(term, label),
            "estimate": float(value),
            "std_error": float(draws.std(ddof=1)) if enough else float("nan"),
            "ci_lower": float(np.quantile(draws, alpha / 2)) if enough else float("nan"),
            "ci_upper": float(np.quantile(draws, 1 - alpha / 2)) if enough else float("nan"),
            "p_value": p_value,
            "n": n,
            "events": events,
            "stratum": label,
        }

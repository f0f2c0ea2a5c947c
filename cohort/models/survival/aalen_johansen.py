"""Cumulative incidence with a competing event (Aalen–Johansen)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.models.base import Model, ModelError, register
from proximite.cohort.models.survival.common import (
    DAYS_PER_MONTH,
    DEFAULT_SEED,
    as_list,
    check_confidence,
    complete_rows,
    durations_of,
    event_codes,
    format_time,
    require_columns,
    step_at,
    strata_groups,
    summary_frame,
    term_name,
)
from proximite.cohort.models.survival.results import SurvivalResults

__all__ = ["AalenJohansen"]


def _default_times(duration: str) -> list[float]:
    """3, 6 and 12 months in the unit of the duration column (months if its name ends so, else days)."""
    months = [3.0, 6.0, 12.0]
    return months if duration.endswith("months") else [m * DAYS_PER_MONTH for m in months]


@register("aalen_johansen")
class AalenJohansen(Model):
    """Cumulative incidence with a competing event (lifelines ``AalenJohansenFitter``).

    Parameters
    ----------
    duration : str, keyword-only
    event_type : str, keyword-only
        0 censored, ``event_of_interest``, ``competing`` (other codes are refused).
    event_of_interest, competing : int, keyword-only
        Codes (default 1 and 2).
    strata : str or sequence of str, optional, keyword-only
    times : sequence of float, optional, keyword-only
        Report the cumulative incidence at these times (unit of ``duration``); default 3, 6 and
        12 months (91.3125, 182.625, 365.25 days when ``duration`` is in days).
    seed : int, keyword-only
        Seed of lifelines' jitter of tied times (the same seed gives the same figures).
    confidence : float, keyword-only

    Notes
    -----
    With :math:`\\hat S` the all-cause Kaplan–Meier survival,
    :math:`\\widehat{F}_k(t) = \\sum_{t_i \\le t} \\hat S(t_{i-1})\\, d_{ki} / n_i` for the event
    of interest :math:`k`. lifelines breaks tied times by a small random jitter (seeded here).
    Summary rows ``cif(t=<t>)`` for the event of interest and ``cif_competing(t=<t>)`` for the
    competing one (suffixed ``| <stratum>``); ``std_error`` is the square root of lifelines'
    variance, the interval lifelines' (log(−log) transformed); ``p_value`` NaN. Extra table
    ``cumulative_incidence`` (``stratum``, ``time``, ``value``, ``ci_lower``, ``ci_upper``)
    for the event of interest.
    """

    def __init__(
        self,
        *,
        duration: str = "duration",
        event_type: str = "event_type",
        event_of_interest: int = 1,
        competing: int = 2,
        strata: str | Sequence[str] | None = None,
        times: Sequence[float] | None = None,
        seed: int = DEFAULT_SEED,
        confidence: float = 0.95,
    ) -> None:
        check_confidence("aalen_johansen", confidence)
        if int(event_of_interest) in (0, int(competing)):
            raise ModelError("aalen_johansen: option event_of_interest must differ from 0 and from competing")
        self.duration = duration
        self.event_type = event_type
        self.event_of_interest = int(event_of_interest)
        self.competing = int(competing)
        self.strata = as_list(strata)
        self.times = [float(t) for t in times] if times is not None else _default_times(duration)
        self.seed = int(seed)
        self.confidence = float(confidence)

    def _fit_one(self, durations: np.ndarray, codes: np.ndarray, interest: int) -> Any:
        from lifelines import AalenJohansenFitter

        fitter = AalenJohansenFitter(seed=self.seed, alpha=1 - self.confidence)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitter.fit(durations, codes, event_of_interest=interest)
        return fitter

    def fit(self, data: pd.DataFrame) -> SurvivalResults:
        """Fit the cumulative incidences on ``data`` (not modified)."""
        kind = self.kind
        require_columns(kind, data, [self.duration, self.event_type, *self.strata])
        frame, dropped = complete_rows(kind, data, [self.duration, self.event_type, *self.strata])
        rows: list[dict[str, Any]] = []
        curves: list[pd.DataFrame] = []
        natives: dict[str, Any] = {}
        ties = 0
        for label, group in strata_groups(frame, self.strata):
            durations = durations_of(kind, group, self.duration)
            codes = event_codes(kind, group, self.event_type, allowed=(0, self.event_of_interest, self.competing))
            observed = durations[codes > 0]
            ties += int(len(observed) - len(np.unique(observed)))
            n = len(group)
            for base, interest in (("cif", self.event_of_interest), ("cif_competing", self.competing)):
                count = int((codes == interest).sum())
                if count == 0:
                    for t in self.times:
                        rows.append(self._row(f"{base}(t={format_time(t)})", label, 0.0, float("nan"), 0.0, 0.0, n, count, t))
                    continue
                fitter = self._fit_one(durations, codes, interest)
                cif = fitter.cumulative_density_.iloc[:, 0]
                variance = fitter.variance_
                bounds = np.sort(fitter.confidence_interval_.to_numpy(dtype="float64"), axis=1)
                lower = pd.Series(bounds[:, 0], index=fitter.confidence_interval_.index)
                upper = pd.Series(bounds[:, 1], index=fitter.confidence_interval_.index)
                for t in self.times:
                    value = step_at(cif, t)
                    error = math.sqrt(max(step_at(variance, t), 0.0)) if np.isfinite(step_at(variance, t)) else float("nan")
                    rows.append(self._row(f"{base}(t={format_time(t)})", label, value, error, step_at(lower, t), step_at(upper, t), n, count, t))
                if interest == self.event_of_interest:
                    natives[label] = fitter
                    curves.append(pd.DataFrame({"stratum": label, "time": cif.index.to_numpy(dtype="float64"),
                                                "value": cif.to_numpy(dtype="float64"), "ci_lower": bounds[:, 0], "ci_upper": bounds[:, 1]}))
        statistics: dict[str, Any] = {
            "nobs": len(frame),
            "events": int((event_codes(kind, frame, self.event_type, allowed=(0, self.event_of_interest, self.competing)) == self.event_of_interest).sum()),
            "competing_events": int((frame[self.event_type].astype("float64") == self.competing).sum()),
            "dropped_missing": dropped,
            "tied_event_times": ties,
            "seed": self.seed,
            "time_column": self.duration,
        }
        by = f" by {', '.join(self.strata)}" if self.strata else ""
        title = f"Aalen-Johansen cumulative incidence of {self.event_type}={self.event_of_interest} (competing {self.competing}) over {self.duration}{by}"
        extra = {"cumulative_incidence": pd.concat(curves, ignore_index=True)} if curves else {}
        return SurvivalResults(model=kind, summary=summary_frame(rows), statistics=statistics, title=title, confidence=self.confidence,
                               extra=extra, native=natives, curve="cumulative_incidence" if curves else "")

    @staticmethod
    def _row(term: str, label: str, value: float, error: float, low: float, high: float, n: int, events: int, t: float) -> dict[str, Any]:
        return {"term": term_name(term, label), "estimate": value, "std_error": error, "ci_lower": low, "ci_upper": high,
                "p_value": float("nan"), "n": n, "events": events, "stratum": label, "time": t}

"""The Cox proportional-hazards model, with strata, cluster-robust errors and the PH test."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.models.base import Model, ModelError, ModelResults, register
from proximite.cohort.models.survival.common import (
    as_list,
    captured_warnings,
    check_confidence,
    complete_rows,
    design_matrix,
    durations_of,
    event_codes,
    formula_columns,
    plain_frame,
    require_columns,
)

__all__ = ["CoxPH"]


@register("cox")
class CoxPH(Model):
    """Cox proportional-hazards model (lifelines ``CoxPHFitter``).

    Parameters
    ----------
    covariates : sequence of str, optional, keyword-only
        Covariate columns (numbers and booleans as is; text as dummies against the first level).
    formula : str, optional, keyword-only
        A formulaic right-hand side instead of ``covariates`` (``"age + C(environment)"``).
    duration, event : str, keyword-only
    strata : str or sequence of str, optional, keyword-only
        Baseline hazard stratified by these columns.
    cluster_col : str, optional, keyword-only
        Cluster-robust (sandwich) standard errors by this column (e.g. ``family_id``, ``territory_id``).
    penalizer : float, keyword-only
        lifelines' L2 penalty (0: the plain partial likelihood).
    check_assumptions : bool, keyword-only
        Run the proportional-hazards test (extra table ``proportional_hazards``).
    time_transform : str, keyword-only
        Time transform of that test (``rank``, ``km``, ``identity``, ``log``).
    confidence : float, keyword-only

    Notes
    -----
    The hazard is :math:`h(t \\mid x) = h_{0s}(t) \\exp(x^\\top \\beta)` in stratum :math:`s`;
    :math:`\\beta` maximises Efron's partial likelihood (identical to Breslow's without tied
    times). Summary: ``estimate`` = :math:`\\hat\\beta` (log hazard ratio), Wald intervals
    :math:`\\hat\\beta \\pm z\\,\\mathrm{SE}`, plus ``hazard_ratio``, ``hr_ci_lower``,
    ``hr_ci_upper`` (their exponentials) and ``z``. The PH test is the Grambsch–Therneau score
    test of scaled Schoenfeld residuals against :math:`g(t)`
    (``lifelines.statistics.proportional_hazard_test``); nothing is printed.
    """

    def __init__(
        self,
        *,
        covariates: Sequence[str] | None = None,
        formula: str | None = None,
        duration: str = "duration",
        event: str = "event",
        strata: str | Sequence[str] | None = None,
        cluster_col: str | None = None,
        penalizer: float = 0.0,
        check_assumptions: bool = True,
        time_transform: str = "rank",
        confidence: float = 0.95,
    ) -> None:
        if (covariates is None) == (formula is None):
            raise ModelError("cox: give exactly one of the options covariates and formula")
        if covariates is not None and not list(covariates):
            raise ModelError("cox: option covariates is empty")
        check_confidence("cox", confidence)
        self.covariates = list(covariates) if covariates is not None else None
        self.formula = formula
        self.duration = duration
        self.event = event
        self.strata = as_list(strata)
        self.cluster_col = cluster_col
        self.penalizer = float(penalizer)
        self.check_assumptions = bool(check_assumptions)
        self.time_transform = time_transform
        self.confidence = float(confidence)

    def fit(self, data: pd.DataFrame) -> ModelResults:
        """Fit the model on ``data`` (not modified)."""
        from lifelines import CoxPHFitter

        kind = self.kind
        variables = self.covariates if self.covariates is not None else formula_columns(kind, self.formula or "")
        extra_columns = [*self.strata, *([self.cluster_col] if self.cluster_col else [])]
        require_columns(kind, data, [self.duration, self.event, *variables, *extra_columns])
        frame, dropped = complete_rows(kind, data, [self.duration, self.event, *variables, *extra_columns])
        durations = durations_of(kind, frame, self.duration)
        events = event_codes(kind, frame, self.event)
        fit_frame = pd.DataFrame({"_duration": durations, "_event": events})
        if self.covariates is not None:
            design, _ = design_matrix(kind, frame, self.covariates)
            fit_frame = pd.concat([fit_frame, design], axis=1)
            formula = None
        else:
            fit_frame = pd.concat([fit_frame, plain_frame(frame[variables])], axis=1)
            formula = self.formula
        for column in extra_columns:
            if column not in fit_frame.columns:
                fit_frame[column] = frame[column].astype(str).to_numpy() if column in self.strata else frame[column].to_numpy()
        fitter = CoxPHFitter(penalizer=self.penalizer, alpha=1 - self.confidence)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fitter.fit(
                    fit_frame, duration_col="_duration", event_col="_event", strata=self.strata or None,
                    cluster_col=self.cluster_col, formula=formula,
                )
            except Exception as error:  # noqa: BLE001 - lifelines: ConvergenceError, LinAlgError, ValueError...
                raise ModelError(f"{kind}: the fit failed ({type(error).__name__}); check collinear or constant covariates") from None
        summary = self._summary_from(fitter)
        statistics: dict[str, Any] = {
            "nobs": len(fit_frame),
            "events": int(events.sum()),
            "dropped_missing": dropped,
            "log_likelihood": float(fitter.log_likelihood_),
            "concordance": float(fitter.concordance_index_),
            "partial_aic": float(fitter.AIC_partial_),
            "ties": "efron",
            "covariance": f"cluster-robust by {self.cluster_col}" if self.cluster_col else "model-based",
            "clusters": int(frame[self.cluster_col].nunique()) if self.cluster_col else None,
            "strata": ", ".join(self.strata) or None,
        }
        extra: dict[str, pd.DataFrame] = {}
        if self.check_assumptions:
            extra["proportional_hazards"], statistics["ph_test"] = self._ph_test(fitter, fit_frame)
        lines = captured_warnings(caught)
        if lines:
            statistics["warnings"] = " | ".join(lines)
        rhs = self.formula if self.formula is not None else " + ".join(self.covariates or [])
        by = f", strata {', '.join(self.strata)}" if self.strata else ""
        title = f"Cox PH: {self.duration}, {self.event} ~ {rhs}{by}"
        return ModelResults(model=kind, summary=summary, statistics=statistics, title=title, confidence=self.confidence,
                            extra=extra, native=fitter)

    def _summary_from(self, fitter: Any) -> pd.DataFrame:
        table = fitter.summary
        lower = next(c for c in table.columns if c.startswith("coef lower"))
        upper = next(c for c in table.columns if c.startswith("coef upper"))
        summary = pd.DataFrame(
            {
                "estimate": table["coef"].to_numpy(dtype="float64"),
                "std_error": table["se(coef)"].to_numpy(dtype="float64"),
                "ci_lower": table[lower].to_numpy(dtype="float64"),
                "ci_upper": table[upper].to_numpy(dtype="float64"),
                "p_value": table["p"].to_numpy(dtype="float64"),
                "hazard_ratio": np.exp(table["coef"].to_numpy(dtype="float64")),
                "hr_ci_lower": np.exp(table[lower].to_numpy(dtype="float64")),
                "hr_ci_upper": np.exp(table[upper].to_numpy(dtype="float64")),
                "z": table["z"].to_numpy(dtype="float64"),
            },
            index=pd.Index([str(name) for name in table.index], name="term"),
        )
        return summary

    def _ph_test(self, fitter: Any, fit_frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
        from lifelines.statistics import proportional_hazard_test

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = proportional_hazard_test(fitter, fit_frame, time_transform=self.time_transform)
        except Exception as error:  # noqa: BLE001 - the test can fail where the fit did not (a tiny stratum)
            empty = pd.DataFrame(columns=["test_statistic", "df", "p_value", "time_transform"])
            return empty, f"failed ({type(error).__name__})"
        table = result.summary
        frame = pd.DataFrame(
            {
                "test_statistic": table["test_statistic"].to_numpy(dtype="float64"),
                "df": 1,
                "p_value": table["p"].to_numpy(dtype="float64"),
                "time_transform": self.time_transform,
            },
            index=pd.Index([str(name) for name in table.index], name="term"),
        )
        smallest = float(frame["p_value"].min()) if len(frame) else float("nan")
        return frame, f"Grambsch-Therneau ({self.time_transform}); smallest p = {smallest:.3g}"

"""The Cox model on start/stop rows, with cluster-bootstrap standard errors."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.models.base import Model, ModelError, ModelResults, register
from proximite.cohort.models.survival.common import (
    DEFAULT_SEED,
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
    wald_p,
)

__all__ = ["CoxTimeVarying"]


@register("cox_time_varying")
class CoxTimeVarying(Model):
    """Cox model on start/stop rows (lifelines ``CoxTimeVaryingFitter``) with a cluster bootstrap.

    Parameters
    ----------
    covariates : sequence of str, optional, keyword-only
        Covariate columns (as :class:`CoxPH`); or ``formula``.
    formula : str, optional, keyword-only
    id_col, start, stop, event : str, keyword-only
        The long format of :func:`proximite.cohort.survival_table` with ``time_varying=True``.
    strata : str or sequence of str, optional, keyword-only
    cluster_col : str, optional, keyword-only
        Resampling unit of the bootstrap (default ``id_col``: subjects); ``family_id`` for needs
        clustered in families.
    n_boot : int, keyword-only
        Bootstrap replicates (default 200).
    seed : int, keyword-only
        Seed of the bootstrap (the same seed gives the same intervals).
    penalizer : float, keyword-only
    confidence : float, keyword-only

    Notes
    -----
    :math:`h(t \\mid x(t)) = h_0(t) \\exp(x(t)^\\top \\beta)`; :math:`\\hat\\beta` maximises the
    partial likelihood over the risk sets of the start/stop rows. lifelines gives no robust
    variance here, so clusters are resampled with replacement :math:`B` times (a copy of a
    cluster gets new subject ids), :math:`\\hat\\beta^{*}_b` refitted; ``std_error`` =
    :math:`\\operatorname{sd}_b(\\hat\\beta^{*}_b)`, ``ci_lower``/``ci_upper`` = the
    :math:`\\alpha/2` and :math:`1 - \\alpha/2` percentiles, ``p_value`` = Wald
    :math:`2\\,(1 - \\Phi(|\\hat\\beta| / \\mathrm{SE}))` with the bootstrap SE. Replicates whose
    fit fails are left out and counted (``boot_failed``). Also ``std_error_model`` (lifelines'
    model-based SE), ``hazard_ratio`` and its interval.
    """

    def __init__(
        self,
        *,
        covariates: Sequence[str] | None = None,
        formula: str | None = None,
        id_col: str = "id",
        start: str = "start",
        stop: str = "stop",
        event: str = "event",
        strata: str | Sequence[str] | None = None,
        cluster_col: str | None = None,
        n_boot: int = 200,
        seed: int = DEFAULT_SEED,
        penalizer: float = 0.0,
        confidence: float = 0.95,
    ) -> None:
        if (covariates is None) == (formula is None):
            raise ModelError("cox_time_varying: give exactly one of the options covariates and formula")
        if int(n_boot) < 2:
            raise ModelError("cox_time_varying: option n_boot must be at least 2")
        check_confidence("cox_time_varying", confidence)
        self.covariates = list(covariates) if covariates is not None else None
        self.formula = formula
        self.id_col = id_col
        self.start = start
        self.stop = stop
        self.event = event
        self.strata = as_list(strata)
        self.cluster_col = cluster_col
        self.n_boot = int(n_boot)
        self.seed = int(seed)
        self.penalizer = float(penalizer)
        self.confidence = float(confidence)

    def _fit_once(self, frame: pd.DataFrame, formula: str | None) -> Any:
        from lifelines import CoxTimeVaryingFitter

        fitter = CoxTimeVaryingFitter(penalizer=self.penalizer, alpha=1 - self.confidence)
        fitter.fit(frame, event_col="_event", start_col="_start", stop_col="_stop", id_col="_id",
                   strata=self.strata or None, formula=formula)
        return fitter

    def fit(self, data: pd.DataFrame) -> ModelResults:
        """Fit on the start/stop rows of ``data`` (not modified), then bootstrap the clusters."""
        kind = self.kind
        cluster = self.cluster_col or self.id_col
        frame, dropped, fit_frame, formula = self._fit_frame(data, cluster=cluster)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fitter = self._fit_once(fit_frame, formula)
            except Exception as error:  # noqa: BLE001 - lifelines raises several kinds
                raise ModelError(f"{kind}: the fit failed ({type(error).__name__}); check collinear or constant covariates") from None
        clusters = pd.factorize(frame[cluster].astype(str))[0]
        boot, failed = self._bootstrap(fit_frame, clusters, formula=formula, terms=fitter.params_.index)
        summary = self._summary(fitter, boot)
        ids = fit_frame["_id"].to_numpy()
        statistics: dict[str, Any] = {
            "nobs": len(fit_frame),
            "subjects": len(np.unique(ids)),
            "events": int(fit_frame["_event"].sum()),
            "dropped_missing": dropped,
            "log_likelihood": float(fitter.log_likelihood_),
            "covariance": f"cluster bootstrap by {cluster}",
            "clusters": int(clusters.max()) + 1,
            "n_boot": self.n_boot,
            "boot_failed": failed,
            "seed": self.seed,
        }
        lines = captured_warnings(caught)
        if lines:
            statistics["warnings"] = " | ".join(lines)
        rhs = self.formula if self.formula is not None else " + ".join(self.covariates or [])
        title = f"Time-varying Cox: ({self.start}, {self.stop}], {self.event} ~ {rhs}"
        return ModelResults(model=kind, summary=summary, statistics=statistics, title=title, confidence=self.confidence,
                            extra={}, native=fitter)

    def _fit_frame(self, data: pd.DataFrame, *, cluster: str) -> tuple[pd.DataFrame, int, pd.DataFrame, str | None]:
        """The complete rows, how many were dropped, lifelines' frame (``_id``, ``_start``,
        ``_stop``, ``_event``, the covariates, the strata) and the formula it takes."""
        kind = self.kind
        variables = self.covariates if self.covariates is not None else formula_columns(kind, self.formula or "")
        needed = [self.id_col, self.start, self.stop, self.event, *variables, *self.strata, cluster]
        require_columns(kind, data, needed)
        frame, dropped = complete_rows(kind, data, needed)
        start = durations_of(kind, frame, self.start)
        stop = durations_of(kind, frame, self.stop)
        if (stop <= start).any():
            raise ModelError(f"{kind}: {int((stop <= start).sum())} row(s) have {self.stop!r} <= {self.start!r}")
        events = event_codes(kind, frame, self.event)
        ids = pd.factorize(frame[self.id_col].astype(str))[0]
        fit_frame = pd.DataFrame({"_id": ids, "_start": start, "_stop": stop, "_event": events})
        if self.covariates is not None:
            design, _ = design_matrix(kind, frame, self.covariates)
            fit_frame = pd.concat([fit_frame, design], axis=1)
            formula = None
        else:
            fit_frame = pd.concat([fit_frame, plain_frame(frame[variables])], axis=1)
            formula = self.formula
        for column in self.strata:
            if column not in fit_frame.columns:
                fit_frame[column] = frame[column].astype(str).to_numpy()
        return frame, dropped, fit_frame, formula

    def _bootstrap(
        self, fit_frame: pd.DataFrame, clusters: np.ndarray, *, formula: str | None, terms: pd.Index
    ) -> tuple[np.ndarray, int]:
        """Coefficients refitted on clusters drawn with replacement (one row per replicate), and
        how many replicates failed."""
        ids = fit_frame["_id"].to_numpy()
        order = np.argsort(clusters, kind="stable")
        sizes = np.bincount(clusters)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        n_clusters = len(sizes)
        rng = np.random.default_rng(self.seed)
        draws: list[np.ndarray] = []
        failed = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(self.n_boot):
                chosen = rng.integers(0, n_clusters, n_clusters)
                rows = np.concatenate([order[offsets[c]:offsets[c + 1]] for c in chosen])
                copy_number = np.repeat(np.arange(n_clusters), sizes[chosen])
                sample = fit_frame.iloc[rows].reset_index(drop=True)
                # A cluster drawn twice: its copies are different subjects.
                sample["_id"] = copy_number * (int(ids.max()) + 1) + sample["_id"].to_numpy()
                try:
                    boot = self._fit_once(sample, formula)
                    values = boot.params_.reindex(terms).to_numpy(dtype="float64")
                    if not np.isfinite(values).all():
                        raise ValueError
                    draws.append(values)
                except Exception:  # noqa: BLE001 - a replicate without events or with a constant column
                    failed += 1
        if len(draws) < 2:
            raise ModelError(f"{self.kind}: only {len(draws)} of {self.n_boot} bootstrap fits succeeded")
        return np.vstack(draws), failed

    def _summary(self, fitter: Any, boot: np.ndarray) -> pd.DataFrame:
        """Estimates with the bootstrap SE and percentile interval, and the hazard ratios."""
        estimate = fitter.params_.to_numpy(dtype="float64")
        alpha = 1 - self.confidence
        error = boot.std(axis=0, ddof=1)
        low = np.quantile(boot, alpha / 2, axis=0)
        high = np.quantile(boot, 1 - alpha / 2, axis=0)
        return pd.DataFrame(
            {
                "estimate": estimate,
                "std_error": error,
                "ci_lower": low,
                "ci_upper": high,
                "p_value": [wald_p(b, s) for b, s in zip(estimate, error, strict=True)],
                "std_error_model": fitter.standard_errors_.to_numpy(dtype="float64"),
                "hazard_ratio": np.exp(estimate),
                "hr_ci_lower": np.exp(low),
                "hr_ci_upper": np.exp(high),
            },
            index=pd.Index([str(name) for name in fitter.params_.index], name="term"),
        )

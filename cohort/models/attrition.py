"""Attrition: who stays in follow-up, and inverse-probability-of-attrition weights.

:class:`Attrition` (kind ``attrition``) fits a pooled discrete-time logit of staying in
follow-up at each wave among the families still followed at the previous one, and reports
attrition by wave and by isolation at contact. :func:`attrition_weights` gives the stabilised
weights aligned on the panel's index (what :func:`proximite.cohort.warehouse.panel` adds as
``attrition_weight``, and what :class:`~proximite.cohort.models.growth.GEE` takes as ``weights``).

:func:`fit_logit` (from :mod:`proximite.cohort.models.attrition_fit`, where the fit lives) is
the binomial GLM both this module and :func:`proximite.indicators.isolation.attrition_weights` use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.models.attrition_fit import AttritionFit, fit_attrition, fit_logit
from proximite.cohort.models.base import Model, ModelError, ModelResults, register

__all__ = ["Attrition", "attrition_weights", "fit_logit"]


def attrition_weights(
    panel: pd.DataFrame,
    *,
    outcome: str = "isolation_index",
    covariates: Sequence[str] = ("baseline_isolation_index", "isolated_at_contact"),
    previous: bool = True,
    numerator: Sequence[str] = (),
    due: pd.DataFrame | Mapping[Any, Sequence[str]] | None = None,
) -> pd.Series:
    """Stabilised inverse-probability-of-attrition weights, aligned on the panel's index.

    Parameters
    ----------
    panel : DataFrame
        The long panel indexed by ``(family_id, wave)`` (not modified).
    outcome : str, keyword-only
        The measure whose presence defines being observed (default ``isolation_index``).
    covariates : sequence of str, keyword-only
        Family-level covariates of the dropout model (taken at the family's first row).
    previous : bool, keyword-only
        Add the outcome's last observed value before the wave (``previous_<outcome>``).
    numerator : sequence of str, keyword-only
        Covariates of the numerator model, a subset of ``covariates`` that the analysis adjusts
        for (default none: the per-wave share staying).
    due : DataFrame or mapping, optional, keyword-only
        Which waves were due by the data's horizon: a DataFrame indexed by ``family_id`` with one
        boolean column per wave, or a mapping ``{wave: [ids of the families not due yet]}`` as
        :func:`proximite.cohort.warehouse.panel` puts in ``attrs["waves_not_due"]`` (used when
        this is not given). A family is not at risk of dropping out at a wave that was not due
        yet. Default: every wave was due (a complete cohort).

    Returns
    -------
    Series
        ``attrition_weight`` (float64) on ``panel.index``: 1 at the baseline wave; NaN for rows
        of families without a baseline ``outcome`` or with a missing covariate; 1 everywhere
        when no family at risk drops out.

    Notes
    -----
    A family is in follow-up at wave :math:`k` (:math:`R_k = 1`) when ``outcome`` is observed
    at :math:`k` or at a later wave. Among families with :math:`R_{k-1} = 1`, pooled over the
    later waves,

    .. math::

        \\operatorname{logit} P(R_k = 1 \\mid R_{k-1} = 1, X, y_{k-1}) = \\alpha_k + X^\\top\\beta
        + \\gamma\\, y_{k-1}, \\qquad
        \\operatorname{logit} P(R_k = 1 \\mid R_{k-1} = 1, V) = \\alpha^*_k + V^\\top\\beta^*

    (:math:`y_{k-1}` the last observed outcome before :math:`k`, :math:`V` the numerator
    covariates), and the weight of family :math:`f` at wave :math:`k` is

    .. math:: w_{fk} = \\prod_{j \\le k} \\frac{\\hat P(R_j = 1 \\mid R_{j-1} = 1, V_f)}
              {\\hat P(R_j = 1 \\mid R_{j-1} = 1, X_f, y_{f,j-1})}, \\qquad w_{f0} = 1.
    """
    return fit_attrition(
        panel, outcome=outcome, covariates=tuple(covariates), previous=previous, numerator=tuple(numerator),
        require_dropout=False, due=due if due is not None else panel.attrs.get("waves_not_due"),
    ).weights


@register("attrition")
class Attrition(Model):
    """Dropout model of the panel, its report by wave and isolation at contact, and its weights.

    Parameters
    ----------
    outcome : str, keyword-only
        The measure whose presence defines being observed (default ``isolation_index``).
    covariates : sequence of str, keyword-only
        Family-level covariates of the dropout model (default the baseline isolation index and
        isolated at contact).
    previous : bool, keyword-only
        Add the last observed ``outcome`` before the wave as ``previous_<outcome>``.
    numerator : sequence of str, keyword-only
        Numerator covariates of the stabilised weights (a subset of ``covariates``).
    confidence : float, keyword-only

    Notes
    -----
    The summary is the model of staying in follow-up (see :func:`attrition_weights`):

    .. math:: \\operatorname{logit} P(R_k = 1 \\mid R_{k-1} = 1) = \\alpha_k + X^\\top\\beta + \\gamma\\, y_{k-1}

    with terms ``wave[k]`` (:math:`\\alpha_k`), each covariate (booleans as 0/1, text as
    ``name[level]`` dummies) and ``previous_<outcome>``; ``odds_ratio`` is :math:`e^{\\beta}`.
    A negative coefficient on the baseline index means the more isolated leave more.
    Extra tables: ``attrition_by_wave``, ``attrition_by_isolated_at_contact``,
    ``weights_by_wave``. :meth:`weights` gives the weights themselves (row-level: never exported).
    """

    def __init__(
        self,
        *,
        outcome: str = "isolation_index",
        covariates: Sequence[str] = ("baseline_isolation_index", "isolated_at_contact"),
        previous: bool = True,
        numerator: Sequence[str] = (),
        confidence: float = 0.95,
    ) -> None:
        if not 0 < confidence < 1:
            raise ModelError(f"attrition: confidence must be between 0 and 1, got {confidence}")
        self.outcome = outcome
        self.covariates = tuple(covariates)
        self.previous = previous
        self.numerator = tuple(numerator)
        self.confidence = confidence

    def _fit(self, data: pd.DataFrame) -> AttritionFit:
        return fit_attrition(
            data, outcome=self.outcome, covariates=self.covariates, previous=self.previous,
            numerator=self.numerator, kind=self.kind, due=data.attrs.get("waves_not_due"),
        )

    def weights(self, data: pd.DataFrame) -> pd.Series:
        """The stabilised weights on ``data.index`` (see :func:`attrition_weights`)."""
        return self._fit(data).weights

    def fit(self, data: pd.DataFrame) -> ModelResults:
        """Fit the dropout model on the panel ``data`` (not modified).

        Returns
        -------
        ModelResults
            Summary of the logit of staying in follow-up; statistics ``nobs`` (family-waves at
            risk), ``families``, ``dropouts``, ``intermittent_missing``,
            ``families_without_baseline``, ``llf``, ``pseudo_rsquared``; the extra tables.
        """
        result = self._fit(data)
        native = result.denominator
        bounds = np.asarray(native.conf_int(alpha=1 - self.confidence))
        summary = pd.DataFrame(
            {
                "estimate": np.asarray(native.params, dtype="float64"),
                "std_error": np.asarray(native.bse, dtype="float64"),
                "ci_lower": bounds[:, 0],
                "ci_upper": bounds[:, 1],
                "p_value": np.asarray(native.pvalues, dtype="float64"),
                "odds_ratio": np.exp(np.asarray(native.params, dtype="float64")),
            },
            index=pd.Index(result.denominator_terms, name="term"),
        )
        risk = result.risk
        statistics: dict[str, Any] = {
            "nobs": len(risk),
            "families": int(risk["family_id"].nunique()),
            "dropouts": int((risk["followed"] == 0).sum()),
            "intermittent_missing": result.intermittent_missing,
            "not_yet_due": result.not_yet_due,
            "families_without_baseline": result.families_without_baseline,
            "llf": float(native.llf),
            "pseudo_rsquared": float(1 - native.llf / native.llnull),
        }
        return ModelResults(
            model=self.kind,
            summary=summary,
            statistics=statistics,
            title=f"attrition: logit of staying in follow-up, outcome {self.outcome}",
            confidence=self.confidence,
            extra={
                "attrition_by_wave": _by_wave(data, result, self.outcome),
                "attrition_by_isolated_at_contact": _by_isolation(data, result, self.outcome),
                "weights_by_wave": _weights_by_wave(result.weights),
            },
            native=native,
        )


def _observed_families(data: pd.DataFrame, outcome: str) -> pd.DataFrame:
    frame = data[[outcome]].reset_index()
    frame = frame.loc[frame[outcome].notna()]
    return frame.assign(wave=frame["wave"].astype("int64"))


def _by_wave(data: pd.DataFrame, result: AttritionFit, outcome: str) -> pd.DataFrame:
    """Per wave: families observed, at risk, staying and leaving; retention since baseline."""
    observed = _observed_families(data, outcome)
    baseline = observed.loc[observed["wave"] == result.waves[0], "family_id"]
    rows = []
    for wave in result.waves:
        here = observed.loc[observed["wave"] == wave, "family_id"]
        risk = result.risk.loc[result.risk["wave"] == wave]
        due_count = (result.due_at_wave or {}).get(int(wave), int(baseline.nunique()))
        rows.append(
            {
                "wave": wave,
                "observed": int(here.nunique()),
                "observed_of_baseline": int(here.isin(baseline).sum()),
                "at_risk": len(risk) if wave != result.waves[0] else int(baseline.nunique()),
                "stayed": int((risk["followed"] == 1).sum()) if wave != result.waves[0] else int(baseline.nunique()),
                "dropped_out": int((risk["followed"] == 0).sum()),
                "due": due_count,
                # Among the families with a baseline that were due at the wave (not those whose
                # window was still open).
                "retention": float(here.isin(baseline).sum() / due_count) if due_count else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("wave")


def _by_isolation(data: pd.DataFrame, result: AttritionFit, outcome: str) -> pd.DataFrame:
    """Per wave and isolated at contact: families with a baseline, observed at the wave, share."""
    if "isolated_at_contact" not in data.columns:
        return pd.DataFrame()
    observed = _observed_families(data, outcome)
    contact = (
        data["isolated_at_contact"].reset_index().drop_duplicates("family_id").set_index("family_id")["isolated_at_contact"]
    )
    label = contact.astype("boolean").map({True: "isolated", False: "not_isolated"}).astype(object).fillna("unknown")
    baseline = observed.loc[observed["wave"] == result.waves[0], "family_id"].unique()
    group_of = label.reindex(baseline)
    rows = []
    for group in sorted(group_of.unique()):
        members = set(group_of.index[group_of == group])
        for wave in result.waves:
            here = set(observed.loc[observed["wave"] == wave, "family_id"]) & members
            # Retention among the members that were due at the wave.
            due = members if result.due_table is None else members & set(result.due_table.index[result.due_table[wave]])
            rows.append(
                {"isolated_at_contact": group, "wave": wave, "baseline_families": len(members), "due": len(due),
                 "observed": len(here), "retention": len(here & due) / len(due) if due else np.nan}
            )
    return pd.DataFrame(rows).set_index(["isolated_at_contact", "wave"])


def _weights_by_wave(weights: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame({"wave": weights.index.get_level_values("wave").astype("int64"), "weight": weights.to_numpy()})
    table = frame.groupby("wave")["weight"].agg(["count", "mean", "min", "max"])
    table["missing"] = frame["weight"].isna().groupby(frame["wave"]).sum().astype("int64")
    return table.rename(columns={"count": "weighted_rows"})

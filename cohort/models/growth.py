"""Growth curves (statsmodels MixedLM) and GEE with attrition weights, on the long panel.

Kinds: ``growth_curve`` (:class:`GrowthCurve`) and ``gee`` (:class:`GEE`). Both add ``years``
(= wave / 12) to the panel, group rows by family and leave out rows missing a variable of the
formula (or the weight). Summary terms are patsy's names (``Intercept``, ``years``,
``C(wave)[T.24]``, ``isolated_at_contact``...).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.models.base import Model, ModelError, ModelResults, register
from proximite.cohort.models.panel import model_frame

__all__ = ["GEE", "GrowthCurve", "long_frame"]

#: GEE working correlations by option value.
CORRELATIONS = ("exchangeable", "independence")
#: GEE families by option value.
FAMILIES = ("gaussian", "binomial", "poisson")


def long_frame(data: pd.DataFrame, *, kind: str) -> pd.DataFrame:
    """The panel with ``family_id`` and ``wave`` as columns, ``years`` = wave / 12, plain dtypes."""
    return model_frame(data, kind=kind).reset_index(level="family_id").reset_index(drop=True)


def _complete(formula: str, frame: pd.DataFrame, *, kind: str, also: list[str]) -> tuple[Any, Any, pd.DataFrame]:
    """Outcome and design (patsy) on the rows with every variable of the formula and of ``also``."""
    from patsy import PatsyError, dmatrices

    frame = frame.dropna(subset=also) if also else frame
    try:
        outcome, design = dmatrices(formula, frame, return_type="dataframe", NA_action="drop")
    except PatsyError as error:
        raise ModelError(f"{kind}: cannot read formula {formula!r}: {error}") from None
    if len(outcome) == 0:
        raise ModelError(f"{kind}: no row has every variable of the formula {formula!r}")
    return outcome, design, frame.loc[outcome.index]


def _summary(params: Any, bse: Any, bounds: Any, pvalues: Any, names: list[str]) -> pd.DataFrame:
    bounds = np.asarray(bounds, dtype="float64")
    return pd.DataFrame(
        {
            "estimate": np.asarray(params, dtype="float64"),
            "std_error": np.asarray(bse, dtype="float64"),
            "ci_lower": bounds[:, 0],
            "ci_upper": bounds[:, 1],
            "p_value": np.asarray(pvalues, dtype="float64"),
        },
        index=pd.Index(names, name="term"),
    )


@register("growth_curve")
class GrowthCurve(Model):
    """Linear mixed model of each family's trajectory over time: statsmodels ``MixedLM``.

    Parameters
    ----------
    formula : str
        Fixed effects in patsy syntax on panel columns and ``years`` (= wave / 12), default
        ``"isolation_index ~ years"``.
    random_slope : bool, keyword-only
        A random slope on ``years`` besides the random intercept (default True).
    reml : bool, keyword-only
        Restricted maximum likelihood (default) or maximum likelihood (to compare fixed effects
        by likelihood).
    confidence : float, keyword-only

    Notes
    -----
    .. math::

        y_{fw} = x_{fw}^\\top\\beta + b_{0f} + b_{1f}\\, t_{fw} + \\varepsilon_{fw}, \\qquad
        (b_{0f}, b_{1f}) \\sim N(0, \\Sigma), \\quad \\varepsilon_{fw} \\sim N(0, \\sigma^2)

    with :math:`t_{fw}` = wave / 12 (years since T0). The summary holds :math:`\\beta` (Wald
    intervals); ``extra["variance_components"]`` holds :math:`\\Sigma` (``var_intercept``,
    ``var_years``, ``cov_intercept_years``) and :math:`\\sigma^2` (``residual``).
    """

    def __init__(
        self,
        formula: str = "isolation_index ~ years",
        *,
        random_slope: bool = True,
        reml: bool = True,
        confidence: float = 0.95,
    ) -> None:
        if "~" not in formula:
            raise ModelError(f"growth_curve: the formula must read 'outcome ~ terms', got {formula!r}")
        if not 0 < confidence < 1:
            raise ModelError(f"growth_curve: confidence must be between 0 and 1, got {confidence}")
        self.formula = formula
        self.random_slope = random_slope
        self.reml = reml
        self.confidence = confidence

    def fit(self, data: pd.DataFrame) -> ModelResults:
        """Fit on the long panel ``data`` (not modified).

        Returns
        -------
        ModelResults
            Fixed effects; statistics ``nobs``, ``groups`` (families), ``llf``, ``method``,
            ``converged``; ``extra["variance_components"]``.
        """
        import statsmodels.formula.api as smf  # imported here: a second of import

        frame = long_frame(data, kind=self.kind)
        _, _, rows = _complete(self.formula, frame, kind=self.kind, also=["years"])
        if rows["family_id"].nunique() < 3:
            raise ModelError(f"{self.kind}: needs at least 3 families with complete rows, has {rows['family_id'].nunique()}")
        model = smf.mixedlm(
            self.formula, rows, groups=rows["family_id"], re_formula="~years" if self.random_slope else "~1"
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            native = model.fit(reml=self.reml)
        names = list(native.fe_params.index)
        bounds = native.conf_int(alpha=1 - self.confidence).loc[names]
        summary = _summary(native.fe_params, native.bse_fe, bounds, native.pvalues.loc[names], names)
        cov_re = native.cov_re
        components = {"var_intercept": float(cov_re.iloc[0, 0])}
        if self.random_slope:
            components["var_years"] = float(cov_re.iloc[1, 1])
            components["cov_intercept_years"] = float(cov_re.iloc[0, 1])
        components["residual"] = float(native.scale)
        variance = pd.DataFrame({"variance": components}).rename_axis("component")
        statistics: dict[str, Any] = {
            "nobs": int(native.nobs),
            "groups": int(rows["family_id"].nunique()),
            "llf": float(native.llf),
            "method": "REML" if self.reml else "ML",
            "converged": bool(native.converged),
            "warnings": len(caught),
        }
        return ModelResults(
            model=self.kind,
            summary=summary,
            statistics=statistics,
            title=f"{self.kind}: {self.formula} | family: 1{' + years' if self.random_slope else ''}",
            confidence=self.confidence,
            extra={"variance_components": variance},
            native=native,
        )


@register("gee")
class GEE(Model):
    """Marginal model by generalised estimating equations, families as clusters: statsmodels ``GEE``.

    Parameters
    ----------
    formula : str
        patsy formula on panel columns and ``years``, e.g. ``"isolation_index ~ C(wave)"``.
    correlation : {"exchangeable", "independence"}, keyword-only
        Working correlation within a family.
    weights : str, optional, keyword-only
        A column of positive weights, e.g. ``attrition_weight`` (inverse probability of
        attrition, see :func:`proximite.cohort.models.attrition.attrition_weights`); rows without
        one are left out.
    family : {"gaussian", "binomial", "poisson"}, keyword-only
    confidence : float, keyword-only

    Notes
    -----
    Solves :math:`\\sum_f D_f^\\top V_f^{-1} W_f (y_f - \\mu_f(\\beta)) = 0`, with
    :math:`W_f` the diagonal of the family's weights :math:`w_{fw}` (statsmodels' case weights),
    :math:`V_f = A_f^{1/2} R(\\alpha) A_f^{1/2}`, :math:`R` the working correlation; robust
    (sandwich) covariance clustered by family. With inverse-probability-of-attrition weights
    and a missing-at-random dropout this gives the complete-cohort mean trajectory; the
    independence working correlation keeps that consistency whatever the correlation.
    """

    def __init__(
        self,
        formula: str,
        *,
        correlation: str = "exchangeable",
        weights: str | None = None,
        family: str = "gaussian",
        confidence: float = 0.95,
    ) -> None:
        if correlation not in CORRELATIONS:
            raise ModelError(f"gee: correlation must be one of {', '.join(CORRELATIONS)}, got {correlation!r}")
        if family not in FAMILIES:
            raise ModelError(f"gee: family must be one of {', '.join(FAMILIES)}, got {family!r}")
        if "~" not in formula:
            raise ModelError(f"gee: the formula must read 'outcome ~ terms', got {formula!r}")
        if not 0 < confidence < 1:
            raise ModelError(f"gee: confidence must be between 0 and 1, got {confidence}")
        self.formula = formula
        self.correlation = correlation
        self.weights = weights
        self.family = family
        self.confidence = confidence

    def fit(self, data: pd.DataFrame) -> ModelResults:
        """Fit on the long panel ``data`` (not modified).

        Returns
        -------
        ModelResults
            Summary of the coefficients; statistics ``nobs``, ``groups``, ``correlation``,
            ``working_correlation`` (exchangeable's :math:`\\alpha`), ``weights``, ``cov_type``.
        """
        import statsmodels.api as sm  # imported here: a second of import

        if self.weights is not None and self.weights not in data.columns:
            raise ModelError(f"{self.kind}: weights={self.weights!r} is not a panel column")
        frame = long_frame(data, kind=self.kind)
        if self.weights is not None and (frame[self.weights].dropna() <= 0).any():
            raise ModelError(f"{self.kind}: weights column {self.weights!r} must be positive")
        outcome, design, rows = _complete(
            self.formula, frame, kind=self.kind, also=[self.weights] if self.weights else []
        )
        structure = sm.cov_struct.Exchangeable() if self.correlation == "exchangeable" else sm.cov_struct.Independence()
        family = {"gaussian": sm.families.Gaussian, "binomial": sm.families.Binomial, "poisson": sm.families.Poisson}[self.family]()
        weights = rows[self.weights].to_numpy(dtype="float64") if self.weights else None
        # GEE needs each family's rows together, in time order.
        order = np.lexsort((rows["wave"].to_numpy(), rows["family_id"].to_numpy()))
        native = sm.GEE(
            outcome.iloc[order], design.iloc[order], groups=rows["family_id"].to_numpy()[order],
            time=rows["years"].to_numpy()[order], cov_struct=structure, family=family,
            weights=None if weights is None else weights[order],
        ).fit()
        names = list(design.columns)
        summary = _summary(native.params, native.bse, native.conf_int(alpha=1 - self.confidence), native.pvalues, names)
        dependence = getattr(structure, "dep_params", None)
        statistics: dict[str, Any] = {
            "nobs": int(native.nobs),
            "groups": int(rows["family_id"].nunique()),
            "correlation": self.correlation,
            "working_correlation": float(dependence) if self.correlation == "exchangeable" else 0.0,
            "weights": self.weights or "none",
            "cov_type": "robust (clustered by family)",
        }
        return ModelResults(
            model=self.kind,
            summary=summary,
            statistics=statistics,
            title=f"{self.kind}: {self.formula} ({self.correlation}{', weights ' + self.weights if self.weights else ''})",
            confidence=self.confidence,
            native=native,
        )

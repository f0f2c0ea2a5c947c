"""Linear panel models of the long panel (linearmodels), in the estimator style.

Kinds: ``panel_ols`` (:class:`PanelOLS`: family and wave effects), ``random_effects``
(:class:`RandomEffects`), ``first_difference`` (:class:`FirstDifference`) and ``pooled_ols``
(:class:`PooledOLS`). Each takes a formula in linearmodels' syntax on the panel's columns, e.g.
``"isolation_index ~ 1 + C(wave)"``; the panel's index ``(family_id, wave)`` is the entity and
the time. Summary terms are linearmodels' parameter names: with ``C(wave)`` the wave effects are
``C(wave)[T.6]``, ``C(wave)[T.12]``, ``C(wave)[T.24]`` (T0 the reference).

Standard errors are clustered by family (default), by territory (``territory_id``) or not
(``cluster=None``: heteroskedasticity-robust).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from proximite.cohort.models.base import Model, ModelError, ModelResults, register
from proximite.cohort.models.panel_inference import SmallSample, adjusted_results

__all__ = ["CLUSTERS", "FirstDifference", "PanelOLS", "PooledOLS", "RandomEffects"]

#: ``cluster`` option → what a cluster is (``None``: no clustering, robust covariance).
CLUSTERS: Mapping[str | None, str] = {"family": "family_id", "territory": "territory_id", None: ""}


def model_frame(data: pd.DataFrame, *, kind: str) -> pd.DataFrame:
    """The panel as linearmodels reads it: float columns for nullable numbers and booleans, plus
    ``wave`` (int) and ``years`` (wave / 12) as columns.

    Raises :class:`ModelError` unless ``data`` is indexed by ``(family_id, wave)``.
    """
    if not isinstance(data.index, pd.MultiIndex) or list(data.index.names) != ["family_id", "wave"]:
        raise ModelError(f"{kind}: the data must be the long panel indexed by (family_id, wave)")
    columns = {}
    for name, column in data.items():
        if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_numeric_dtype(column.dtype):
            columns[name] = column.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
        else:
            columns[name] = column.astype(object).where(column.notna(), None).to_numpy()
    index = pd.MultiIndex.from_arrays(
        [data.index.get_level_values("family_id").astype(str), data.index.get_level_values("wave").astype("int64")],
        names=["family_id", "wave"],
    )
    frame = pd.DataFrame(columns, index=index)
    # Formulas may name the time: ``C(wave)`` (wave effects) or ``years`` (linear time).
    frame["wave"] = index.get_level_values("wave").to_numpy()
    if "years" not in frame.columns:
        frame["years"] = frame["wave"] / 12.0
    return frame


class _LinearPanel(Model):
    """Shared fitting of the linearmodels wrappers."""

    estimator: ClassVar[str] = ""

    def __init__(
        self,
        formula: str,
        *,
        cluster: str | None = "family",
        weights: str | None = None,
        debiased: bool = True,
        confidence: float = 0.95,
        small_sample: str | None = None,
        draws: int = 999,
        bootstrap_weights: str = "webb",
        seed: int = 0,
    ) -> None:
        if cluster not in CLUSTERS:
            raise ModelError(f"{self.kind}: cluster must be 'family', 'territory' or None, got {cluster!r}")
        self.inference = SmallSample(small_sample, draws=draws, bootstrap_weights=bootstrap_weights, seed=seed, kind=self.kind)
        if small_sample is not None and (cluster is None or self.estimator not in ("PanelOLS", "PooledOLS")):
            raise ModelError(f"{self.kind}: small_sample={small_sample!r} needs clustered errors (cluster='territory' "
                             "or 'family') and a panel_ols or pooled_ols model")
        if not 0 < confidence < 1:
            raise ModelError(f"{self.kind}: confidence must be between 0 and 1, got {confidence}")
        if "~" not in formula:
            raise ModelError(f"{self.kind}: the formula must read 'outcome ~ terms', got {formula!r}")
        self.formula = formula
        self.cluster = cluster
        self.weights = weights
        self.debiased = debiased
        self.confidence = confidence
        self.small_sample = small_sample

    def _formula(self) -> str:
        return self.formula

    def _model(self, formula: str, frame: pd.DataFrame, weights: pd.Series | None) -> Any:
        import linearmodels  # imported here: a second of import, only for these models

        estimator = getattr(linearmodels, self.estimator)
        return estimator.from_formula(formula, frame, weights=weights)

    def _fit_options(self) -> dict[str, Any]:
        # Stata's correction G/(G-1) (N-1)/(N-K), K the summary's terms (absorbed effects not
        # counted); ``debiased`` alone would give N/(N-K).
        return {"group_debias": self.debiased} if self.cluster is not None else {}

    def fit(self, data: pd.DataFrame) -> ModelResults:
        """Fit on the long panel ``data`` (not modified); rows missing a used variable are left out.

        Returns
        -------
        ModelResults
            ``summary`` indexed by linearmodels' parameter names; statistics ``nobs``,
            ``entities``, ``time_periods``, ``clusters``, the R² linearmodels gives, ``cov_type``.
        """
        needed = [name for name in (CLUSTERS[self.cluster] if self.cluster == "territory" else "", self.weights) if name]
        missing = [name for name in needed if name not in data.columns]
        if missing:
            option = "cluster='territory'" if "territory_id" in missing else f"weights={self.weights!r}"
            raise ModelError(f"{self.kind}: {option} needs the panel column(s) {', '.join(missing)}")
        frame = model_frame(data, kind=self.kind)
        weights = None
        if self.weights is not None:
            weights = frame[self.weights]
            if (weights.dropna() <= 0).any():
                raise ModelError(f"{self.kind}: weights column {self.weights!r} must be positive")
            # Rows without a weight are left out, as rows missing a variable are.
            frame = frame.loc[weights.notna()]
            weights = frame[self.weights]
        fit_options: dict[str, Any] = {"debiased": self.debiased, **self._fit_options()}
        if self.cluster == "family":
            fit_options.update(cov_type="clustered", cluster_entity=True)
        elif self.cluster == "territory":
            if frame["territory_id"].isna().any():
                raise ModelError(f"{self.kind}: cluster='territory' needs territory_id on every row (some are missing)")
            codes = pd.factorize(frame["territory_id"])[0]
            fit_options.update(cov_type="clustered", clusters=pd.DataFrame({"territory": codes}, index=frame.index))
        else:
            fit_options.update(cov_type="robust")
        try:
            with warnings.catch_warnings():
                # linearmodels warns that it drops rows with missing values: documented above.
                warnings.simplefilter("ignore", category=Warning)
                native = self._model(self._formula(), frame, weights).fit(**fit_options)
        except ModelError:
            raise
        except Exception as error:  # noqa: BLE001 - formula errors, rank deficiency: name the option, not the data
            raise ModelError(f"{self.kind}: cannot fit formula {self.formula!r}: {type(error).__name__}: {error}") from None
        results = self._results(native, frame)
        return adjusted_results(results, native, frame, cluster=self.cluster, inference=self.inference)

    def _results(self, native: Any, frame: pd.DataFrame) -> ModelResults:
        bounds = native.conf_int(level=self.confidence)
        summary = pd.DataFrame(
            {
                "estimate": native.params.astype("float64"),
                "std_error": native.std_errors.astype("float64"),
                "ci_lower": bounds["lower"].astype("float64"),
                "ci_upper": bounds["upper"].astype("float64"),
                "p_value": native.pvalues.astype("float64"),
            }
        )
        used = native.resids.index
        families = used.get_level_values(0)
        statistics: dict[str, Any] = {
            "nobs": int(native.nobs),
            "entities": int(pd.unique(families).size),
            "time_periods": int(pd.unique(used.get_level_values(1)).size),
        }
        if self.cluster == "family":
            statistics["clusters"] = statistics["entities"]
        elif self.cluster == "territory":
            statistics["clusters"] = int(frame.loc[used, "territory_id"].nunique())
        for name in ("rsquared", "rsquared_within", "rsquared_between", "rsquared_overall"):
            value = getattr(native, name, None)
            if value is not None:
                statistics[name] = float(value)
        statistics["cov_type"] = str(native._cov_type) + (f" by {self.cluster}" if self.cluster else "")
        statistics["df_resid"] = int(native.df_resid)
        return ModelResults(
            model=self.kind,
            summary=summary,
            statistics=statistics,
            title=f"{self.kind}: {self._formula()}",
            confidence=self.confidence,
            native=native,
        )


@register("panel_ols")
class PanelOLS(_LinearPanel):
    """Linear model with family (entity) and wave (time) effects: linearmodels ``PanelOLS``.

    Parameters
    ----------
    formula : str
        linearmodels formula on panel columns, e.g. ``"isolation_index ~ 1 + C(wave)"``; may
        name ``EntityEffects`` / ``TimeEffects`` itself.
    entity_effects : bool, keyword-only
        Family fixed effects (default True; added to the formula unless it names them).
    time_effects : bool, keyword-only
        Wave fixed effects (then leave ``C(wave)`` out of the formula).
    cluster : {"family", "territory", None}, keyword-only
        Clustered standard errors by family (default) or territory (``territory_id``); None
        gives heteroskedasticity-robust ones.
    weights : str, optional, keyword-only
        A column of positive weights (e.g. ``attrition_weight``); rows without one are left out.
    debiased : bool, keyword-only
        Small-sample correction: clustered covariance times :math:`\\frac{G}{G-1}\\frac{N-1}{N-K}`
        (Stata's), robust one times :math:`\\frac{N}{N-K}`; t and F reference distributions.
    confidence : float, keyword-only
    small_sample : {None, "cr2", "wild"}, keyword-only
        Inference for a few dozen clusters or fewer (e.g. territories; needs ``cluster`` and no
        time effects), :mod:`~proximite.cohort.models.panel_inference`: ``"cr2"`` gives CR2
        standard errors with Bell–McCaffrey degrees of freedom, ``"wild"`` the wild cluster
        bootstrap's percentile-t intervals and p-values (CR1 standard errors).
    draws, bootstrap_weights, seed : keyword-only
        The wild bootstrap's samples (999), cluster weights (``"webb"`` or ``"rademacher"``)
        and seed (0).

    Notes
    -----
    .. math:: y_{fw} = \\alpha_f + \\lambda_w + x_{fw}^\\top\\beta + \\varepsilon_{fw}

    estimated by (weighted) least squares on within-transformed data. Clustered covariance
    :math:`\\hat V = c\\,(X^\\top X)^{-1} \\left(\\sum_g X_g^\\top \\hat u_g \\hat u_g^\\top X_g\\right)(X^\\top X)^{-1}`
    with, when ``debiased``, :math:`c = \\frac{G}{G-1}\\frac{N-1}{N-K}` (:math:`G` the clusters,
    :math:`K` the terms of the summary, the absorbed effects not counted: Stata's
    ``xtreg, fe vce(cluster)``; linearmodels' ``debiased=True, group_debias=True``).
    """

    estimator: ClassVar[str] = "PanelOLS"

    def __init__(
        self,
        formula: str,
        *,
        entity_effects: bool = True,
        time_effects: bool = False,
        cluster: str | None = "family",
        weights: str | None = None,
        debiased: bool = True,
        confidence: float = 0.95,
        small_sample: str | None = None,
        draws: int = 999,
        bootstrap_weights: str = "webb",
        seed: int = 0,
    ) -> None:
        if small_sample is not None and time_effects:
            raise ModelError(f"{self.kind}: small_sample={small_sample!r} with time effects: put C(wave) in the formula instead")
        super().__init__(formula, cluster=cluster, weights=weights, debiased=debiased, confidence=confidence,
                         small_sample=small_sample, draws=draws, bootstrap_weights=bootstrap_weights, seed=seed)
        self.entity_effects = entity_effects
        self.time_effects = time_effects

    def _formula(self) -> str:
        formula = self.formula
        if self.entity_effects and "EntityEffects" not in formula:
            formula += " + EntityEffects"
        if self.time_effects and "TimeEffects" not in formula:
            formula += " + TimeEffects"
        return formula


@register("random_effects")
class RandomEffects(_LinearPanel):
    """Random family intercepts (GLS): linearmodels ``RandomEffects``.

    Parameters
    ----------
    formula : str
        linearmodels formula, e.g. ``"isolation_index ~ 1 + C(wave) + isolated_at_contact"``.
    cluster, weights, debiased, confidence
        As :class:`PanelOLS`.

    Notes
    -----
    .. math:: y_{fw} = x_{fw}^\\top\\beta + u_f + \\varepsilon_{fw}, \\quad u_f \\sim (0, \\sigma_u^2)

    fitted by OLS on quasi-demeaned data :math:`y_{fw} - \\theta_f \\bar y_f` with
    :math:`\\theta_f = 1 - \\sqrt{\\sigma_\\varepsilon^2 / (T_f\\sigma_u^2 + \\sigma_\\varepsilon^2)}`.
    """

    estimator: ClassVar[str] = "RandomEffects"


@register("first_difference")
class FirstDifference(_LinearPanel):
    """Model of the change between a family's consecutive waves: linearmodels ``FirstDifferenceOLS``.

    Parameters
    ----------
    formula : str
        linearmodels formula without intercept (differencing removes it), e.g.
        ``"isolation_index ~ ptp_minutes"``.
    cluster, weights, debiased, confidence
        As :class:`PanelOLS`.

    Notes
    -----
    .. math:: y_{fw} - y_{f,w^-} = (x_{fw} - x_{f,w^-})^\\top\\beta + \\varepsilon_{fw} - \\varepsilon_{f,w^-}

    with :math:`w^-` the family's previous row of the panel.
    """

    estimator: ClassVar[str] = "FirstDifferenceOLS"


@register("pooled_ols")
class PooledOLS(_LinearPanel):
    """Ordinary least squares ignoring the panel structure (except in the clustered SE).

    Parameters
    ----------
    formula : str
        linearmodels formula, e.g. ``"isolation_index ~ 1 + C(wave)"``.
    cluster, weights, debiased, confidence, small_sample
        As :class:`PanelOLS`.

    Notes
    -----
    .. math:: y_{fw} = x_{fw}^\\top\\beta + \\varepsilon_{fw}
    """

    estimator: ClassVar[str] = "PooledOLS"

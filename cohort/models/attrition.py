"""Attrition: who stays in follow-up, and inverse-probability-of-attrition weights.

:class:`Attrition` (kind ``attrition``) fits a pooled discrete-time logit of staying in
follow-up at each wave among the families still followed at the previous one, and reports
attrition by wave and by isolation at contact. :func:`attrition_weights` gives the stabilised
weights aligned on the panel's index (what :func:`proximite.cohort.warehouse.panel` adds as
``attrition_weight``, and what :class:`~proximite.cohort.models.growth.GEE` takes as ``weights``).

:func:`fit_logit` is the binomial GLM both this module and
:func:`proximite.indicators.isolation.attrition_weights` use.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.models.base import Model, ModelError, ModelResults, register

__all__ = ["Attrition", "attrition_weights", "fit_logit"]

#: Floor of a fitted probability in a weight's denominator (a near-zero one would dominate).
PROBABILITY_FLOOR = 1e-6


def fit_logit(outcome: Any, design: Any, *, quiet: bool = True) -> Any:
    """Fit a binomial GLM with a logit link (statsmodels) and return its results.

    Parameters
    ----------
    outcome : array-like of 0/1
    design : array-like or DataFrame
        The design matrix, intercept included (column names become the parameter names).
    quiet : bool, keyword-only
        Silence statsmodels' warnings (perfect separation still gives usable fitted values).

    Notes
    -----
    :math:`\\operatorname{logit} P(Y_i = 1) = x_i^\\top \\beta`, fitted by IRLS (``sm.GLM``,
    ``families.Binomial()``), model-based covariance.
    """
    import statsmodels.api as sm  # imported here: a second of import for one model

    with warnings.catch_warnings(), np.errstate(over="ignore", under="ignore"):
        if quiet:
            warnings.simplefilter("ignore")
        return sm.GLM(outcome, design, family=sm.families.Binomial()).fit()


# ---------------------------------------------------------------------------- the fit
@dataclass
class _AttritionFit:
    """Everything one fit computes; the weights stay here, never in exported results."""

    risk: pd.DataFrame  # one row per family and later wave at risk (family, wave, followed, covariates)
    denominator: Any
    numerator: Any
    denominator_terms: list[str]
    weights: pd.Series
    waves: list[int]
    families_without_baseline: int
    intermittent_missing: int
    not_yet_due: int = 0  # family-waves of families with a baseline whose window was still open
    due_at_wave: dict[int, int] | None = None  # families with a baseline that were due, per wave
    due_table: pd.DataFrame | None = None  # family x wave: due by the data's horizon (reports only)


def _numeric(series: pd.Series) -> pd.Series:
    """Nullable numbers and booleans as float64 with NaN (what patsy and numpy read)."""
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return pd.Series(series.astype("Float64").to_numpy(dtype="float64", na_value=np.nan), index=series.index)
    return series.astype(object).where(series.notna(), None)


def _check_columns(data: pd.DataFrame, columns: Sequence[str], *, kind: str) -> None:
    if not isinstance(data.index, pd.MultiIndex) or list(data.index.names)[:2] != ["family_id", "wave"]:
        raise ModelError(f"{kind}: the data must be the long panel indexed by (family_id, wave)")
    missing = [name for name in columns if name not in data.columns]
    if missing:
        raise ModelError(f"{kind}: column(s) {', '.join(missing)} not in the panel (columns of proximite.cohort.panel())")


def _fit_attrition(
    data: pd.DataFrame,
    *,
    outcome: str,
    covariates: Sequence[str],
    previous: bool,
    numerator: Sequence[str],
    kind: str = "attrition",
    require_dropout: bool = True,
    due: pd.DataFrame | Mapping[Any, Sequence[str]] | None = None,
) -> _AttritionFit:
    _check_columns(data, [outcome, *covariates, *numerator], kind=kind)
    unknown = [name for name in numerator if name not in covariates]
    if unknown:
        raise ModelError(
            f"{kind}: numerator covariate(s) {', '.join(unknown)} must also be in covariates "
            "(stabilised weights condition the numerator on a subset of the denominator's covariates)"
        )
    frame = data.reset_index()
    frame["wave"] = frame["wave"].astype("int64")
    waves = sorted(int(wave) for wave in frame["wave"].unique())
    if len(waves) < 2:
        raise ModelError(f"{kind}: the panel has {len(waves)} wave(s); attrition needs a baseline and a later wave")
    values = _numeric(frame[outcome])
    frame["_observed"] = values.notna().to_numpy()
    frame["_value"] = values.to_numpy()
    baseline = waves[0]

    # One row per family: its covariates, family-level, read on its first row (the baseline's when it has one).
    first_rows = frame.sort_values(["family_id", "wave"]).drop_duplicates("family_id").set_index("family_id")
    families = pd.DataFrame({name: _numeric(first_rows[name]) for name in covariates}, index=first_rows.index)
    observed = frame.pivot_table(index="family_id", columns="wave", values="_observed", aggfunc="any")
    observed = observed.reindex(index=families.index, columns=waves).astype("boolean").fillna(False).astype(bool)
    value = frame.pivot_table(index="family_id", columns="wave", values="_value", aggfunc="first", dropna=False)
    value = value.reindex(index=families.index, columns=waves)

    with_baseline = observed[baseline].to_numpy()
    # In follow-up at wave k: observed at k or at a later wave (a missed wave between two answered
    # ones is an intermittent miss, taken as missing at random, not as dropout).
    seen = observed.to_numpy()
    followed = np.flip(np.logical_or.accumulate(np.flip(seen, axis=1), axis=1), axis=1)
    intermittent = int((followed & ~seen)[with_baseline].sum())
    last_value = value.ffill(axis=1).to_numpy()
    # A wave not due yet (its window still open at the data's horizon) says nothing about
    # dropout: the family leaves the risk set there rather than counting as lost. A family
    # followed at a wave was due there, whatever the table says.
    if isinstance(due, Mapping):
        due = _due_from_not_due(due, families=families.index, waves=waves)
    if due is None:
        is_due = np.ones_like(seen)
    else:
        due_table = due.copy()
        due_table.columns = [int(column) for column in due_table.columns]
        is_due = due_table.reindex(index=families.index, columns=waves).astype("boolean").fillna(True).to_numpy(dtype=bool)
    is_due = is_due | followed
    not_yet_due = int((~is_due[:, 1:])[with_baseline].sum()) if len(waves) > 1 else 0

    pieces = []
    for position, wave in enumerate(waves[1:], start=1):
        at_risk = with_baseline & followed[:, position - 1] & is_due[:, position]
        piece = families.loc[at_risk].copy()
        piece["wave"] = wave
        piece["followed"] = followed[at_risk, position].astype("float64")
        if previous:
            piece[f"previous_{outcome}"] = last_value[at_risk, position - 1]
        pieces.append(piece)
    risk = pd.concat(pieces).reset_index()
    terms = [*covariates, *([f"previous_{outcome}"] if previous else [])]
    complete = risk[terms].notna().all(axis=1) if terms else pd.Series(True, index=risk.index)
    risk = risk.loc[complete].reset_index(drop=True)
    dropout_seen = not risk.empty and risk["followed"].nunique() == 2
    if require_dropout and not dropout_seen:
        raise ModelError(
            f"{kind}: no dropout to model (every family at risk is followed at every wave, or none is); "
            "the rule is at least one family staying and one leaving among families with a baseline "
            f"{outcome} and complete covariates"
        )

    later = [str(wave) for wave in waves[1:]]
    design = _design(risk, terms, later)
    denominator = numerator_fit = None
    ratio = np.ones(len(risk))
    if dropout_seen:
        present = risk.groupby("wave")["followed"].agg(["min", "max"])
        constant_waves = [int(w) for w, row in present.iterrows() if row["min"] == row["max"]]
        denominator = fit_logit(risk["followed"].to_numpy(), design)
        numerator_fit = fit_logit(risk["followed"].to_numpy(), _design(risk, list(numerator), later))
        p_denominator = np.clip(np.asarray(denominator.fittedvalues, dtype="float64"), PROBABILITY_FLOOR, 1.0)
        p_numerator = np.clip(np.asarray(numerator_fit.fittedvalues, dtype="float64"), PROBABILITY_FLOOR, 1.0)
        # A wave where everyone at risk stays (or leaves) needs no correction: factor 1.
        ratio = np.where(risk["wave"].isin(constant_waves), 1.0, p_numerator / p_denominator)
    risk["_ratio"] = ratio
    factors = risk.loc[risk["followed"] == 1].pivot_table(index="family_id", columns="wave", values="_ratio")
    factors = factors.reindex(columns=waves[1:])
    cumulative = factors.cumprod(axis=1, skipna=False)
    cumulative.insert(0, baseline, 1.0)
    modelled = risk["family_id"].unique()
    cumulative = cumulative.reindex(index=pd.Index(modelled, name="family_id"))
    cumulative[baseline] = 1.0

    index = data.index
    family_of = index.get_level_values("family_id")
    wave_of = index.get_level_values("wave").astype("int64")
    lookup = cumulative.stack(future_stack=True)
    keys = pd.MultiIndex.from_arrays([family_of, wave_of])
    weights = pd.Series(lookup.reindex(keys).to_numpy(dtype="float64"), index=index, name="attrition_weight")
    # Every baseline row weighs 1 (nothing has been lost yet), modelled family or not.
    weights[np.asarray(wave_of == baseline)] = 1.0
    return _AttritionFit(
        risk=risk.drop(columns=["_ratio"]),
        denominator=denominator,
        numerator=numerator_fit,
        denominator_terms=list(design.columns),
        weights=weights,
        waves=waves,
        families_without_baseline=int((~with_baseline).sum()),
        intermittent_missing=intermittent,
        not_yet_due=not_yet_due,
        due_at_wave={int(wave): int(is_due[with_baseline, position].sum()) for position, wave in enumerate(waves)},
        due_table=pd.DataFrame(is_due, index=families.index, columns=waves),
    )


def _due_from_not_due(not_due: Mapping[Any, Sequence[str]], *, families: pd.Index, waves: Sequence[int]) -> pd.DataFrame:
    """The family x wave table of waves due, from the ids of the families not due at each wave."""
    table = pd.DataFrame(True, index=families, columns=list(waves))
    for wave, ids in not_due.items():
        if int(wave) in table.columns:
            table.loc[table.index.isin(list(ids)), int(wave)] = False
    return table


def _design(risk: pd.DataFrame, terms: Sequence[str], later: Sequence[str]) -> pd.DataFrame:
    """One intercept per later wave (``wave[6]``...) then the covariates as they are named."""
    columns = {f"wave[{wave}]": (risk["wave"].astype(str) == wave).astype("float64") for wave in later}
    for name in terms:
        column = risk[name]
        if column.dtype == object:
            # A categorical covariate: one dummy per level but the first (sorted).
            levels = sorted(str(level) for level in column.dropna().unique())
            for level in levels[1:]:
                columns[f"{name}[{level}]"] = (column.astype(str) == level).astype("float64")
        else:
            columns[name] = column.astype("float64")
    return pd.DataFrame(columns, index=risk.index)


# ---------------------------------------------------------------------------- public API
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
    return _fit_attrition(
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

    def _fit(self, data: pd.DataFrame) -> _AttritionFit:
        return _fit_attrition(
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


def _by_wave(data: pd.DataFrame, result: _AttritionFit, outcome: str) -> pd.DataFrame:
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


def _by_isolation(data: pd.DataFrame, result: _AttritionFit, outcome: str) -> pd.DataFrame:
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

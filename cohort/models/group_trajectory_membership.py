"""Group membership as an outcome: a multinomial logit of each entity's modal trajectory group on
its baseline covariates (statsmodels ``MNLogit``), after a group-based trajectory model.

Used by :meth:`~proximite.cohort.models.group_trajectory.GroupTrajectoryResults.membership_model`
and by the ``covariates`` option of
:class:`~proximite.cohort.models.group_trajectory.GroupTrajectory`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.models.base import ModelError, ModelResults

__all__ = ["baseline_covariates", "entity_columns", "membership_model"]

#: The ``model`` of the multinomial's results.
MEMBERSHIP_KIND = "group_membership"


def entity_columns(data: pd.DataFrame, names: Sequence[str], *, kind: str) -> pd.DataFrame:
    """The named columns of ``data`` (columns or index levels) as a new frame with a plain index.

    Raises
    ------
    ModelError
        A name is neither a column nor an index level (the message names it).
    """
    levels = [name for name in data.index.names if name is not None]
    missing = [name for name in dict.fromkeys(names) if name not in data.columns and name not in levels]
    if missing:
        raise ModelError(f"{kind}: no column {', '.join(repr(name) for name in missing)} in the data (neither a column nor an index level)")
    # ``.array`` keeps nullable dtypes (a pandas ``Float64`` outcome, a ``boolean`` covariate)
    return pd.DataFrame({
        name: (data[name].array if name in data.columns else data.index.get_level_values(name).array)
        for name in dict.fromkeys(names)
    })


def baseline_covariates(data: pd.DataFrame, *, entity: str, time: str, covariates: Sequence[str], kind: str) -> pd.DataFrame:
    """Each entity's baseline covariates: the earliest non-missing value of each, one row per entity.

    Numbers and booleans come back as float (NaN for missing), other columns as text (they are
    read as categories).
    """
    frame = entity_columns(data, [entity, time, *covariates], kind=kind)
    frame = frame.loc[frame[entity].notna()].sort_values(time, kind="stable")
    first = frame.groupby(entity, sort=True)[list(covariates)].first()
    plain = {}
    for name, column in first.items():
        if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_numeric_dtype(column.dtype):
            plain[name] = column.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
        else:
            plain[name] = column.astype(object).where(column.notna(), None).to_numpy()
    return pd.DataFrame(plain, index=first.index)


def _fit_mnlogit(codes: np.ndarray, design: pd.DataFrame) -> tuple[Any, int]:
    """statsmodels MNLogit fitted quietly; the fit and how many warnings it raised."""
    import statsmodels.api as sm

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            native = sm.MNLogit(codes, design).fit(disp=False, maxiter=200)
        except (np.linalg.LinAlgError, ValueError) as error:
            raise ModelError(f"{MEMBERSHIP_KIND}: the multinomial logit cannot be fitted ({error}); "
                             "drop a covariate or fit fewer groups") from None
    return native, len(caught)


def membership_model(
    memberships: pd.DataFrame,
    baseline: pd.DataFrame,
    covariates: Sequence[str],
    *,
    reference: int = 1,
    confidence: float = 0.95,
) -> ModelResults:
    """Multinomial logit of the modal trajectory group on baseline covariates.

    Parameters
    ----------
    memberships : DataFrame
        :meth:`GroupTrajectoryResults.memberships`: indexed by entity, column ``group``.
    baseline : DataFrame
        :func:`baseline_covariates`: indexed by entity.
    covariates : sequence of str
        The right-hand side (patsy: text columns become categories, ``environment[T.rural]``).
    reference : int, keyword-only
        The group the others are compared with (default 1, the lowest level).
    confidence : float, keyword-only

    Returns
    -------
    ModelResults
        ``model`` ``"group_membership"``; one row per group but the reference and term
        (``g2:isolated_at_contact``: log relative risk of group 2 against the reference), with
        ``relative_risk_ratio``; statistics ``nobs`` (entities), ``groups``, ``reference``,
        ``llf``, ``pseudo_r2``, ``llr_pvalue``.

    Notes
    -----
    :math:`\\log P(g_i = j) / P(g_i = r) = x_i^\\top\\gamma_j`, :math:`g_i` the entity's
    highest-posterior group ("classify-analyze"): the standard errors ignore the uncertainty of
    the classification, which is small when every group's APP is high (≥ 0.9) and understated
    otherwise.
    """
    from patsy import PatsyError, dmatrix
    from scipy.special import ndtri

    if not covariates:
        raise ModelError(f"{MEMBERSHIP_KIND}: give at least one covariate")
    frame = memberships[["group"]].join(baseline[list(covariates)], how="inner").dropna()
    present = sorted(int(group) for group in frame["group"].unique())
    if reference not in present or len(present) < 2:
        raise ModelError(f"{MEMBERSHIP_KIND}: needs the reference group {reference} and another group among the entities "
                         f"with every covariate (groups assigned: {', '.join(map(str, present)) or 'none'})")
    try:
        design = dmatrix(" + ".join(covariates), frame, return_type="dataframe")
    except PatsyError as error:
        raise ModelError(f"{MEMBERSHIP_KIND}: cannot read the covariates {', '.join(covariates)}: {error}") from None
    others = [group for group in present if group != reference]
    codes = frame["group"].map({reference: 0, **{group: index + 1 for index, group in enumerate(others)}}).to_numpy()
    native, caught = _fit_mnlogit(codes, design)
    z = float(ndtri(0.5 + confidence / 2))
    params, errors, pvalues = (np.asarray(table, dtype="float64") for table in (native.params, native.bse, native.pvalues))
    rows = []
    for column, group in enumerate(others):
        for row, term in enumerate(design.columns):
            estimate, error = params[row, column], errors[row, column]
            rows.append({"term": f"g{group}:{term}", "estimate": estimate, "std_error": error, "ci_lower": estimate - z * error,
                         "ci_upper": estimate + z * error, "p_value": pvalues[row, column], "group": group, "covariate": term,
                         "relative_risk_ratio": float(np.exp(estimate))})
    statistics: dict[str, Any] = {
        "nobs": int(len(frame)), "groups": len(present), "reference": int(reference), "llf": float(native.llf),
        "llnull": float(native.llnull), "pseudo_r2": float(native.prsquared), "llr_pvalue": float(native.llr_pvalue),
        "converged": bool(native.mle_retvals.get("converged", True)), "assignment": "modal (classify-analyze)", "warnings": caught,
    }
    return ModelResults(
        model=MEMBERSHIP_KIND, summary=pd.DataFrame(rows).set_index("term"), statistics=statistics,
        title=f"{MEMBERSHIP_KIND}: modal group ~ {' + '.join(covariates)} (reference group {reference})",
        confidence=confidence, native=native,
    )

"""Reach: families reached by the PTP, share isolated at first contact, their children.

Registry indicators, one row per scope cell and registry period (the waves' calendar windows,
quarters or years, see :func:`~proximite.indicators.base.registry_periods`) plus one period
``all`` spanning the whole follow-up:

- ``reach.families_reached``: distinct families with at least one accompaniment activity (an
  activity whose ``family_id`` is set) in the period;
- ``reach.isolated_at_contact_share``: families reached that were isolated at first contact,
  over families reached (Wilson interval);
- ``reach.children``: children of the families reached;
- ``reach.children_unborn_share``: of those children, the share unborn at the first contact;
- ``reach.children_0_5_share``: of those children, the share born and aged five or less (under
  six years) at the family's first contact.

A family counts once per period, in its own territory (the ``family`` table's), and only when it
is in the ``family`` table (the registry may name families the cohort does not hold: their
isolation at contact and children are unknown, so they are left out of every reach indicator).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from proximite.indicators.base import (
    ALL,
    SCOPE_KEYS,
    IndicatorParameters,
    assign_periods,
    empty_indicator_frame,
    expand_scopes,
    indicator_frame,
    registry_periods,
    wilson_interval,
)

__all__ = [
    "INDICATORS",
    "child_ages",
    "children",
    "children_0_5_share",
    "children_unborn_share",
    "compute",
    "families_reached",
    "isolated_at_contact_share",
    "reach_totals",
    "reached_families",
]

#: The indicator ids this module emits.
INDICATORS: tuple[str, ...] = (
    "reach.families_reached",
    "reach.isolated_at_contact_share",
    "reach.children",
    "reach.children_unborn_share",
    "reach.children_0_5_share",
)

#: A child is "aged five or less" at the first contact when fewer than this many whole calendar
#: months separate its birth month from the first-contact month (under six years).
YOUNG_MONTHS = 72

_COUNT_METHOD = "count of distinct families with at least one accompaniment activity in the period"
_LABEL_COLUMNS = SCOPE_KEYS + ["period", "wave", "period_start", "period_end"]


def child_ages(child: pd.DataFrame, family: pd.DataFrame) -> pd.DataFrame:
    """Each child's status at its family's first contact (a new frame).

    Parameters
    ----------
    child : DataFrame
        The harmonised child table (``family_id``, ``birth_month`` as ``YYYY-MM``,
        ``unborn_at_contact``).
    family : DataFrame
        The harmonised family table (``family_id``, ``first_contact_date``).

    Returns
    -------
    DataFrame
        ``family_id``, ``unborn_known``, ``unborn``, ``age_known`` and ``young`` (float 0/1), one
        row per child of a family in ``family``.

    Notes
    -----
    With :math:`m` the whole calendar months from the birth month to the first-contact month,

    .. math:: \\text{young} = [\\text{born at contact}] \\cdot [0 \\le m < 72]

    as the generator (``cohort/sandbox/_families.py``) defines "aged five or less": a *born*
    child under six years at the family's first contact; its ages stay 35 days away from the
    six-year boundary, so the month-level birth date gives the same answer. Unborn children
    are never young but stay in the denominator (``age_known``); a born child without a
    usable birth month (missing, or after the first contact) is left out of it.
    """
    contact = family[["family_id", "first_contact_date"]].drop_duplicates("family_id")
    joined = child[["family_id", "birth_month", "unborn_at_contact"]].merge(contact, on="family_id", how="inner")
    unborn = joined["unborn_at_contact"].astype("boolean")
    birth = pd.to_datetime(joined["birth_month"].astype("string"), format="%Y-%m", errors="coerce")
    contact_date = pd.to_datetime(joined["first_contact_date"])
    months = (contact_date.dt.year - birth.dt.year) * 12 + (contact_date.dt.month - birth.dt.month)
    months = months.to_numpy(dtype="float64", na_value=np.nan)
    is_unborn = unborn.fillna(False).to_numpy(dtype=bool)
    born = (~unborn).fillna(False).to_numpy(dtype=bool)
    with np.errstate(invalid="ignore"):
        aged = (months >= 0) & (months < YOUNG_MONTHS)
        dated = months >= 0
    return pd.DataFrame(
        {
            "family_id": joined["family_id"].to_numpy(),
            "unborn_known": unborn.notna().to_numpy(dtype="float64"),
            "unborn": is_unborn.astype("float64"),
            "age_known": (is_unborn | (born & dated)).astype("float64"),
            "young": (born & aged).astype("float64"),
        }
    )


def reached_families(
    activity: pd.DataFrame, family: pd.DataFrame, *, parameters: IndicatorParameters
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Which families were reached in which period.

    Parameters
    ----------
    activity : DataFrame
        The harmonised activity table (``family_id``, ``activity_date``).
    family : DataFrame
        The harmonised family table.
    parameters : IndicatorParameters, keyword-only
        ``periods`` chooses the registry periods, ``as_of`` ends the data.

    Returns
    -------
    (DataFrame, DataFrame)
        ``reached``: one row per (family_id, period) with the family's ``territory_id``,
        including the period ``all``; ``periods``: ``period``, ``wave``, ``period_start``,
        ``period_end`` (the registry periods then ``all``). Both empty without dated activity.

    Notes
    -----
    The periods span the registry: from the first to the last dated activity (or
    ``parameters.as_of``; later activities are dropped). An activity is an accompaniment when
    its ``family_id`` is set; a family is reached in period :math:`p` when
    :math:`|\\{a : \\text{family}(a) = f,\\ \\text{date}(a) \\in p\\}| \\ge 1`.
    """
    dates = pd.to_datetime(activity["activity_date"])
    if parameters.as_of is not None:
        keep = dates <= pd.Timestamp(parameters.as_of)
        dates = dates[keep]
        activity = activity.loc[keep]
    dates = dates.dropna()
    empty_periods = pd.DataFrame(
        {
            "period": pd.Series(dtype="string"),
            "wave": pd.Series(dtype="Int64"),
            "period_start": pd.Series(dtype="datetime64[ns]"),
            "period_end": pd.Series(dtype="datetime64[ns]"),
        }
    )
    empty_reached = pd.DataFrame(
        {"family_id": pd.Series(dtype="string"), "period": pd.Series(dtype="string"),
         "territory_id": pd.Series(dtype="string")}
    )
    if dates.empty:
        return empty_reached, empty_periods
    first = dates.min()
    last = pd.Timestamp(parameters.as_of) if parameters.as_of is not None else dates.max()
    periods = registry_periods(family, parameters=parameters, first_date=first, last_date=last)
    whole = pd.DataFrame(
        {"period": [ALL], "wave": [pd.NA], "period_start": [first.normalize()], "period_end": [last.normalize()]}
    )
    periods = pd.concat([periods, whole.astype({"wave": "Int64", "period": "string"})], ignore_index=True)

    contacts = activity.loc[activity["family_id"].notna(), ["family_id", "activity_date"]]
    contacts = contacts.loc[contacts["activity_date"].notna()]
    # Only families the cohort holds: their isolation at contact and children are known.
    home = family[["family_id", "territory_id"]].drop_duplicates("family_id")
    contacts = contacts.merge(home, on="family_id", how="inner")
    by_period = pd.DataFrame(
        {
            "family_id": contacts["family_id"].to_numpy(),
            "territory_id": contacts["territory_id"].to_numpy(),
            "period": assign_periods(contacts["activity_date"], periods.iloc[:-1]).to_numpy(),
        }
    ).dropna(subset=["period"])
    whole_span = contacts[["family_id", "territory_id"]].assign(period=ALL)
    reached = pd.concat([by_period, whole_span], ignore_index=True).drop_duplicates(["family_id", "period"])
    reached = reached.astype({"family_id": "string", "territory_id": "string", "period": "string"})
    return reached.reset_index(drop=True), periods


def reach_totals(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """The sums every reach indicator is made of, per scope cell and registry period.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables; uses ``activity``, ``family``, ``child`` and ``territory`` (not
        modified).
    parameters : IndicatorParameters, keyword-only
        ``parameters.scopes`` chooses the scope levels computed.

    Returns
    -------
    DataFrame
        One row per scope cell and period (the registry periods and ``all``), with the scope
        keys, ``period``, ``wave`` (always missing: the period label names a wave window),
        ``period_start``, ``period_end`` and the sums ``reached``, ``isolated_known``,
        ``isolated``, ``children``, ``unborn_known``, ``unborn``, ``age_known``, ``young``.
        Empty when no family was reached.

    Notes
    -----
    Counts are additive, so they are summed per territory first and then rolled up with
    :func:`~proximite.indicators.base.expand_scopes` (a few hundred rows to expand).
    """
    family, child, activity, territory = (tables[name] for name in ("family", "child", "activity", "territory"))
    reached, periods = reached_families(activity, family, parameters=parameters)
    if reached.empty:
        return pd.DataFrame()
    unique = family.drop_duplicates("family_id")
    isolated = unique["isolated_at_contact"].astype("boolean")
    per_family = pd.DataFrame(
        {
            "family_id": unique["family_id"].to_numpy(),
            "isolated_known": isolated.notna().to_numpy(dtype="float64"),
            "isolated": isolated.fillna(False).to_numpy(dtype="float64"),
        }
    )
    ages = child_ages(child, family)
    ages["children"] = 1.0
    child_sums = ages.groupby("family_id", sort=False).sum()
    per_family = per_family.merge(child_sums, left_on="family_id", right_index=True, how="left")
    per_family = per_family.fillna(0.0)

    units = reached.merge(per_family, on="family_id", how="left")
    units["reached"] = 1.0
    sums = ["reached", "isolated_known", "isolated", "children", "unborn_known", "unborn", "age_known", "young"]
    per_territory = units.groupby(["territory_id", "period"], observed=True, sort=False)[sums].sum().reset_index()
    cells = expand_scopes(per_territory, territory, strata=parameters.strata, scopes=parameters.scopes)
    totals = cells.groupby(SCOPE_KEYS + ["period"], observed=True, sort=False)[sums].sum().reset_index()
    totals = totals.merge(periods, on="period", how="left")
    # Registry rows are dated by period only (one convention across families); T6 names the window.
    totals["wave"] = pd.array([pd.NA] * len(totals), dtype="Int64")
    return totals


def families_reached(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, totals: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``reach.families_reached``: distinct families with an accompaniment activity in the period.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables (see :func:`reach_totals`; not modified).
    parameters : IndicatorParameters, keyword-only
    totals : DataFrame, keyword-only
        :func:`reach_totals` of the same tables and parameters, when already computed.

    Returns
    -------
    DataFrame
        Indicator rows (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`), unit ``count``.

    Notes
    -----
    Per cell :math:`c` and period :math:`p`, with :math:`F_{cp}` the families reached
    (:func:`reached_families`): :math:`|F_{cp}|`; no interval, no denominator.
    """
    return _count_indicator(tables, parameters, totals, "reach.families_reached", "reached", _COUNT_METHOD)


def isolated_at_contact_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, totals: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``reach.isolated_at_contact_share``: families reached that were isolated at first contact.

    Parameters and returns as :func:`families_reached` (unit ``share``).

    Notes
    -----
    .. math:: \\frac{\\sum_{f \\in F_{cp}} [\\text{isolated at contact}_f]}
                     {|\\{f \\in F_{cp} : \\text{known}\\}|}

    with a Wilson interval at ``parameters.confidence``; ``n`` = families whose status is known.
    """
    return _share_indicator(tables, parameters, totals, "reach.isolated_at_contact_share", "isolated", "isolated_known")


def children(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, totals: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``reach.children``: children of the families reached.

    Parameters and returns as :func:`families_reached` (unit ``count``).

    Notes
    -----
    .. math:: \\sum_{f \\in F_{cp}} n_f

    with :math:`n_f` the children of family :math:`f` in the ``child`` table.
    """
    return _count_indicator(
        tables, parameters, totals, "reach.children", "children", "count of the children of the families reached"
    )


def children_unborn_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, totals: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``reach.children_unborn_share``: of the children of the families reached, the share unborn at contact.

    Parameters and returns as :func:`families_reached` (unit ``share``).

    Notes
    -----
    .. math:: \\frac{\\sum \\text{unborn}}{\\sum n_f}

    over the children whose status at contact is known (:func:`child_ages`); Wilson interval.
    """
    return _share_indicator(tables, parameters, totals, "reach.children_unborn_share", "unborn", "unborn_known")


def children_0_5_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, totals: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``reach.children_0_5_share``: of the children of the families reached, the share born and aged five or less.

    Parameters and returns as :func:`families_reached` (unit ``share``).

    Notes
    -----
    .. math:: \\frac{\\sum \\text{born and under six}}{\\sum n_f}

    over the children whose age at contact is known (:func:`child_ages`: unborn children stay in
    the denominator); Wilson interval.
    """
    return _share_indicator(tables, parameters, totals, "reach.children_0_5_share", "young", "age_known")


def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """Reach indicators per scope cell and registry period (and the whole follow-up).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The harmonised tables; uses ``activity``, ``family``, ``child`` and ``territory`` (not
        modified).
    parameters : IndicatorParameters, keyword-only
        ``parameters.scopes`` chooses the scope levels computed.

    Returns
    -------
    DataFrame
        The tidy indicator table (:data:`~proximite.indicators.base.INDICATOR_COLUMNS`) with the
        ids of :data:`INDICATORS`, breakdown ``all``; ``wave`` is missing, as on every registry
        row: the period label (``T6`` for a wave window) says which window it is.

    Notes
    -----
    Per cell :math:`c` and period :math:`p`, with :math:`F_{cp}` the families reached,

    .. math::

        \\text{families reached} = |F_{cp}|, \\qquad
        \\text{share isolated} = \\frac{\\sum_{f \\in F_{cp}} [\\text{isolated at contact}_f]}
                                       {|\\{f \\in F_{cp} : \\text{known}\\}|}

        \\text{children} = \\sum_{f \\in F_{cp}} n_f, \\qquad
        \\text{share unborn} = \\frac{\\sum \\text{unborn}}{\\sum n_f}, \\qquad
        \\text{share aged} \\le 5 = \\frac{\\sum \\text{born and under six}}{\\sum n_f}

    (see :func:`child_ages`; children of unknown status leave the denominator). Shares get
    Wilson intervals at ``parameters.confidence``; counts have none (numerator = value, no
    denominator). Counts are additive, so they are summed per territory first and then rolled
    up with :func:`~proximite.indicators.base.expand_scopes`.
    """
    totals = reach_totals(tables, parameters=parameters)
    if totals.empty:
        return empty_indicator_frame()
    frames = [
        indicator(tables, parameters=parameters, totals=totals)
        for indicator in (families_reached, isolated_at_contact_share, children, children_unborn_share,
                          children_0_5_share)
    ]
    return indicator_frame(pd.concat(frames, ignore_index=True))


def _count_indicator(
    tables: Mapping[str, pd.DataFrame],
    parameters: IndicatorParameters,
    totals: pd.DataFrame | None,
    indicator: str,
    column: str,
    method: str,
) -> pd.DataFrame:
    """Count rows of one indicator: numerator = value = the column's sum, no denominator or interval."""
    totals = reach_totals(tables, parameters=parameters) if totals is None else totals
    if totals.empty:
        return empty_indicator_frame()
    counts = totals[column].to_numpy()
    return indicator_frame(
        totals[_LABEL_COLUMNS].assign(
            indicator=indicator, numerator=counts, denominator=np.nan, value=counts, ci_low=np.nan,
            ci_high=np.nan, n=counts.astype("int64"), unit="count", method=method,
        )
    )


def _share_indicator(
    tables: Mapping[str, pd.DataFrame],
    parameters: IndicatorParameters,
    totals: pd.DataFrame | None,
    indicator: str,
    numerator: str,
    denominator: str,
) -> pd.DataFrame:
    """Share rows of one indicator: numerator / denominator with a Wilson interval."""
    totals = reach_totals(tables, parameters=parameters) if totals is None else totals
    if totals.empty:
        return empty_indicator_frame()
    k = totals[numerator].to_numpy()
    n = totals[denominator].to_numpy()
    low, high = wilson_interval(k, n, confidence=parameters.confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, k / n, np.nan)
    return indicator_frame(
        totals[_LABEL_COLUMNS].assign(
            indicator=indicator, numerator=k, denominator=n, value=value, ci_low=low, ci_high=high,
            n=n.astype("int64"), unit="share", method="wilson",
        )
    )

"""The qualitative strand: themes coded in interviews and focus groups, by territory, participant type and period.

Two indicators of the catalogue, family ``qualitative``, per registry period
(:func:`~proximite.indicators.base.registry_periods` over the referral, activity and session
dates: the waves' calendar windows, quarters or years) and for the whole follow-up (``all``):

- ``qualitative.sessions``: the sessions analysed, i.e. the register's sessions (consent in
  force, held by ``as_of``) that have at least one coded segment in a ``.qdpx`` project;
- ``qualitative.theme_sessions``: among them, the sessions in which a theme was coded (a code of
  the theme or one of its sub-codes, ``themes.yaml``), one row per theme with ``breakdown`` = its
  axis (``qual_axis``: acceptabilite, pertinence, efficacite, effets_systemiques, autre) and
  ``breakdown_value`` = the theme's name as the team wrote it.

Both are counts of sessions (people spoke in them): disclosure control suppresses a count from 1
to the threshold − 1, so a theme coded in fewer sessions than the threshold is not shown. Rows
are split by the sessions' participant type as a stratum (``stratum = participant_type``) at
every scope, territories included, beside the usual ``all`` and territory strata (environment,
host type) at the region and Québec scopes; a territory's participant-type row adds up to its
region's (:mod:`~proximite.indicators.disclosure.groups`). Segment counts (how often a code was
applied) stay in the warehouse (``qual_coding.segments``): coding density varies between coders,
and a segment count would give away the session count it is drawn from.

:data:`AXIS_FAMILY` ties each axis to the indicator family that measures it, for the joint
display. The functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from proximite.cohort.codebook import load_codebook
from proximite.indicators.base import (
    ALL,
    SCOPE_KEYS,
    IndicatorParameters,
    assign_periods,
    empty_indicator_frame,
    expand_scopes,
    indicator_frame,
    registry_periods,
)

__all__ = [
    "AXES",
    "AXIS_FAMILY",
    "INDICATORS",
    "PARTICIPANT_TYPE",
    "compute",
    "coded_sessions",
    "sessions",
    "theme_sessions",
]

SESSIONS_ID = "qualitative.sessions"
THEME_ID = "qualitative.theme_sessions"
#: The indicator ids this module emits.
INDICATORS: tuple[str, ...] = (SESSIONS_ID, THEME_ID)
#: The stratum of the sessions' participant type.
PARTICIPANT_TYPE = "participant_type"
#: The axes of ``qual_axis``, in the order the joint display shows them (``autre``: outside the four).
AXES: tuple[str, ...] = ("acceptabilite", "pertinence", "efficacite", "effets_systemiques", "autre")
#: Axis of a theme (``qual_axis``) → the indicator family of that axis (``autre`` has none).
AXIS_FAMILY: dict[str, str] = {
    "acceptabilite": "acceptability",
    "pertinence": "relevance",
    "efficacite": "effectiveness",
    "effets_systemiques": "systemic",
}
_PERIOD_KEYS = ["period", "period_start", "period_end"]


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_datetime(frame[column]).dropna()


def coded_sessions(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sessions analysed, each once per period it counts in, and the period table.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``qual_session``, ``qual_coding``, ``family``, ``referral``, ``activity`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``periods``, ``as_of``.

    Returns
    -------
    sessions : DataFrame
        ``session_id``, ``territory_id``, ``participant_type``, ``period``: each session with
        consent and at least one coding, held by ``as_of``, once with its period and once with
        ``all``.
    periods : DataFrame
        ``period``, ``period_start``, ``period_end`` of the registry periods and ``all``, over
        the referral, activity and session dates.
    """
    register = tables["qual_session"]
    coded = set(tables["qual_coding"]["session_id"].dropna().astype(str))
    keep = register["consent"].fillna(False).astype(bool) & register["session_id"].astype("string").isin(coded).fillna(False)
    chosen = register.loc[keep.to_numpy(dtype=bool)]
    if parameters.as_of is not None:
        chosen = chosen.loc[(pd.to_datetime(chosen["session_date"]) <= pd.Timestamp(parameters.as_of)).to_numpy(dtype=bool)]
    dates = pd.concat([_dates(tables["referral"], "referral_date"), _dates(tables["activity"], "activity_date"),
                       _dates(chosen, "session_date")], ignore_index=True)
    if parameters.as_of is not None:
        dates = dates[dates <= pd.Timestamp(parameters.as_of)]
    if chosen.empty or dates.empty:
        return pd.DataFrame(columns=["session_id", "territory_id", PARTICIPANT_TYPE, "period"]), pd.DataFrame(columns=_PERIOD_KEYS)
    first = dates.min().normalize()
    last = pd.Timestamp(parameters.as_of) if parameters.as_of is not None else dates.max().normalize()
    periods = registry_periods(tables["family"], parameters=parameters, first_date=first, last_date=last)
    period_table = pd.concat(
        [periods[_PERIOD_KEYS], pd.DataFrame({"period": [ALL], "period_start": [first], "period_end": [last]})],
        ignore_index=True,
    ).astype({"period": "string"})
    units = pd.DataFrame({
        "session_id": chosen["session_id"].astype("string").to_numpy(),
        "territory_id": chosen["territory_id"].astype("string").to_numpy(),
        PARTICIPANT_TYPE: chosen[PARTICIPANT_TYPE].astype("string").to_numpy(),
        "period": assign_periods(chosen["session_date"].reset_index(drop=True), periods).to_numpy(),
    })
    units = pd.concat([units.dropna(subset=["period"]), units.assign(period=ALL)], ignore_index=True)
    return units.astype({"period": "string"}), period_table


def _scoped(units: pd.DataFrame, tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters) -> pd.DataFrame:
    """Each unit once per scope cell: the territory strata, and the participant type at every scope."""
    territory = tables["territory"]
    by_territory = expand_scopes(units, territory, strata=parameters.strata, scopes=parameters.scopes)
    by_type = expand_scopes(units, territory, strata=(), scopes=parameters.scopes)
    by_type = by_type.assign(stratum=PARTICIPANT_TYPE, stratum_value=by_type[PARTICIPANT_TYPE])
    scoped = pd.concat([by_territory, by_type], ignore_index=True)
    return scoped.astype({column: "string" for column in SCOPE_KEYS})


def _rows(counts: pd.DataFrame, periods: pd.DataFrame, indicator: str, method: str) -> pd.DataFrame:
    """Counts (``value``) with their period dates, as the indicator's tidy rows."""
    if counts.empty:
        return empty_indicator_frame()
    counts = counts.astype({"period": "string"}).merge(periods, on="period", how="left")
    values = counts["value"].astype("float64")
    return indicator_frame(counts.assign(
        value=values, numerator=values, n=values.astype("int64"), indicator=indicator, method=method,
        unit=load_codebook().indicator(indicator)["unit"],
    ))


def sessions(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, units: tuple[pd.DataFrame, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """``qualitative.sessions``: the sessions analysed, per scope, stratum (participant type too) and period.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``qual_session``, ``qual_coding``, ``family``, ``referral``, ``activity``.
    parameters : IndicatorParameters, keyword-only
        ``periods``, ``as_of``, ``strata``, ``scopes``.
    units : tuple, keyword-only
        :func:`coded_sessions` of the same tables and parameters, when already computed.

    Returns
    -------
    DataFrame
        Indicator rows, unit ``count``: ``value`` = ``numerator`` = ``n`` = sessions.

    Notes
    -----
    .. math:: S_{c,p} = \\#\\{\\text{sessions of cell } c \\text{ held in period } p
              \\text{ with consent and} \\ge 1 \\text{ coded segment}\\}

    Additive: territories add up to their region, regions to Québec, participant types and
    territory strata to ``all``.
    """
    found, periods = coded_sessions(tables, parameters=parameters) if units is None else units
    if found.empty:
        return empty_indicator_frame()
    scoped = _scoped(found, tables, parameters)
    counts = scoped.groupby([*SCOPE_KEYS, "period"], observed=True)["session_id"].nunique().rename("value").reset_index()
    return _rows(counts, periods, SESSIONS_ID, "sessions of the register (consent in force) with at least one coded "
                 "segment in a REFI-QDA project, by the session's date")


def _session_themes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """``session_id``, ``axis``, ``theme``: each theme coded in a session, once."""
    codes = tables["qual_code"][["project", "code_id", "theme", "axis"]].astype("string").dropna(subset=["theme"])
    coding = tables["qual_coding"][["session_id", "project", "code_id"]].astype("string")
    joined = coding.merge(codes, on=["project", "code_id"], how="inner")
    joined["axis"] = joined["axis"].fillna("autre")
    return joined[["session_id", "axis", "theme"]].drop_duplicates()


def theme_sessions(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, units: tuple[pd.DataFrame, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """``qualitative.theme_sessions``: per theme, the sessions analysed in which it was coded.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        As :func:`sessions`, plus ``qual_code`` (each code's theme and axis).
    parameters : IndicatorParameters, keyword-only
    units : tuple, keyword-only
        :func:`coded_sessions` of the same tables and parameters, when already computed.

    Returns
    -------
    DataFrame
        Indicator rows, unit ``count``, ``breakdown`` = the theme's axis, ``breakdown_value`` =
        the theme; ``value`` = ``numerator`` = ``n`` = sessions. No ``all`` breakdown row: a
        session codes several themes, so themes do not add up.

    Notes
    -----
    .. math:: T_{c,p,\\theta} = \\#\\{s \\in \\text{cell } c, \\text{period } p :
              \\exists\\, \\text{coding of } s \\text{ with a code } k,\\ \\mathrm{theme}(k) = \\theta\\}

    where :math:`\\mathrm{theme}(k)` is the theme of the nearest code at or above :math:`k`
    that ``themes.yaml`` lists (already resolved in ``qual_code.theme``).
    """
    found, periods = coded_sessions(tables, parameters=parameters) if units is None else units
    if found.empty:
        return empty_indicator_frame()
    themed = found.merge(_session_themes(tables), on="session_id", how="inner")
    if themed.empty:
        return empty_indicator_frame()
    scoped = _scoped(themed, tables, parameters).rename(columns={"axis": "breakdown", "theme": "breakdown_value"})
    keys = [*SCOPE_KEYS, "period", "breakdown", "breakdown_value"]
    counts = scoped.groupby(keys, observed=True)["session_id"].nunique().rename("value").reset_index()
    return _rows(counts, periods, THEME_ID, "sessions analysed in which a code of the theme (or a sub-code) was "
                 "applied at least once; breakdown = the theme's axis")


def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """Every qualitative indicator, in one tidy table (empty when no session was analysed).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``family``, ``referral``, ``activity``, ``qual_session``, ``qual_code``,
        ``qual_coding`` (not modified).
    parameters : IndicatorParameters, keyword-only

    Returns
    -------
    DataFrame
        The rows of :func:`sessions` and :func:`theme_sessions`.

    Notes
    -----
    Both count sessions; see each function.
    """
    if any(name not in tables for name in ("qual_session", "qual_code", "qual_coding")):
        return empty_indicator_frame()
    units = coded_sessions(tables, parameters=parameters)
    frames = [indicator(tables, parameters=parameters, units=units) for indicator in (sessions, theme_sessions)]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_indicator_frame()
    return indicator_frame(pd.concat(frames, ignore_index=True))

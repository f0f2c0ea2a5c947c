"""The yearly PTP and manager questionnaire, read beside the registry's supervision and turnover.

Indicators (ids of ``cohort/codebook/indicators.yaml``) per territory and survey year (``period``
is the year), rolled up to regions, Québec and their strata (environment, host type), each with
breakdown ``role`` (``ptp``, ``gestionnaire``) besides ``all``:

- ``staff_survey.supervision_monthly_share``: answers receiving supervision at least monthly;
- ``staff_survey.supervision_adequacy_share``, ``training_adequacy_share``: answers agreeing (4
  or 5 of 5) that the supervision, the training received meets their needs;
- ``staff_survey.role_clarity_mean``: the mandate's clarity (mean of its items, 1–5);
- ``staff_survey.mandate_misread_share``: answers agreeing that partners count on the PTP to fill
  service gaps outside the mandate (the pilot's "bouche-trou" problem);
- ``staff_survey.heavy_workload_share`` and ``intention_to_stay_share``.

Beside them, on the same calendar years, from the activity registry (no role breakdown):
``staff_survey.registry_supervision_hours_per_month`` and ``staff_survey.registry_worker_turnover``
(:func:`~proximite.indicators.implementation.supervision_hours_per_month` and
:func:`~proximite.indicators.implementation.worker_turnover` with yearly periods).

Staff are people: the shares and the mean count respondents, so disclosure control applies to
them as to families. The functions here do no I/O and never modify their inputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from proximite.cohort.codebook import load_codebook
from proximite.indicators import implementation
from proximite.indicators.base import (
    ALL,
    IndicatorParameters,
    empty_indicator_frame,
    indicator_frame,
    summed_shares,
    year_periods,
)
from proximite.indicators.score_trajectory import clustered_means, scope_cells

__all__ = [
    "INDICATORS",
    "StaffSurveyData",
    "compute",
    "heavy_workload_share",
    "intention_to_stay_share",
    "mandate_misread_share",
    "registry_supervision_hours_per_month",
    "registry_worker_turnover",
    "role_clarity_mean",
    "staff_survey_data",
    "supervision_adequacy_share",
    "supervision_monthly_share",
    "training_adequacy_share",
]

PREFIX = "staff_survey."
ROLE = "role"
#: Answers of 1–5 items that agree.
AGREE = (4, 5)
#: Supervision frequencies that are at least monthly.
MONTHLY = ("mensuelle", "bimensuelle", "hebdomadaire")
#: Share indicators: id suffix → (column of ``staff_survey``, the answers counted, what they say).
SHARES: dict[str, tuple[str, tuple, str]] = {
    "supervision_monthly_share": ("supervision_frequency", MONTHLY, "supervision at least monthly"),
    "supervision_adequacy_share": ("supervision_adequacy", AGREE, "agree (4-5 of 5) that supervision meets their needs"),
    "training_adequacy_share": ("training_adequacy", AGREE, "agree (4-5 of 5) that training meets their role's needs"),
    "mandate_misread_share": ("mandate_misread", AGREE, "agree (4-5 of 5) that partners count on the PTP to fill "
                              "service gaps outside the mandate"),
    "heavy_workload_share": ("workload_heavy", AGREE, "agree (4-5 of 5) that their workload is too heavy"),
    "intention_to_stay_share": ("intention_to_stay", AGREE, "agree (4-5 of 5) that they intend to hold their post in a year"),
}
#: The indicator ids this module emits, in the order :func:`compute` returns them.
INDICATORS: tuple[str, ...] = (
    *(PREFIX + name for name in SHARES), PREFIX + "role_clarity_mean",
    PREFIX + "registry_supervision_hours_per_month", PREFIX + "registry_worker_turnover",
)


@dataclass(frozen=True)
class StaffSurveyData:
    """What the staff indicators share.

    Attributes
    ----------
    answers : DataFrame
        The answers of the survey years: ``respondent_id``, ``territory_id``, ``period``,
        ``role`` and the answer columns of ``staff_survey``.
    periods : DataFrame
        The survey years (:func:`~proximite.indicators.base.year_periods`).
    """

    answers: pd.DataFrame
    periods: pd.DataFrame


def staff_survey_data(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> StaffSurveyData | None:
    """The :class:`StaffSurveyData` of the tables (None when nobody answered).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``staff_survey`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``as_of`` (answers after it are left out).
    """
    survey = tables["staff_survey"]
    keep = survey["year"].notna().to_numpy(dtype=bool) & survey["territory_id"].notna().to_numpy(dtype=bool)
    if parameters.as_of is not None:
        keep &= (pd.to_datetime(survey["response_date"]) <= pd.Timestamp(parameters.as_of)).fillna(True).to_numpy(dtype=bool)
    answers = survey.loc[keep].reset_index(drop=True)
    if answers.empty:
        return None
    answers = answers.assign(
        period=answers["year"].astype("Int64").astype("string"), territory_id=answers["territory_id"].astype("string"),
        role=answers["role"].astype("string"),
    )
    return StaffSurveyData(answers=answers, periods=year_periods(answers["year"]))


def _with_roles(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with breakdown ``role`` (its role) and once more with breakdown ``all``."""
    by_role = frame.assign(breakdown=ROLE, breakdown_value=frame["role"].astype("string"))
    return pd.concat([by_role, frame.assign(breakdown=ALL, breakdown_value=ALL)], ignore_index=True)


def _finish(rows: pd.DataFrame | None, indicator: str, data: StaffSurveyData, method: str) -> pd.DataFrame:
    """Indicator rows with the id, its unit, the method and the year's dates (empty when there is no row)."""
    if rows is None or rows.empty:
        return empty_indicator_frame()
    rows = rows.drop(columns=[c for c in ("territory_id", "period_start", "period_end") if c in rows.columns])
    rows = rows.astype({"period": "string"}).merge(data.periods, on="period", how="left")
    unit = load_codebook().indicator(indicator)["unit"]
    return indicator_frame(rows.assign(indicator=indicator, unit=unit, method=method))


def _share(name: str, tables: Mapping[str, pd.DataFrame], parameters: IndicatorParameters,
           data: StaffSurveyData | None) -> pd.DataFrame:
    """One share indicator of :data:`SHARES`: answers counted / answers given, summed up the hierarchy."""
    data = staff_survey_data(tables, parameters=parameters) if data is None else data
    if data is None:
        return empty_indicator_frame()
    column, counted, words = SHARES[name]
    answered = data.answers.loc[data.answers[column].notna()]
    values = answered[column].astype(object) if column == "supervision_frequency" else answered[column].astype("Int64")
    counts = answered.assign(numerator=values.isin(counted).to_numpy(dtype="int64"), denominator=1)
    keys = ["period", "breakdown", "breakdown_value"]
    counts = _with_roles(counts).groupby(["territory_id", *keys], as_index=False)[["numerator", "denominator"]].sum()
    rows = summed_shares(counts, tables["territory"], keys=keys, parameters=parameters)
    return _finish(rows, PREFIX + name, data, f"wilson; answers that say {words} / answers to the item")


def supervision_monthly_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: StaffSurveyData | None = None
) -> pd.DataFrame:
    """``staff_survey.supervision_monthly_share``: answers receiving supervision at least monthly.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory`` and ``staff_survey`` (not modified).
    parameters : IndicatorParameters, keyword-only
        ``strata``, ``scopes``, ``confidence``, ``as_of``.
    data : StaffSurveyData, keyword-only
        :func:`staff_survey_data` of the same tables and parameters, when already computed.

    Returns
    -------
    DataFrame
        Indicator rows per scope cell, survey year and role (and ``all``), unit ``share``.

    Notes
    -----
    .. math:: \\frac{\\#\\{\\text{answers with frequency} \\in \\{\\text{mensuelle, bimensuelle,
              hebdomadaire}\\}\\}}{\\#\\{\\text{answers to the item}\\}}

    counts summed over the cell's territories; Wilson interval; ``n`` = answers.
    """
    return _share("supervision_monthly_share", tables, parameters, data)


def supervision_adequacy_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: StaffSurveyData | None = None
) -> pd.DataFrame:
    """``staff_survey.supervision_adequacy_share``: answers agreeing that supervision meets their needs.

    Parameters and returns as :func:`supervision_monthly_share`.

    Notes
    -----
    Answers of 4 or 5 (of 5) / answers to the item, summed over the cell's territories; Wilson.
    """
    return _share("supervision_adequacy_share", tables, parameters, data)


def training_adequacy_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: StaffSurveyData | None = None
) -> pd.DataFrame:
    """``staff_survey.training_adequacy_share``: answers agreeing that training meets their role's needs.

    Parameters and returns as :func:`supervision_monthly_share`; formula as
    :func:`supervision_adequacy_share`.
    """
    return _share("training_adequacy_share", tables, parameters, data)


def mandate_misread_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: StaffSurveyData | None = None
) -> pd.DataFrame:
    """``staff_survey.mandate_misread_share``: answers saying partners use the PTP to fill service gaps.

    Parameters and returns as :func:`supervision_monthly_share`; formula as
    :func:`supervision_adequacy_share` on the "bouche-trou" item (a high share is the problem
    the pilot's focus groups named: partners misreading the PTP's mandate).
    """
    return _share("mandate_misread_share", tables, parameters, data)


def heavy_workload_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: StaffSurveyData | None = None
) -> pd.DataFrame:
    """``staff_survey.heavy_workload_share``: answers agreeing that their workload is too heavy.

    Parameters and returns as :func:`supervision_monthly_share`; formula as
    :func:`supervision_adequacy_share`.
    """
    return _share("heavy_workload_share", tables, parameters, data)


def intention_to_stay_share(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: StaffSurveyData | None = None
) -> pd.DataFrame:
    """``staff_survey.intention_to_stay_share``: answers intending to hold their post in a year.

    Parameters and returns as :func:`supervision_monthly_share`; formula as
    :func:`supervision_adequacy_share`. Read beside :func:`registry_worker_turnover`.
    """
    return _share("intention_to_stay_share", tables, parameters, data)


def role_clarity_mean(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: StaffSurveyData | None = None
) -> pd.DataFrame:
    """``staff_survey.role_clarity_mean``: how clear the PTP's mandate is (1–5).

    Parameters and returns as :func:`supervision_monthly_share` (unit ``mean``).

    Notes
    -----
    Each answer's ``role_clarity`` is the mean of its answered clarity items (the mandate is clear
    to me; partners understand it); the indicator is their mean over the cell's answers with
    :func:`~proximite.indicators.base.clustered_mean`'s interval, clustered by territory (by
    respondent within a single territory); ``n`` = answers.
    """
    data = staff_survey_data(tables, parameters=parameters) if data is None else data
    if data is None:
        return empty_indicator_frame()
    answers = _with_roles(data.answers.loc[data.answers["role_clarity"].notna()])
    pieces = []
    for (breakdown, value), group in answers.groupby(["breakdown", "breakdown_value"], sort=True):
        units = pd.DataFrame({"family_id": group["respondent_id"].to_numpy(), "territory_id": group["territory_id"].to_numpy(),
                              "wave": group["year"].astype(int).to_numpy(),
                              "score": group["role_clarity"].astype("float64").to_numpy()})
        expanded, cells = scope_cells(units, tables["territory"], strata=parameters.strata, scopes=parameters.scopes)
        if len(expanded):
            means = clustered_means(expanded, cells, "score", confidence=parameters.confidence)
            pieces.append(means.assign(period=means["wave"].astype(int).astype(str), breakdown=breakdown,
                                       breakdown_value=value).drop(columns=["wave", "cluster_by"]))
    method = "mean of the answers' clarity scores (mean of the items, 1-5); SE clustered by territory (by respondent within a territory)"
    return _finish(pd.concat(pieces, ignore_index=True) if pieces else None, PREFIX + "role_clarity_mean", data, method)


def _registry(function: Callable[..., pd.DataFrame], indicator: str, tables: Mapping[str, pd.DataFrame],
              parameters: IndicatorParameters, data: StaffSurveyData | None) -> pd.DataFrame:
    """An implementation indicator on calendar years, kept for the survey years, under this family's id."""
    data = staff_survey_data(tables, parameters=parameters) if data is None else data
    if data is None:
        return empty_indicator_frame()
    rows = function(tables, parameters=dataclasses.replace(parameters, periods="year"))
    rows = rows.loc[rows["period"].isin(data.periods["period"]).to_numpy(dtype=bool)]
    if rows.empty:
        return empty_indicator_frame()
    unit = load_codebook().indicator(indicator)["unit"]
    method = rows["method"].astype(str) + " (activity registry, calendar year of the survey)"
    return indicator_frame(rows.assign(indicator=indicator, unit=unit, method=method))


def registry_supervision_hours_per_month(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: StaffSurveyData | None = None
) -> pd.DataFrame:
    """``staff_survey.registry_supervision_hours_per_month``: the registry's supervision hours, per survey year.

    Parameters and returns as :func:`supervision_monthly_share` (unit ``hours``; ``tables`` also
    needs ``worker``, ``supervision``, ``activity``, ``referral`` and ``family``).

    Notes
    -----
    :func:`~proximite.indicators.implementation.supervision_hours_per_month` with calendar-year
    periods (session hours / months of PTP tenure in the year, ratio interval clustered by
    worker), for the years the questionnaire was answered: what the answers on supervision can be
    read beside.
    """
    return _registry(implementation.supervision_hours_per_month, PREFIX + "registry_supervision_hours_per_month",
                     tables, parameters, data)


def registry_worker_turnover(
    tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters, data: StaffSurveyData | None = None
) -> pd.DataFrame:
    """``staff_survey.registry_worker_turnover``: the registry's PTP departures per PTP-year, per survey year.

    Parameters and returns as :func:`registry_supervision_hours_per_month` (unit ``rate``).

    Notes
    -----
    :func:`~proximite.indicators.implementation.worker_turnover` with calendar-year periods
    (departures / PTP-years in post, exact Poisson interval), for the years the questionnaire
    was answered: what :func:`intention_to_stay_share` can be read beside.
    """
    return _registry(implementation.worker_turnover, PREFIX + "registry_worker_turnover", tables, parameters, data)


def compute(tables: Mapping[str, pd.DataFrame], *, parameters: IndicatorParameters) -> pd.DataFrame:
    """Every PTP and manager questionnaire indicator, in one tidy table.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``territory``, ``staff_survey`` and, for the registry's figures, ``worker``,
        ``supervision``, ``activity``, ``referral`` and ``family`` (not modified).
    parameters : IndicatorParameters, keyword-only

    Returns
    -------
    DataFrame
        The rows of each indicator function (:data:`INDICATORS`); empty when nobody answered.

    Notes
    -----
    Shares add counts up the hierarchy (Wilson); the clarity mean is a clustered mean; the
    registry's figures are the implementation family's on calendar years. See each function.
    """
    data = staff_survey_data(tables, parameters=parameters)
    if data is None:
        return empty_indicator_frame()
    functions = (supervision_monthly_share, supervision_adequacy_share, training_adequacy_share, mandate_misread_share,
                 heavy_workload_share, intention_to_stay_share, role_clarity_mean, registry_supervision_hours_per_month,
                 registry_worker_turnover)
    frames = [function(tables, parameters=parameters, data=data) for function in functions]
    frames = [frame for frame in frames if len(frame)]
    return indicator_frame(pd.concat(frames, ignore_index=True)) if frames else empty_indicator_frame()

"""The yearly questionnaires' tables: ``partner_response``, ``partner_tie`` and ``staff_survey``.

Staged forms (:mod:`proximite.cohort.sources.surveys`) → harmonised rows:

- ``organisme`` (one row per responding organisation and year) → ``partner_response``: the year
  is the row's event's (``annee_2024_arm_1`` → 2024), the territory its data access group's;
  ``response_id`` is the pseudonym of ``partner_survey:<record id>:<event>``;
- ``partenaire`` (a repeat instance per partner named) → ``partner_tie``: the response's id, the
  responding organisation (``from_org_id``, from the response's ``organisme`` row) and the
  partner named, its contact frequency, collaboration level and the six 1–4 items;
- ``questionnaire`` (one row per PTP or manager and year) → ``staff_survey``:
  ``respondent_id`` is the pseudonym of ``staff_survey:<record id>`` (the same person from one
  year to the next), ``role_clarity`` the mean of its answered items.

Which field feeds which column is the questionnaire's ``target`` in ``surveys.yaml``. Nothing
here reads or writes files, and no input frame is modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from proximite.cohort.harmonise.columns import blank_to_na, check_keys, conform
from proximite.cohort.harmonise.recoding import form_columns, territories_of_dags
from proximite.cohort.harmonise.rules import HarmoniseRules, row_count
from proximite.cohort.harmonise.tables import empty_table, require_columns, warn_absent
from proximite.cohort.pseudonym import pseudonymise
from proximite.errors import HarmoniseError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook, SurveyProject

__all__ = [
    "PARTNER_FORMS",
    "STAFF_FORM",
    "event_years",
    "harmonise_partner_survey",
    "harmonise_staff_survey",
    "survey_identifier_leaks",
]

#: The staged forms of the partner questionnaire: the organisation's answers, the partners it names.
PARTNER_FORMS = ("organisme", "partenaire")
#: The staged form of the PTP and manager questionnaire.
STAFF_FORM = "questionnaire"
_EVENT = "redcap_event_name"
_DAG = "redcap_data_access_group"


def event_years(events: pd.Series, *, survey: SurveyProject) -> pd.Series:
    """The survey year of each row's REDCap event.

    Returns
    -------
    Series
        dtype ``Int64``.

    Raises
    ------
    HarmoniseError
        An event that is not one of the questionnaire's years (named, with its row count).
    """
    years = survey.event_years
    values = blank_to_na(events)
    unknown = values.notna() & ~values.isin(list(years))
    if bool(unknown.any()):
        listed = ", ".join(f"'{event}'" for event in sorted(values[unknown].unique()))
        raise HarmoniseError(f"{survey.name}: event(s) {listed} are not survey years ({row_count(int(unknown.sum()))})")
    return values.map(years).astype("Int64")


def _keyed(values: pd.Series, prefix: str, rules: HarmoniseRules, key: bytes) -> pd.Series:
    """Pseudonyms of ``prefix:<value>`` (a record, or a record and its event)."""
    text = blank_to_na(values)
    return pseudonymise((prefix + ":" + text).astype("string"), key=key, project=rules.project, length=rules.id_length)


def _response_ids(frame: pd.DataFrame, survey: SurveyProject, rules: HarmoniseRules, key: bytes) -> pd.Series:
    """Each row's response: the pseudonym of ``<questionnaire>:<record id>:<event>``."""
    record = blank_to_na(frame[survey.record_id_field])
    return _keyed(record + ":" + blank_to_na(frame[_EVENT]), survey.name, rules, key)


def harmonise_partner_survey(
    forms: Mapping[str, pd.DataFrame],
    *,
    territory: pd.DataFrame,
    rules: HarmoniseRules,
    key: bytes,
    codebook: Codebook,
) -> dict[str, pd.DataFrame]:
    """The ``partner_response`` and ``partner_tie`` tables of the partner questionnaire.

    Parameters
    ----------
    forms : mapping
        The staged ``organisme`` and ``partenaire`` tables (either may be absent: its table is empty).
    territory : DataFrame, keyword-only
        The reference territories (``redcap_dag`` → ``territory_id``).
    rules, key : keyword-only
        The pseudonymisation's project, length and key.
    codebook : Codebook, keyword-only

    Returns
    -------
    dict
        ``{"partner_response": frame, "partner_tie": frame}``.

    Raises
    ------
    HarmoniseError
        An event that is not a survey year, an unknown data access group, or a repeated key.

    Notes
    -----
    A tie's ``from_org_id`` is the ``org_code`` of the ``organisme`` row of the same record and
    event; a tie whose response has no such row keeps an empty ``from_org_id`` (the harmonised
    gate's ``partner_tie.response_exists`` names it).
    """
    survey = codebook.survey("partner_survey")
    organisme, partenaire = (forms.get(name) for name in PARTNER_FORMS)
    tables = {"partner_response": empty_table("partner_response", codebook), "partner_tie": empty_table("partner_tie", codebook)}
    if organisme is not None:
        tables["partner_response"] = _partner_responses(organisme, survey=survey, territory=territory, rules=rules, key=key)
    if partenaire is not None:
        tables["partner_tie"] = _partner_ties(partenaire, organisme, survey=survey, rules=rules, key=key)
    return tables


def _partner_responses(
    organisme: pd.DataFrame, *, survey: SurveyProject, territory: pd.DataFrame, rules: HarmoniseRules, key: bytes
) -> pd.DataFrame:
    record = survey.record_id_field
    require_columns(organisme, [record, _EVENT, _DAG], "staged organisme")
    columns, absent = form_columns(organisme, form="organisme", table="partner_response", codebook=survey)
    warn_absent("organisme", absent)
    columns["response_id"] = _response_ids(organisme, survey, rules, key)
    columns["year"] = event_years(organisme[_EVENT], survey=survey)
    columns["territory_id"] = territories_of_dags(organisme[_DAG], territory=territory, record_ids=organisme[record])
    result = conform(columns, "partner_response", codebook=survey.codebook)
    check_keys(result, "partner_response", codebook=survey.codebook, detail=" (a record answers once per year)")
    return result


def _partner_ties(
    partenaire: pd.DataFrame,
    organisme: pd.DataFrame | None,
    *,
    survey: SurveyProject,
    rules: HarmoniseRules,
    key: bytes,
) -> pd.DataFrame:
    record = survey.record_id_field
    require_columns(partenaire, [record, _EVENT], "staged partenaire")
    columns, absent = form_columns(partenaire, form="partenaire", table="partner_tie", codebook=survey)
    warn_absent("partenaire", absent)
    columns["response_id"] = _response_ids(partenaire, survey, rules, key)
    event_years(partenaire[_EVENT], survey=survey)  # the same check as the responses'
    responder = pd.Series(pd.NA, index=partenaire.index, dtype="string")
    if organisme is not None and "org_code" in organisme.columns:
        own = pd.Series(
            blank_to_na(organisme["org_code"]).to_numpy(),
            index=_response_ids(organisme, survey, rules, key).to_numpy(),
        )
        own = own[~own.index.duplicated(keep="first")]
        responder = pd.Series(own.reindex(columns["response_id"].to_numpy()).to_numpy(), index=partenaire.index, dtype="string")
    columns["from_org_id"] = responder
    result = conform(columns, "partner_tie", codebook=survey.codebook)
    check_keys(result, "partner_tie", codebook=survey.codebook, detail=" (a response names each partner once)")
    return result


def harmonise_staff_survey(
    questionnaire: pd.DataFrame | None,
    *,
    territory: pd.DataFrame,
    rules: HarmoniseRules,
    key: bytes,
    codebook: Codebook,
) -> pd.DataFrame:
    """The ``staff_survey`` table: one row per PTP or manager and survey year.

    Parameters
    ----------
    questionnaire : DataFrame or None
        The staged ``questionnaire`` table (None: the table is empty).
    territory, rules, key, codebook : keyword-only
        As :func:`harmonise_partner_survey`.

    Returns
    -------
    DataFrame

    Raises
    ------
    HarmoniseError
        An event that is not a survey year, an unknown data access group, or a person answering
        twice in one year.

    Notes
    -----
    ``respondent_id`` = pseudonym of ``staff_survey:<record id>``; ``role_clarity`` = mean of
    the answered items of the mandate's clarity (:func:`~proximite.cohort.harmonise.item_mean`);
    ``worker_id`` is the PTP's registry code as answered (empty for a manager).
    """
    if questionnaire is None:
        return empty_table("staff_survey", codebook)
    survey = codebook.survey("staff_survey")
    record = survey.record_id_field
    require_columns(questionnaire, [record, _EVENT, _DAG], f"staged {STAFF_FORM}")
    columns, absent = form_columns(questionnaire, form=STAFF_FORM, table="staff_survey", codebook=survey)
    warn_absent(STAFF_FORM, absent)
    columns["respondent_id"] = _keyed(questionnaire[record], survey.name, rules, key)
    columns["year"] = event_years(questionnaire[_EVENT], survey=survey)
    columns["territory_id"] = territories_of_dags(questionnaire[_DAG], territory=territory, record_ids=questionnaire[record])
    # A manager's answer names no PTP code, whatever the export holds.
    is_ptp = (columns["role"].astype("string") == "ptp").fillna(False).to_numpy(dtype=bool)
    columns["worker_id"] = columns["worker_id"].astype("string").where(pd.Series(is_ptp, index=questionnaire.index))
    result = conform(columns, "staff_survey", codebook=codebook)
    check_keys(result, "staff_survey", codebook=codebook, detail=" (a person answers once per year)")
    return result


def survey_identifier_leaks(staged: Mapping[str, Mapping[str, pd.DataFrame]], codebook: Codebook) -> list[str]:
    """``source.form.field`` of every identifier field (names, e-mails, comments) a staged questionnaire holds."""
    leaked = []
    for name, survey in codebook.surveys.items():
        identifiers = set(survey.identifier_fields)
        for form, frame in staged.get(name, {}).items():
            leaked.extend(f"{name}.{form}.{column}" for column in frame.columns if column in identifiers)
    return sorted(leaked)

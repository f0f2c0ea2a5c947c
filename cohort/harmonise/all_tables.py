"""Harmonise every staged source at once: every table of the model, and counts of what was set aside."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from proximite.cohort.harmonise.assessment import harmonise_assessment
from proximite.cohort.harmonise.qualitative import harmonise_qualitative
from proximite.cohort.harmonise.recoding import unmatched_family_records
from proximite.cohort.harmonise.rules import (
    ASSESSMENT_FORM,
    CHILD_FORM,
    EXIT_FORM,
    FAMILY_FORM,
    NEED_FORM,
    REFERENCE_TABLES,
    REFERRAL_FORM,
    Harmonised,
    HarmoniseRules,
    resolve_codebook,
)
from proximite.cohort.harmonise.surveys import harmonise_partner_survey, harmonise_staff_survey, survey_identifier_leaks
from proximite.cohort.harmonise.tables import (
    empty_table,
    harmonise_activity,
    harmonise_child,
    harmonise_family,
    harmonise_need,
    harmonise_reference,
    harmonise_referral,
)
from proximite.errors import HarmoniseError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = ["harmonise"]

logger = logging.getLogger(__name__)


def harmonise(
    staged: Mapping[str, Mapping[str, pd.DataFrame]],
    *,
    key: bytes,
    settings: Settings,
    codebook: Codebook | None = None,
) -> dict[str, pd.DataFrame]:
    """Turn the staged tables of every source into the harmonised model.

    Parameters
    ----------
    staged : mapping
        ``{source: {table: frame}}`` for the sources ``reference`` (region, territory,
        organisation), ``redcap`` (famille, enfant, suivi, besoin, reference, sortie),
        ``registry`` (activity, worker, supervision) and ``cost`` (cost), the yearly
        questionnaires ``partner_survey`` (organisme, partenaire) and ``staff_survey``
        (questionnaire) and, when staged, the qualitative strand's ``qual_register`` and
        ``qual_coding``, as :func:`~proximite.cohort.layers.read_staged` gives them. A missing
        source or table gives an empty harmonised table.
    key : bytes, keyword-only
        The pseudonymisation key.
    settings : Settings, keyword-only
        Project name (salt), id length, event → wave map and the isolation grid.
    codebook : Codebook, optional, keyword-only
        Defaults to the packaged codebook.

    Returns
    -------
    Harmonised
        A dict ``{table: frame}`` with every table of ``model.yaml``, in model order, each with
        exactly the model's columns and dtypes; its ``counts`` attribute counts what was set
        aside (activity rows naming no known REDCap record, empty follow-up forms, rows whose
        family has no ``famille`` row).

    Raises
    ------
    HarmoniseError
        A cross-table rule is broken: unknown event or data access group, duplicate key,
        a staged identifier field, a register session of an unknown territory, a QDA source
        not in the register (:func:`~proximite.cohort.harmonise.qualitative.harmonise_qualitative`).

    Notes
    -----
    ``family_id = HMAC-SHA256(key, project + record_id)[:id_length]``; children, needs and
    referrals hash ``record_id:form:instance`` the same way. The isolation index is
    :func:`isolation_index`. Inputs are never modified.
    """
    book = resolve_codebook(codebook)
    rules = HarmoniseRules.from_settings(settings)
    redcap = staged.get("redcap", {})
    _check_no_identifiers(redcap, book)
    _check_no_survey_identifiers(staged, book)
    counts: dict[str, int] = {}
    tables: dict[str, pd.DataFrame] = {}
    for table, (source, name) in REFERENCE_TABLES.items():
        tables[table] = harmonise_reference(staged.get(source, {}).get(name), table, codebook=book)
    tables.update(_redcap_tables(redcap, territory=tables["territory"], rules=rules, key=key, book=book, counts=counts))
    tables["activity"] = _activity_table(
        staged.get("registry", {}).get("activity"), redcap.get(FAMILY_FORM), rules=rules, key=key, book=book, counts=counts
    )
    counts.update(_unknown_family_counts(tables, redcap, book))
    tables.update(_survey_tables(staged, territory=tables["territory"], rules=rules, key=key, book=book))
    qualitative, qualitative_counts = harmonise_qualitative(
        staged.get("qual_register"), staged.get("qual_coding"), territory=tables["territory"], codebook=book
    )
    tables.update(qualitative)
    counts.update(qualitative_counts)
    for name, value in counts.items():
        if value:
            logger.warning("harmonise: %s = %d", name, value)
    ordered = {table: tables[table] for table in book.tables}
    return Harmonised(ordered, counts)


def _redcap_tables(
    redcap: Mapping[str, pd.DataFrame],
    *,
    territory: pd.DataFrame,
    rules: HarmoniseRules,
    key: bytes,
    book: Codebook,
    counts: dict[str, int],
) -> dict[str, pd.DataFrame]:
    """The tables of the REDCap forms (family, child, need, referral, assessment); empty when a form is absent."""
    tables: dict[str, pd.DataFrame] = {}
    famille = redcap.get(FAMILY_FORM)
    if famille is not None:
        tables["family"] = harmonise_family(
            famille, redcap.get(EXIT_FORM), territory=territory, rules=rules, key=key, codebook=book
        )
    else:
        tables["family"] = empty_table("family", book)
    builders = {"child": (CHILD_FORM, harmonise_child), "need": (NEED_FORM, harmonise_need), "referral": (REFERRAL_FORM, harmonise_referral)}
    for table, (form, build) in builders.items():
        frame = redcap.get(form)
        tables[table] = empty_table(table, book) if frame is None else build(frame, rules=rules, key=key, codebook=book)
    suivi = redcap.get(ASSESSMENT_FORM)
    if suivi is not None:
        tables["assessment"], counts["assessment_rows_empty"] = harmonise_assessment(suivi, rules=rules, key=key, codebook=book)
    else:
        tables["assessment"] = empty_table("assessment", book)
    return tables


def _activity_table(
    activity: pd.DataFrame | None,
    famille: pd.DataFrame | None,
    *,
    rules: HarmoniseRules,
    key: bytes,
    book: Codebook,
    counts: dict[str, int],
) -> pd.DataFrame:
    """The activity table, counting its rows that name no known REDCap record."""
    if activity is None:
        return empty_table("activity", book)
    table = harmonise_activity(activity, rules=rules, key=key, codebook=book)
    known = famille[book.record_id_field] if famille is not None else pd.Series([], dtype="string")
    unmatched = unmatched_family_records(activity["family_record_id"], known)
    counts["activity_rows_unknown_family"] = unmatched["rows"]
    counts["activity_records_unknown_family"] = unmatched["records"]
    return table


def _unknown_family_counts(
    tables: Mapping[str, pd.DataFrame], redcap: Mapping[str, pd.DataFrame], book: Codebook
) -> dict[str, int]:
    """Rows whose family has no ``famille`` row (exit forms, children, assessments, needs, referrals)."""
    counts: dict[str, int] = {}
    famille = redcap.get(FAMILY_FORM)
    sortie = redcap.get(EXIT_FORM)
    if sortie is not None and famille is not None:
        counts["exit_rows_unknown_family"] = int((~sortie[book.record_id_field].isin(famille[book.record_id_field])).sum())
    family_ids = pd.Index(tables["family"]["family_id"].dropna().unique())
    for table in ("child", "assessment", "need", "referral"):
        counts[f"{table}_rows_unknown_family"] = int((~tables[table]["family_id"].isin(family_ids)).sum())
    return counts


def _survey_tables(
    staged: Mapping[str, Mapping[str, pd.DataFrame]],
    *,
    territory: pd.DataFrame,
    rules: HarmoniseRules,
    key: bytes,
    book: Codebook,
) -> dict[str, pd.DataFrame]:
    """The questionnaires' tables (empty when a questionnaire has not been staged)."""
    common = {"territory": territory, "rules": rules, "key": key, "codebook": book}
    tables = harmonise_partner_survey(staged.get("partner_survey", {}), **common)
    tables["staff_survey"] = harmonise_staff_survey(staged.get("staff_survey", {}).get("questionnaire"), **common)
    return tables


def _check_no_survey_identifiers(staged: Mapping[str, Mapping[str, pd.DataFrame]], codebook: Codebook) -> None:
    """The questionnaires' identifier fields (names, e-mails, comments) stay in layer 01 too."""
    leaked = survey_identifier_leaks(staged, codebook)
    if leaked:
        raise HarmoniseError(
            f"staged questionnaire tables hold identifier field(s) {', '.join(leaked)}; they must not leave layer 01 (re-run ingest)"
        )


def _check_no_identifiers(redcap: Mapping[str, pd.DataFrame], codebook: Codebook) -> None:
    """Identifier fields stay in layer 01; a staged table that has one is refused."""
    identifiers = set(codebook.identifier_fields)
    leaked = sorted({f"{form}.{column}" for form, frame in redcap.items() for column in frame.columns if column in identifiers})
    if leaked:
        raise HarmoniseError(
            f"staged REDCap tables hold identifier field(s) {', '.join(leaked)}; they must not leave layer 01 (re-run ingest)"
        )

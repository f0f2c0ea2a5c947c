"""One function per harmonised table (but the assessments): family, child, need, referral, activity, reference tables."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from proximite.cohort.harmonise.columns import blank_to_na, check_keys, conform, model_dtypes
from proximite.cohort.harmonise.recoding import components_of, form_columns, territories_of_dags
from proximite.cohort.harmonise.rules import (
    CHILD_FORM,
    EXIT_FORM,
    FAMILY_FORM,
    NEED_FORM,
    PANDAS_DTYPES,
    REFERRAL_FORM,
    HarmoniseRules,
    resolve_codebook,
    row_count,
)
from proximite.cohort.pseudonym import pseudonymise, pseudonymise_instances
from proximite.errors import HarmoniseError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = [
    "empty_table",
    "family_pseudonyms",
    "harmonise_activity",
    "harmonise_child",
    "harmonise_family",
    "harmonise_need",
    "harmonise_reference",
    "harmonise_referral",
    "instance_pseudonyms",
    "require_columns",
    "warn_absent",
]

logger = logging.getLogger(__name__)


def family_pseudonyms(frame: pd.DataFrame, rules: HarmoniseRules, key: bytes, record_field: str) -> pd.Series:
    """Each row's ``family_id``: the pseudonym of its REDCap record id."""
    return pseudonymise(blank_to_na(frame[record_field]), key=key, project=rules.project, length=rules.id_length)


def instance_pseudonyms(frame: pd.DataFrame, form: str, rules: HarmoniseRules, key: bytes, record_field: str) -> pd.Series:
    """Each row's id in a repeating form: the pseudonym of ``record_id:form:instance``."""
    if "redcap_repeat_instance" not in frame.columns:
        raise HarmoniseError(f"staged {form}: no redcap_repeat_instance column (it is a repeating form)")
    return pseudonymise_instances(
        blank_to_na(frame[record_field]),
        frame["redcap_repeat_instance"],
        form=form,
        key=key,
        project=rules.project,
        length=rules.id_length,
    )


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise :class:`~proximite.errors.HarmoniseError` naming the columns ``frame`` lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise HarmoniseError(f"{what}: missing column(s) {', '.join(missing)}")


def warn_absent(form: str, absent: list[str]) -> None:
    """Log the fields a staged form lacks (their columns stay missing)."""
    if absent:
        logger.warning("staged %s lacks field(s) %s: their columns are missing values", form, ", ".join(absent))


def empty_table(table: str, codebook: Codebook) -> pd.DataFrame:
    """A model table with no row (every column with its dtype)."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in model_dtypes(table, codebook=codebook).items()})


def harmonise_reference(frame: pd.DataFrame | None, table: str, *, codebook: Codebook | None = None) -> pd.DataFrame:
    """A table the staged sources already give column for column (region, territory, organisation,
    worker, supervision, cost): select the model's columns and type them.

    Staged bookkeeping columns (``source_file``, ``source_row``) are dropped.
    """
    book = resolve_codebook(codebook)
    if frame is None:
        return empty_table(table, book)
    spec = book.columns(table)
    require_columns(frame, list(spec), f"staged {table}")
    result = conform({name: frame[name] for name in spec}, table, codebook=book)
    check_keys(result, table, codebook=book)
    return result


def harmonise_family(
    famille: pd.DataFrame,
    sortie: pd.DataFrame | None,
    *,
    territory: pd.DataFrame,
    rules: HarmoniseRules,
    key: bytes,
    codebook: Codebook | None = None,
) -> pd.DataFrame:
    """The ``family`` table: one row per REDCap record of the ``famille`` form.

    ``territory_id`` comes from the record's data access group (:func:`territories_of_dags`),
    ``exit_date`` and ``exit_reason`` from the ``sortie`` form (missing while the family is
    accompanied), ``family_id`` is the record id's pseudonym.

    Raises
    ------
    HarmoniseError
        A record appears twice, has an unknown data access group, or two exit forms.
    """
    book = resolve_codebook(codebook)
    record = book.record_id_field
    require_columns(famille, [record, "redcap_data_access_group"], f"staged {FAMILY_FORM}")
    records = blank_to_na(famille[record])
    repeated = records.duplicated() & records.notna()
    if bool(repeated.any()):
        raise HarmoniseError(f"staged {FAMILY_FORM}: a record appears on more than one row ({row_count(int(repeated.sum()))} too many)")
    columns, absent = form_columns(famille, form=FAMILY_FORM, table="family", codebook=book)
    warn_absent(FAMILY_FORM, absent)
    columns["family_id"] = family_pseudonyms(famille, rules, key, record)
    columns["territory_id"] = territories_of_dags(
        famille["redcap_data_access_group"], territory=territory, record_ids=records
    )
    exit_columns = [name for name, spec in book.columns("family").items() if name not in columns]
    if sortie is not None and not sortie.empty:
        require_columns(sortie, [record], f"staged {EXIT_FORM}")
        exits, absent = form_columns(sortie, form=EXIT_FORM, table="family", codebook=book)
        warn_absent(EXIT_FORM, absent)
        exit_records = blank_to_na(sortie[record])
        repeated_exits = exit_records.duplicated() & exit_records.notna()
        if bool(repeated_exits.any()):
            raise HarmoniseError(f"staged {EXIT_FORM}: a record has more than one exit row ({row_count(int(repeated_exits.sum()))} too many)")
        # Join on the record id: the position of each family's exit row, -1 when it has none.
        with_record = exit_records.notna().to_numpy()
        position = pd.Index(exit_records[with_record]).get_indexer(records)
        for name in exit_columns:
            if name in exits:
                taken = exits[name][with_record].reset_index(drop=True).reindex(position)
                columns[name] = taken.set_axis(famille.index)
    for name in exit_columns:
        if name not in columns:
            columns[name] = pd.Series(pd.NA, index=famille.index, dtype=PANDAS_DTYPES[book.columns("family")[name]["type"]])
    result = conform(columns, "family", codebook=book)
    check_keys(result, "family", codebook=book)
    return result


def _repeating(
    frame: pd.DataFrame,
    *,
    form: str,
    table: str,
    id_column: str,
    rules: HarmoniseRules,
    key: bytes,
    codebook: Codebook,
) -> pd.DataFrame:
    record = codebook.record_id_field
    require_columns(frame, [record], f"staged {form}")
    columns, absent = form_columns(frame, form=form, table=table, codebook=codebook)
    warn_absent(form, absent)
    columns[id_column] = instance_pseudonyms(frame, form, rules, key, record)
    columns["family_id"] = family_pseudonyms(frame, rules, key, record)
    result = conform(columns, table, codebook=codebook)
    check_keys(result, table, codebook=codebook, detail=f" (form {form}: a record's repeat instances must be distinct)")
    return result


def harmonise_child(enfant: pd.DataFrame, *, rules: HarmoniseRules, key: bytes, codebook: Codebook | None = None) -> pd.DataFrame:
    """The ``child`` table: one row per instance of the repeating ``enfant`` form.

    ``birth_month`` is the year-month of the (expected) birth date; the exact date is dropped.
    ``child_id`` is the pseudonym of ``record_id:enfant:instance``.
    """
    return _repeating(enfant, form=CHILD_FORM, table="child", id_column="child_id", rules=rules, key=key, codebook=resolve_codebook(codebook))


def harmonise_need(besoin: pd.DataFrame, *, rules: HarmoniseRules, key: bytes, codebook: Codebook | None = None) -> pd.DataFrame:
    """The ``need`` table: one row per instance of the repeating ``besoin`` form."""
    return _repeating(besoin, form=NEED_FORM, table="need", id_column="need_id", rules=rules, key=key, codebook=resolve_codebook(codebook))


def harmonise_referral(reference: pd.DataFrame, *, rules: HarmoniseRules, key: bytes, codebook: Codebook | None = None) -> pd.DataFrame:
    """The ``referral`` table: one row per instance of the repeating ``reference`` form."""
    return _repeating(
        reference, form=REFERRAL_FORM, table="referral", id_column="referral_id", rules=rules, key=key, codebook=resolve_codebook(codebook)
    )


def harmonise_activity(
    activity: pd.DataFrame,
    *,
    rules: HarmoniseRules,
    key: bytes,
    codebook: Codebook | None = None,
) -> pd.DataFrame:
    """The ``activity`` table from the registry's canonical columns.

    ``component`` comes from ``action_type`` (``registry.yaml`` ``action_component``),
    ``family_id`` is the pseudonym of ``family_record_id`` with the same key and project as the
    REDCap families, so the two join.

    Raises
    ------
    HarmoniseError
        An unknown action type, or an ``activity_id`` used twice (the registry template asks
        for ids unique within a partner; the model needs them unique overall).
    """
    book = resolve_codebook(codebook)
    spec = book.columns("activity")
    direct = [name for name in spec if name not in {"component", "family_id"}]
    require_columns(activity, direct + ["family_record_id"], "staged registry activity")
    columns = {name: activity[name] for name in direct}
    columns["component"] = components_of(activity["action_type"], action_component=book.action_component)
    columns["family_id"] = pseudonymise(
        blank_to_na(activity["family_record_id"]), key=key, project=rules.project, length=rules.id_length
    )
    result = conform(columns, "activity", codebook=book)
    try:
        check_keys(result, "activity", codebook=book)
    except HarmoniseError:
        if "source_file" not in activity.columns:
            raise
        # Say which files share ids (file names, not values), so the partner knows where to look.
        repeated = result.duplicated(book.key_columns("activity"), keep=False).to_numpy(dtype=bool)
        files = sorted(activity["source_file"].iloc[np.flatnonzero(repeated)].dropna().astype(str).unique())
        detail = f" (in file(s) {', '.join(files[:5])}{' ...' if len(files) > 5 else ''})"
        check_keys(result, "activity", codebook=book, detail=detail)
        raise
    return result

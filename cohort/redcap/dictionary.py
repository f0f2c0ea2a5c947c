"""A REDCap data dictionary: its columns, its choices, and the staged type of each field.

The dictionary arrives with REDCap's UI headers (a CSV download) or the API's names;
:func:`normalise_metadata` gives the API's 18 names, all strings. :func:`staged_fields` says what
staging makes of each field, from its type and validation (the table is in
:mod:`proximite.cohort.redcap.records`); :func:`checkbox_column` names a checkbox choice's column
in the flat export.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from proximite.cohort.codebook import REDCAP_DICTIONARY_HEADERS, REDCAP_METADATA_COLUMNS
from proximite.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.redcap.project import RedcapProject

__all__ = [
    "DAG",
    "EVENT",
    "INSTANCE",
    "INSTRUMENT",
    "StagedField",
    "checkbox_column",
    "export_columns",
    "field_kind",
    "normalise_metadata",
    "parse_choices",
    "parse_missing_codes",
    "staged_fields",
]

#: The key columns of REDCap's flat export (besides the record id).
EVENT = "redcap_event_name"
INSTRUMENT = "redcap_repeat_instrument"
INSTANCE = "redcap_repeat_instance"
DAG = "redcap_data_access_group"

_KNOWN_FIELD_TYPES = {
    "text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse",
    "calc", "slider", "file", "descriptive", "sql",
}
#: Metadata columns ingest needs; the other REDCap metadata columns are optional.
_NEEDED_METADATA = (
    "field_name", "form_name", "field_type", "select_choices_or_calculations",
    "text_validation_type_or_show_slider_number", "identifier",
)


def parse_missing_codes(text: str, *, path: str | Path = "project.json") -> dict[str, str]:
    """The missing-data codes of a project, ``{code: label}``, from REDCap's project setting.

    Parameters
    ----------
    text : str
        ``missing_data_codes`` as REDCap exports it: ``"code, label"`` items separated by ``|``
        or line breaks (``"NSP, Ne sait pas | REF, Refus"``); a code without a label is allowed.
    path : str or Path, keyword-only
        Named in errors.

    Raises
    ------
    InputError
        A code is declared twice.
    """
    codes: dict[str, str] = {}
    for item in re.split(r"[|\n]", str(text or "")):
        code, _, label = item.strip().partition(",")
        code, label = code.strip(), label.strip()
        if not code:
            continue
        if code in codes:
            raise InputError(path, "duplicate missing-data code", column="missing_data_codes", detail=f"'{code}' is declared twice")
        codes[code] = label
    return codes


def normalise_metadata(frame: pd.DataFrame, *, path: str | Path) -> pd.DataFrame:
    """A data dictionary with REDCap's UI headers or the API's names, as API names (strings).

    Raises
    ------
    InputError
        A needed column is missing, a field type is unknown or a field name repeats.
    """
    by_header = dict(zip(REDCAP_DICTIONARY_HEADERS, REDCAP_METADATA_COLUMNS, strict=True))
    renamed = frame.rename(columns=lambda name: by_header.get(str(name).strip(), str(name).strip()))
    for column in _NEEDED_METADATA:
        if column not in renamed.columns:
            ui_header = REDCAP_DICTIONARY_HEADERS[REDCAP_METADATA_COLUMNS.index(column)]
            raise InputError(
                path, "required column missing", column=column,
                detail=f"A REDCap data dictionary needs '{ui_header}' (or '{column}' in an API export)",
            )
    metadata = pd.DataFrame(
        {column: renamed[column].fillna("").astype(str).str.strip() if column in renamed else "" for column in REDCAP_METADATA_COLUMNS},
        index=range(len(renamed)),
    )
    if metadata.empty:
        raise InputError(path, "empty file", detail="The data dictionary has no field")
    unknown = ~metadata["field_type"].isin(sorted(_KNOWN_FIELD_TYPES))
    if unknown.any():
        first = int(np.argmax(unknown.to_numpy()))
        raise InputError(
            path, "unknown field type", row=first + 1, column="field_type", count=int(unknown.sum()),
            detail=f"'{metadata['field_type'].iloc[first]}' is not a REDCap field type",
        )
    repeated = metadata["field_name"].duplicated()
    if repeated.any():
        first = int(np.argmax(repeated.to_numpy()))
        raise InputError(
            path, "duplicate field name", row=first + 1, column="field_name",
            detail=f"'{metadata['field_name'].iloc[first]}' is defined twice",
        )
    return metadata


def parse_choices(choices: str) -> list[str]:
    """Codes of a REDCap choice list ``"1, Oui | 0, Non"``, in order."""
    codes = []
    for item in str(choices).split("|"):
        code, _, _ = item.strip().partition(",")
        if code.strip():
            codes.append(code.strip())
    return codes


def checkbox_column(field_name: str, code: str) -> str:
    """The exported column of one checkbox choice (REDCap lowercases and replaces signs)."""
    return f"{field_name}___{re.sub(r'[^0-9a-z_]', '_', code.lower())}"


@dataclass(frozen=True)
class StagedField:
    """One field as staging types it: its name, form, staged kind and choice codes."""

    name: str
    form: str
    kind: str  # date, month, datetime, int, float, bool, code, checkbox, text
    codes: tuple[str, ...] = ()


#: A date whose annotation sends it to a month column of the model (``harmonise: child.birth_month``):
#: staged as its year-month, so the exact day of a child's birth never leaves layer 01.
MONTH_TARGET = re.compile(r"harmonise:\s*\w+\.\w*month\b")


def field_kind(row: pd.Series) -> str:
    """The staged kind of a dictionary row: date, month, datetime, int, float, bool, code, checkbox or text.

    ``month`` is a date field whose annotation names a month column of the harmonised model
    (:data:`MONTH_TARGET`): it is typed as a date, then staged as ``YYYY-MM``.
    """
    field_type = row["field_type"]
    validation = row["text_validation_type_or_show_slider_number"]
    if field_type in {"yesno", "truefalse"}:
        return "bool"
    if field_type in {"radio", "dropdown"}:
        return "code"
    if field_type == "checkbox":
        return "checkbox"
    if field_type == "calc":
        return "float"
    if field_type == "slider":
        return "int"
    if field_type == "text":
        if validation.startswith("datetime"):
            return "datetime"
        if validation.startswith("date"):
            return "month" if MONTH_TARGET.search(str(row.get("field_annotation", "") or "")) else "date"
        if validation == "integer":
            return "int"
        if validation.startswith("number"):
            return "float"
    return "text"


def staged_fields(project: RedcapProject) -> list[StagedField]:
    """Every field of the data dictionary as staging types it (descriptive fields left out), in order.

    Parameters
    ----------
    project : RedcapProject
        Only its data dictionary (``metadata``) is read.

    Returns
    -------
    list of StagedField
        Name, form, staged kind (``date``, ``datetime``, ``int``, ``float``, ``bool``, ``code``,
        ``checkbox`` or ``text``) and, for choice fields, the codes in order. Identifiers are
        among them: staging drops them, the validation rules skip them.
    """
    fields = []
    for _, row in project.metadata.iterrows():  # the dictionary: a few hundred rows at most
        if row["field_type"] == "descriptive":
            continue
        kind = field_kind(row)
        codes = tuple(parse_choices(row["select_choices_or_calculations"])) if kind in {"code", "checkbox"} else ()
        fields.append(StagedField(row["field_name"], row["form_name"], kind, codes))
    return fields


def export_columns(field_: StagedField) -> list[str]:
    """The field's columns in the flat export (one per choice for a checkbox)."""
    if field_.kind == "checkbox":
        return [checkbox_column(field_.name, code) for code in field_.codes]
    return [field_.name]


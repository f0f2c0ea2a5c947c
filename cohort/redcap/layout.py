"""The flat layout of REDCap records: its columns, read as strings, and checked against the dictionary.

A flat export (``type=flat``) has the record id, ``redcap_event_name``,
``redcap_repeat_instrument``, ``redcap_repeat_instance``, ``redcap_data_access_group``, then each
form's fields (a checkbox as one column per choice) and ``<form>_complete``
(``docs/data-layout.md``); :func:`flat_columns` lists them for a project.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from proximite.cohort.redcap.dictionary import (
    DAG,
    EVENT,
    INSTANCE,
    INSTRUMENT,
    StagedField,
    checkbox_column,
    export_columns,
    staged_fields,
)
from proximite.cohort.sources.rows import RowLocator, active_log
from proximite.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.redcap.project import RedcapProject

__all__ = ["as_string_table", "check_export_columns", "fail_rows", "flat_columns"]

#: Columns REDCap may add to an export that are not fields (survey options); dropped.
_SURVEY_COLUMNS = re.compile(r"^(redcap_survey_identifier|.+_timestamp)$")


def as_string_table(records: pa.Table | pd.DataFrame) -> pa.Table:
    """Records as a pyarrow table of strings, ``""`` for an empty cell."""
    if isinstance(records, pd.DataFrame):
        columns = {}
        for name in records.columns:
            series = records[name]
            text = series.astype("string").fillna("") if series.dtype != object else series.where(series.notna(), "").astype(str)
            columns[str(name)] = pa.array(text.to_numpy(dtype=object), pa.string())
        return pa.table(columns) if columns else pa.table({})
    cast = {}
    for name in records.column_names:
        column = records[name]
        if not pa.types.is_string(column.type):
            column = pc.cast(column, pa.string())
        cast[name] = pc.fill_null(column, "")
    return pa.table(cast)



def flat_columns(project: RedcapProject) -> list[str]:
    """The columns of the project's flat export, in REDCap's order (``docs/data-layout.md``)."""
    fields = staged_fields(project)
    columns = [project.record_id_field, EVENT, INSTRUMENT, INSTANCE, DAG]
    for form in project.forms:
        columns += [c for f in fields if f.form == form and f.name != project.record_id_field for c in export_columns(f)]
        columns.append(f"{form}_complete")
    return columns


def fail_rows(
    mask: np.ndarray,
    *,
    path: Path,
    rows: np.ndarray,
    rule: str,
    column: str,
    detail: str,
    allowed: str = "",
    cells: pa.Array | None = None,
) -> None:
    """Raise an :class:`~proximite.errors.InputError` naming the first row of ``mask``, if any.

    Inside :func:`~proximite.cohort.sources.rows.collecting_defects`, every row of ``mask`` is
    recorded instead (with ``allowed`` and its cell of ``cells``, given for codes only).

    Parameters
    ----------
    mask : ndarray of bool
        Rows that break the rule.
    path : Path, keyword-only
    rows : ndarray, keyword-only
        The 1-based file row of each position.
    rule, column, detail : str, keyword-only
        As the error says them; ``count`` is the number of rows in ``mask``.
    allowed : str, keyword-only
    cells : pyarrow.Array, optional, keyword-only
    """
    log = active_log()
    if log is not None and mask.any():
        locator = RowLocator(path=path, rows=pa.array(np.asarray(rows, dtype=np.int64)))
        log.add_rows(mask, locator=locator, column=column, rule=rule, detail=detail, allowed=allowed, cells=cells)
        return
    if mask.any():
        first = int(np.argmax(mask))
        raise InputError(path, rule, row=int(rows[first]), column=column, detail=detail, count=int(mask.sum()))


def check_export_columns(table: pa.Table, project: RedcapProject, fields: list[StagedField], *, path: Path) -> list[str]:
    """Check the export has the dictionary's columns; return the columns to drop (survey extras).

    Raises
    ------
    InputError
        A column the dictionary defines is missing, or a column is not in the dictionary.
    """
    present = set(table.column_names)
    identifiers = set(project.metadata.loc[project.metadata["identifier"].str.lower() == "y", "field_name"])
    needed = [project.record_id_field, EVENT]
    if project.repeating:
        needed += [INSTRUMENT, INSTANCE]
    if project.dag_names:
        needed.append(DAG)
    for field_ in fields:
        if field_.name in identifiers or field_.name == project.record_id_field:
            continue  # a de-identified export may lack identifiers: they are dropped anyway
        needed += export_columns(field_)
    needed += [f"{form}_complete" for form in project.forms]
    for column in needed:
        if column not in present:
            raise InputError(
                path, "required column missing", column=column,
                detail="The data dictionary defines it; export all fields of the project (type=flat)",
            )
    known = set(needed) | {INSTRUMENT, INSTANCE, DAG} | {c for f in fields for c in export_columns(f)}
    # REDCap adds one column per missing-data code to each checkbox field (``field___nsp``).
    known |= {checkbox_column(f.name, code) for f in fields if f.kind == "checkbox" for code in project.missing_codes}
    extras = [column for column in table.column_names if column not in known]
    dropped = [column for column in extras if _SURVEY_COLUMNS.match(column)]
    unknown = [column for column in extras if column not in dropped]
    if unknown:
        raise InputError(
            path, "column not in the data dictionary", column=unknown[0],
            detail=f"{len(unknown)} column(s) of the export are not fields of the data dictionary; "
            "export the dictionary and the records from the same project",
        )
    return dropped


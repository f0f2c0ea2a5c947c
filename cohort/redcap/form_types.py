"""One staged table per form: a form's rows of the flat export, typed from the data dictionary.

Missing-data codes: a project may declare them (project information ``missing_data_codes``,
``"NSP, Ne sait pas | REF, Refus"``). A cell holding one becomes missing in its typed column and
its reason (the code's label, else ``code NSP``) lands in a companion string column
``<field>__missing_reason``, as user-missing values of SPSS files do for the registry. For a
checkbox, REDCap exports one extra column per code (``field___nsp``): where it is ticked, every box
of the field becomes missing and the reason is kept. The companion column exists only when at least
one cell of the field holds a code.
"""

from __future__ import annotations

from collections.abc import Mapping
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
)
from proximite.cohort.redcap.layout import fail_rows
from proximite.cohort.sources.coerce import (
    RowLocator,
    blank_to_null,
    check_codes,
    to_bool,
    to_date,
    to_float,
    to_frame,
    to_int,
)

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.redcap.project import RedcapProject

__all__ = ["MISSING_REASON_SUFFIX", "type_form"]

#: Companion column of a field whose cells may hold a missing-data code (as for SPSS user-missing).
MISSING_REASON_SUFFIX = "__missing_reason"


def type_form(
    table: pa.Table,
    form: str,
    fields: list[StagedField],
    project: RedcapProject,
    member: np.ndarray,
    *,
    rows: np.ndarray,
    path: Path,
    meta: dict[str, pa.Array],
    unplaced: np.ndarray | None = None,
) -> pd.DataFrame:
    """The typed table of one form: its rows, its fields (not identifiers), ``<form>_complete``.

    Parameters
    ----------
    table : pyarrow.Table
        The whole flat export, strings.
    form : str
    fields : list of StagedField
        The form's fields.
    project : RedcapProject
    member : ndarray of bool
        The rows that belong to the form.
    rows : ndarray, keyword-only
        The 1-based file row of each row of ``table``.
    path : Path, keyword-only
        Named in errors.
    meta : dict, keyword-only
        The typed key columns (``record_id`` and REDCap's event, instrument, instance and DAG).
    unplaced : ndarray of bool, optional, keyword-only
        Rows whose keys are already reported (unknown event...): their values are not checked
        against the form's events again.

    Raises
    ------
    InputError
        A value on a row of another form or event, or a cell that does not fit its field.
    """
    outside = ~member if unplaced is None else ~member & ~unplaced
    _check_outside(table, form, fields, project, outside, rows=rows, path=path)
    selected = pa.array(member)
    form_rows = rows[member]
    locator = RowLocator(path=path, rows=pa.array(form_rows))
    out: dict[str, pa.Array] = {
        "record_id": meta["record_id"].filter(selected),
        EVENT: meta[EVENT].filter(selected),
        INSTRUMENT: blank_to_null(meta[INSTRUMENT].filter(selected)),
        INSTANCE: meta[INSTANCE].filter(selected),
        DAG: meta[DAG].filter(selected),
        "source_row": pa.array(form_rows, pa.int64()),
    }
    identifiers = _identifiers(project)
    missing_codes = project.missing_codes
    reasons: dict[str, pa.Array] = {}
    for field_ in fields:
        if field_.name == project.record_id_field or field_.name in identifiers:
            continue
        if field_.kind == "checkbox":
            boxes, reason = _checkbox(table, field_, missing_codes, selected=selected, locator=locator)
            out.update(boxes)
        else:
            out[field_.name], reason = _typed_field(table[field_.name].filter(selected), field_, missing_codes, locator)
        if reason is not None:
            reasons[field_.name + MISSING_REASON_SUFFIX] = reason
    complete = f"{form}_complete"
    codes = check_codes(
        table[complete].filter(selected), ("0", "1", "2"), locator=locator, column=complete,
        list_name="form status (0, 1, 2)",
    )
    out[complete] = pc.cast(codes, pa.int64())
    out.update(reasons)
    return to_frame(out)


def _identifiers(project: RedcapProject) -> set[str]:
    """Fields flagged ``identifier = y``: they never leave layer 01."""
    metadata = project.metadata
    return set(metadata.loc[metadata["identifier"].str.lower() == "y", "field_name"])


def _check_outside(
    table: pa.Table,
    form: str,
    fields: list[StagedField],
    project: RedcapProject,
    outside: np.ndarray,
    *,
    rows: np.ndarray,
    path: Path,
) -> None:
    """Fail on a value of the form on a row that does not belong to it (``outside``)."""
    columns_of_form = [c for f in fields if f.name != project.record_id_field for c in export_columns(f)]
    columns_of_form.append(f"{form}_complete")
    for name in columns_of_form:
        if name not in table.column_names or not outside.any():
            continue
        filled = pc.not_equal(pc.utf8_trim_whitespace(table[name]), "").to_numpy(zero_copy_only=False)
        fail_rows(
            outside & filled, path=path, rows=rows, rule="value on an event where its form is not collected",
            column=name, detail=f"'{form}' is not collected at that event (form_event_mapping) or the row "
            "belongs to another repeating instrument",
        )


def _checkbox(
    table: pa.Table,
    field_: StagedField,
    missing_codes: Mapping[str, str],
    *,
    selected: pa.Array,
    locator: RowLocator,
) -> tuple[dict[str, pa.Array], pa.Array | None]:
    """One boolean column per choice of a checkbox, and the missing reason (None when no code is ticked)."""
    boxes = {
        name: to_bool(
            table[name].filter(selected), locator=locator, column=name, true_values=("1",), false_values=("0",)
        )
        for code in field_.codes
        for name in [checkbox_column(field_.name, code)]
    }
    reason = _checkbox_missing(table, field_.name, missing_codes, selected=selected, locator=locator)
    if reason is not None:
        unanswered = pc.is_valid(reason)
        boxes = {name: pc.if_else(unanswered, pa.scalar(None, pa.bool_()), box) for name, box in boxes.items()}
    return boxes, reason


def _typed_field(
    values: pa.Array, field_: StagedField, missing_codes: Mapping[str, str], locator: RowLocator
) -> tuple[pa.Array, pa.Array | None]:
    """A field's cells typed by its kind, and the missing reason (None when no cell holds a code)."""
    name = field_.name
    reason = None
    if missing_codes:
        values, reason = _split_missing(values, missing_codes)
    if field_.kind == "date":
        typed = to_date(values, locator=locator, column=name)
    elif field_.kind == "month":  # checked as a date, kept as its year-month only
        typed = pc.strftime(to_date(values, locator=locator, column=name), format="%Y-%m")
    elif field_.kind == "datetime":
        typed = to_date(values, locator=locator, column=name, with_time=True)
    elif field_.kind == "int":
        typed = to_int(values, locator=locator, column=name)
    elif field_.kind == "float":
        typed = to_float(values, locator=locator, column=name)
    elif field_.kind == "bool":
        typed = to_bool(values, locator=locator, column=name, true_values=("1",), false_values=("0",))
    elif field_.kind == "code":
        typed = check_codes(values, field_.codes, locator=locator, column=name, list_name=f"{name}'s choices")
    else:
        typed = blank_to_null(values, trim=False)
    return typed, reason


def _reason_text(code: str, label: str) -> str:
    """The reason kept for a missing-data code: its label, else ``code NSP`` (as for SPSS files)."""
    return label or f"code {code}"


def _split_missing(values: pa.Array | pa.ChunkedArray, missing_codes: Mapping[str, str]) -> tuple[pa.Array, pa.Array | None]:
    """Cells holding a missing-data code blanked, and the reason of each (None when there is none).

    Works on the distinct values only, like :mod:`~proximite.cohort.sources.coerce`.
    """
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    trimmed = pc.utf8_trim_whitespace(array)
    codes = pa.array(list(missing_codes), pa.string())
    is_missing = pc.fill_null(pc.is_in(trimmed, value_set=codes), False)
    if not pc.any(is_missing).as_py():
        return array, None
    labels = pa.array([_reason_text(code, label) for code, label in missing_codes.items()], pa.string())
    reason = pc.take(labels, pc.index_in(trimmed, value_set=codes))
    return pc.if_else(is_missing, pa.scalar("", pa.string()), array), reason


def _checkbox_missing(
    table: pa.Table,
    field_name: str,
    missing_codes: Mapping[str, str],
    *,
    selected: pa.Array,
    locator: RowLocator,
) -> pa.Array | None:
    """Reason of each row where one of a checkbox's missing-code columns is ticked, else None."""
    reason: pa.Array | None = None
    for code, label in missing_codes.items():
        name = checkbox_column(field_name, code)
        if name not in table.column_names:
            continue
        ticked = to_bool(table[name].filter(selected), locator=locator, column=name, true_values=("1",), false_values=("0",))
        ticked = pc.fill_null(ticked, False)
        if not pc.any(ticked).as_py():
            continue
        text = pa.scalar(_reason_text(code, label), pa.string())
        current = reason if reason is not None else pa.nulls(len(ticked), pa.string())
        # The first code ticked wins, in the project's order.
        reason = pc.if_else(pc.and_(ticked, pc.is_null(current)), text, current)
    return reason

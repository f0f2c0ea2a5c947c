"""Type a REDCap flat records export from its data dictionary, and split it into one table per form.

This is the REDCap logic shared by every way records arrive: a CSV export on disk
(:class:`proximite.cohort.sources.files.RedcapExportSource`) or the API through PyCap
(:func:`proximite.cohort.redcap.pull.pull_redcap`). It needs only the records as strings (a
pandas DataFrame or a pyarrow Table, ``""`` or null for an empty cell) and a
:class:`~proximite.cohort.redcap.project.RedcapProject` (the data dictionary plus events,
form–event mapping, repeating instruments and data access groups).

Typing, from the data dictionary (:func:`~proximite.cohort.redcap.dictionary.staged_fields`):

==========================================  ==================================================
field                                       staged column
==========================================  ==================================================
text, validation ``date_*``                 datetime64[ns]
text, validation ``datetime_*``             datetime64[ns] (time kept)
text, validation ``integer``; slider        Int64
text, validation ``number*``; calc          Float64
yesno, truefalse                            boolean (``1``/``0``)
radio, dropdown                             string code, checked against the choices
checkbox                                    one boolean column per code, ``field___code``
text, notes, file, sql                      string
``<form>_complete``                         Int64 (0, 1, 2)
``identifier = y``                          dropped: identifiers never leave layer 01
==========================================  ==================================================

Missing-data codes are described in :mod:`proximite.cohort.redcap.form_types`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from proximite.cohort.redcap.dictionary import DAG, EVENT, INSTANCE, INSTRUMENT, staged_fields
from proximite.cohort.redcap.form_types import type_form
from proximite.cohort.redcap.layout import as_string_table, check_export_columns, fail_rows
from proximite.cohort.redcap.refusal import StagingRefused, defects_frame
from proximite.cohort.sources.coerce import blank_to_null, to_int
from proximite.cohort.sources.rows import RowLocator, active_log, collecting_defects
from proximite.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.redcap.project import RedcapProject

__all__ = ["META_COLUMNS", "stage_records"]

log = logging.getLogger(__name__)

#: The key columns of every staged form table, in order (``record_id`` is the project's record id field).
META_COLUMNS = ("record_id", EVENT, INSTRUMENT, INSTANCE, DAG, "source_row")


def stage_records(
    records: pa.Table | pd.DataFrame,
    project: RedcapProject,
    *,
    event_waves: Mapping[str, int] | None = None,
    path: str | Path = "records.csv",
    source_rows: np.ndarray | None = None,
) -> dict[str, pd.DataFrame]:
    """Check and type a REDCap flat export and split it into one table per form.

    Parameters
    ----------
    records : pyarrow.Table or DataFrame
        The flat export (``type=flat``, ``rawOrLabel=raw``, ``exportDataAccessGroups=true``) as
        strings; ``""`` or null for an empty cell.
    project : RedcapProject
        The data dictionary, events, form–event mapping, repeating instruments and DAGs.
    event_waves : mapping, optional
        ``{unique event name: wave}`` (``settings.event_waves``): a record may have only one row
        per wave and non-repeating form.
    path : str or Path, keyword-only
        Where the records came from, named in errors.
    source_rows : ndarray, optional
        1-based row of each record in its file (default ``1..n``).

    Returns
    -------
    dict of str to DataFrame
        One table per form of the dictionary, with :data:`META_COLUMNS` then the form's fields
        (identifiers dropped, checkboxes expanded) and ``<form>_complete``.

    Raises
    ------
    InputError
        A column the dictionary defines is missing, or a column is not in the dictionary (the
        file as a whole cannot be read).
    StagingRefused
        An :class:`InputError` listing *every* defect of the rows at once, each with its REDCap
        record id, event, repeat instrument and instance: an unknown event, DAG or repeating
        instrument, a duplicate (record, event, repeat instrument, instance) or (record, wave), a
        value on an event where its form is not collected, or a cell that does not fit its
        field's type (:mod:`~proximite.cohort.redcap.refusal` writes the report).

    Notes
    -----
    A row belongs to form *f* when ``redcap_repeat_instrument == f``, or when it is empty, the
    row's event collects *f* and *f* does not repeat at that event.
    """
    path = Path(path)
    table = as_string_table(records)
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64) if source_rows is None else np.asarray(source_rows, dtype=np.int64)
    fields = staged_fields(project)
    dropped = check_export_columns(table, project, fields, path=path)
    if dropped:
        log.info("REDCap export: %d survey column(s) dropped", len(dropped))
        table = table.drop_columns(dropped)
    with collecting_defects() as found:
        meta = _key_columns(table, project, rows=rows, path=path)
        membership = _form_membership(project, meta, rows=rows, path=path)
        if event_waves:
            _check_one_row_per_wave(project, meta, membership, event_waves, rows=rows, path=path)
        _check_unique_rows(meta, rows=rows, path=path)
        # A row whose keys are wrong belongs to no form: its values are not reported again.
        unplaced = np.isin(rows, [defect.row for defect in found.defects])
        staged = {
            form: type_form(
                table, form, [f for f in fields if f.form == form], project, membership[form],
                rows=rows, path=path, meta=meta, unplaced=unplaced,
            )
            for form in project.forms
        }
    if found.defects:
        raise StagingRefused(path, defects_frame(found.defects, meta, rows=rows, record_field=project.record_id_field))
    return staged


def _key_columns(table: pa.Table, project: RedcapProject, *, rows: np.ndarray, path: Path) -> dict[str, pa.Array]:
    """The record id, event, repeat instrument, instance and DAG columns, checked against the project."""

    def column(name: str) -> pa.Array:
        if name in table.column_names:
            return blank_to_null(table[name])
        return pa.nulls(table.num_rows, pa.string())

    record_id = column(project.record_id_field)
    event = pc.fill_null(column(EVENT), "")
    instrument = pc.fill_null(column(INSTRUMENT), "")
    dag = column(DAG)
    fail_rows(
        pc.is_null(record_id).to_numpy(zero_copy_only=False), path=path, rows=rows,
        rule="required value missing", column=project.record_id_field, detail="Every row needs its record id",
    )
    _check_known(
        event, set(project.event_names), path=path, rows=rows, column=EVENT, what="event",
        origin=project.origins.get("events", "events"),
    )
    dag_names = project.dag_names
    if dag_names is not None:
        _check_known(
            pc.fill_null(dag, ""), set(dag_names) | {""}, path=path, rows=rows, column=DAG,
            what="data access group", origin=project.origins.get("dags", "dags.csv"),
        )
    _check_known(
        instrument, set(project.repeating) | {""}, path=path, rows=rows, column=INSTRUMENT,
        what="repeating instrument", origin=project.origins.get("repeating", "repeating forms"),
    )
    instance = to_int(column(INSTANCE), locator=RowLocator(path=path, rows=pa.array(rows)), column=INSTANCE)
    is_repeat = pc.not_equal(instrument, "").to_numpy(zero_copy_only=False)
    fail_rows(
        is_repeat & pc.is_null(instance).to_numpy(zero_copy_only=False), path=path, rows=rows,
        rule="required value missing", column=INSTANCE,
        detail="A repeating instrument's row needs its instance number (1, 2, ...)",
    )
    fail_rows(
        is_repeat & (pc.fill_null(instance, 1).to_numpy(zero_copy_only=False) < 1), path=path, rows=rows,
        rule="instance out of range", column=INSTANCE, detail="Instances are numbered from 1",
    )
    return {"record_id": record_id, EVENT: event, INSTRUMENT: instrument, INSTANCE: instance, DAG: dag}


def _form_membership(
    project: RedcapProject, meta: Mapping[str, pa.Array], *, rows: np.ndarray, path: Path
) -> dict[str, np.ndarray]:
    """``{form: rows that belong to it}``; fails on a repeating row at an event where the form does not repeat."""
    event_np = meta[EVENT].to_numpy(zero_copy_only=False)
    instrument_np = meta[INSTRUMENT].to_numpy(zero_copy_only=False)
    form_events, repeating = project.form_events, project.repeating
    membership: dict[str, np.ndarray] = {}
    for form in project.forms:
        repeats_at = repeating.get(form, frozenset())
        collected = [name for name in form_events.get(form, ()) if name not in repeats_at]
        not_repeating = (instrument_np == "") & np.isin(event_np, collected)
        is_repeat = instrument_np == form
        if is_repeat.any():
            fail_rows(
                is_repeat & ~np.isin(event_np, sorted(repeats_at)), path=path, rows=rows,
                rule="form not repeating at this event", column=EVENT,
                detail=f"'{form}' repeats only at {', '.join(sorted(repeats_at)) or 'no event'}",
            )
        membership[form] = not_repeating | is_repeat
    return membership


def _check_one_row_per_wave(
    project: RedcapProject,
    meta: Mapping[str, pa.Array],
    membership: Mapping[str, np.ndarray],
    event_waves: Mapping[str, int],
    *,
    rows: np.ndarray,
    path: Path,
) -> None:
    """Fail on a second row of a record for one wave and non-repeating form.

    It is the commonest duplicate: it is said in those terms before the generic
    (record, event, repeat instrument, instance) check.
    """
    record_np = meta["record_id"].to_numpy(zero_copy_only=False)
    instrument_np = meta[INSTRUMENT].to_numpy(zero_copy_only=False)
    wave_of = {name: int(wave) for name, wave in event_waves.items()}
    waves = pd.Series(meta[EVENT].to_numpy(zero_copy_only=False)).map(wave_of)
    for form in project.forms:
        mask = membership[form] & (instrument_np == "") & waves.notna().to_numpy()
        if not mask.any():
            continue
        keys = pd.DataFrame({"record": record_np[mask], "wave": waves[mask].to_numpy()})
        repeated, earlier = _duplicates(keys, rows[mask])
        full = np.zeros(len(record_np), dtype=bool)
        full[np.flatnonzero(mask)[repeated]] = True
        fail_rows(
            full, path=path, rows=rows, rule="duplicate (family, wave)", column=EVENT,
            detail=f"The record already has a '{form}' row for this wave at row {earlier}",
        )


def _check_unique_rows(meta: Mapping[str, pa.Array], *, rows: np.ndarray, path: Path) -> None:
    """One row per (record, event, repeat instrument, instance): REDCap's own key."""
    key_frame = pd.DataFrame(
        {
            "record": meta["record_id"].to_numpy(zero_copy_only=False),
            "event": meta[EVENT].to_numpy(zero_copy_only=False),
            "instrument": meta[INSTRUMENT].to_numpy(zero_copy_only=False),
            "instance": pc.fill_null(meta[INSTANCE], 0).to_numpy(zero_copy_only=False),
        }
    )
    repeated, earlier = _duplicates(key_frame, rows)
    fail_rows(
        repeated, path=path, rows=rows, rule="duplicate row", column=EVENT,
        detail=f"The same (record, event, repeat instrument, instance) is already at row {earlier}; "
        "each record has one row per event and instance",
    )


def _check_known(
    values: pa.Array, allowed: set[str], *, path: Path, rows: np.ndarray, column: str, what: str, origin: str
) -> None:
    """Unknown non-empty values of a key column (quoted: they are codes, not a person's data)."""
    distinct = pc.unique(values).to_pylist()
    unknown = [value for value in distinct if value not in allowed]
    if not unknown:
        return
    mask = pc.is_in(values, value_set=pa.array(unknown, pa.string())).to_numpy(zero_copy_only=False)
    listed = sorted(value for value in allowed if value)
    if active_log() is not None:
        fail_rows(
            mask, path=path, rows=rows, rule=f"unknown {what}", column=column,
            detail=f"is not among the project's {what}s ({origin})", allowed=", ".join(listed), cells=values,
        )
        return
    first = int(np.argmax(mask))
    value = values[first].as_py()
    shown = ", ".join(listed) if len(listed) <= 20 else f"{len(listed)} values"
    quoted = f"'{value}'" if value else "an empty value"
    raise InputError(
        path, f"unknown {what}", row=int(rows[first]), column=column, count=int(mask.sum()),
        detail=f"{quoted} is not among the project's {what}s ({origin}: {shown})",
    )


def _duplicates(keys: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Mask of rows whose key repeats an earlier row, and the first earlier row of the first one."""
    repeated = keys.duplicated(keep="first").to_numpy()
    if not repeated.any():
        return repeated, None
    first = int(np.argmax(repeated))
    same = (keys == keys.iloc[first]).all(axis=1).to_numpy()
    return repeated, int(rows[int(np.argmax(same))])


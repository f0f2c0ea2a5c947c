"""REDCap's EAV record export (``type=eav``): one row per stored value.

REDCap writes its ``redcap_data`` table as it stores it: columns ``record``, then
``redcap_event_name`` (longitudinal projects), ``redcap_repeat_instrument`` and
``redcap_repeat_instance`` (projects with repeating instruments or events), then ``field_name``
and ``value``. Rules kept here (REDCapR's EAV reader relies on the same ones):

- a blank value has no row;
- a checkbox has one row per *checked* option, under the checkbox's own field name (not
  ``field___code``), with the option's code as value; unchecked options have no row;
- ``<form>_complete`` has a row where the form has a status;
- the record id has a row on each event row of the record (not on repeat instances, which
  REDCap stores without it);
- with ``rawOrLabel=label``, coded values (choices, yes/no, checkbox options, form status,
  missing-data codes) and event names are written as labels;
- the data access group is never written (REDCap dropped it from EAV exports in 6.14).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._api_records import (
    COMPLETE_LABELS,
    EVENT,
    INSTANCE,
    INSTRUMENT,
    ProjectSchema,
)

__all__ = ["eav_from_flat", "EAV_VALUE_COLUMNS"]

#: The last two columns of every EAV export.
EAV_VALUE_COLUMNS = ("field_name", "value")


def eav_from_flat(
    flat: pd.DataFrame, schema: ProjectSchema, *, labels: bool = False, unique_event_names: bool = False
) -> pd.DataFrame:
    """The EAV export of a flat export (raw codes, REDCap's flat layout, no DAG column).

    Parameters
    ----------
    flat : DataFrame
        A raw flat export (strings, ``""`` when blank), filters already applied.
    schema : ProjectSchema
        The project's dictionary and structure.
    labels : bool, keyword-only
        ``rawOrLabel=label``: choice labels instead of codes.
    unique_event_names : bool, keyword-only
        ``eventName=unique`` with labels: keep unique event names.

    Returns
    -------
    DataFrame
        ``record``, the key columns the project has, ``field_name``, ``value``; rows in the flat
        export's order, then in column order.
    """
    keys = [column for column in (EVENT, INSTRUMENT, INSTANCE) if column in flat.columns]
    record_id = schema.record_id
    value_columns = [column for column in flat.columns if column not in {record_id, *keys}]
    pieces = []
    if len(flat):
        # The record id's own row, on event rows only (repeat instances carry no record id in REDCap).
        on_event_rows = (
            flat[INSTRUMENT].to_numpy(dtype=object) == "" if INSTRUMENT in flat.columns else np.ones(len(flat), bool)
        )
        ids = flat.loc[on_event_rows, [record_id, *keys]].copy()
        ids["field_name"] = record_id
        ids["value"] = ids[record_id]
        ids["_row"] = np.flatnonzero(on_event_rows)
        ids["_column"] = -1
        pieces.append(ids)
    for position, column in enumerate(value_columns):
        values = flat[column].to_numpy(dtype=object)
        if column in schema.checkbox_code:
            spec, code = schema.checkbox_code[column]
            rows = np.flatnonzero(values == "1")
            name, cell = spec.name, code
        else:
            rows = np.flatnonzero(values != "")
            name, cell = column, None
        if not len(rows):
            continue
        piece = flat.iloc[rows][[record_id, *keys]].copy()
        piece["field_name"] = name
        piece["value"] = cell if cell is not None else values[rows]
        piece["_row"] = rows
        piece["_column"] = position
        pieces.append(piece)
    columns = ["record", *keys, *EAV_VALUE_COLUMNS]
    if not pieces:
        return pd.DataFrame(columns=columns)
    out = pd.concat(pieces, ignore_index=True).sort_values(["_row", "_column"], kind="stable")
    out = out.rename(columns={record_id: "record"})[columns].reset_index(drop=True)
    if labels:
        out = _labelled(out, schema, unique_event_names=unique_event_names)
    return out.astype(object)


def _labelled(frame: pd.DataFrame, schema: ProjectSchema, *, unique_event_names: bool) -> pd.DataFrame:
    """Labels for coded values and events (``rawOrLabel=label``)."""
    out = frame.copy()
    mappings: dict[str, Mapping[str, str]] = {}
    for name, spec in schema.fields.items():
        if spec.choices:
            mappings[name] = {**schema.missing_codes, **spec.choices}
        elif schema.missing_codes:
            mappings[name] = schema.missing_codes
    for status in schema.complete_columns:
        mappings[status] = COMPLETE_LABELS
    mappings.pop(schema.record_id, None)
    out["value"] = [
        mappings[name].get(value, value) if name in mappings else value
        for name, value in zip(out["field_name"], out["value"], strict=True)
    ]
    if EVENT in out.columns and not unique_event_names:
        out[EVENT] = out[EVENT].map(lambda event: schema.event_labels.get(event, event))
    if INSTRUMENT in out.columns:
        out[INSTRUMENT] = out[INSTRUMENT].map(lambda form: schema.form_labels.get(form, form))
    return out

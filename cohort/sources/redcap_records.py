"""Type a REDCap flat records export from its data dictionary, and split it into one table per form.

This is the REDCap logic shared by every way records arrive: a CSV export on disk
(:class:`proximite.cohort.sources.files.RedcapExportSource`) or, later, the API through PyCap.
It needs only the records as strings (a pandas DataFrame or a pyarrow Table, ``""`` or null for an
empty cell) and a :class:`RedcapProject` (the metadata frame plus events, form–event mapping,
repeating instruments and data access groups).

Typing, from the data dictionary:

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

Missing-data codes: a project may declare them (project information ``missing_data_codes``,
``"NSP, Ne sait pas | REF, Refus"``). A cell holding one becomes missing in its typed column and
its reason (the code's label, else ``code NSP``) lands in a companion string column
``<field>__missing_reason``, as user-missing values of SPSS files do for the registry. For a
checkbox, REDCap exports one extra column per code (``field___nsp``): where it is ticked, every box
of the field becomes missing and the reason is kept. The companion column exists only when at least
one cell of the field holds a code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from proximite.cohort.codebook import REDCAP_DICTIONARY_HEADERS, REDCAP_METADATA_COLUMNS
from proximite.errors import InputError
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
    from proximite.cohort.codebook import Codebook

__all__ = [
    "RedcapProject",
    "META_COLUMNS",
    "normalise_metadata",
    "parse_choices",
    "checkbox_column",
    "flat_columns",
    "parse_missing_codes",
    "stage_records",
    "MISSING_REASON_SUFFIX",
]

log = logging.getLogger(__name__)

EVENT = "redcap_event_name"
INSTRUMENT = "redcap_repeat_instrument"
INSTANCE = "redcap_repeat_instance"
DAG = "redcap_data_access_group"
#: The key columns of every staged form table, in order (``record_id`` is the project's record id field).
META_COLUMNS = ("record_id", EVENT, INSTRUMENT, INSTANCE, DAG, "source_row")

_KNOWN_FIELD_TYPES = {
    "text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse",
    "calc", "slider", "file", "descriptive", "sql",
}
#: Metadata columns ingest needs; the other REDCap metadata columns are optional.
_NEEDED_METADATA = (
    "field_name", "form_name", "field_type", "select_choices_or_calculations",
    "text_validation_type_or_show_slider_number", "identifier",
)
#: Companion column of a field whose cells may hold a missing-data code (as for SPSS user-missing).
MISSING_REASON_SUFFIX = "__missing_reason"
#: Columns REDCap may add to an export that are not fields (survey options); dropped.
_SURVEY_COLUMNS = re.compile(r"^(redcap_survey_identifier|.+_timestamp)$")


@dataclass(frozen=True)
class RedcapProject:
    """What a REDCap project declares about its records, whatever the records came from.

    Parameters
    ----------
    metadata : DataFrame
        The data dictionary with the API's 18 column names (see :func:`normalise_metadata`),
        all strings, in dictionary order; the first field is the record id.
    events : tuple of str
        Unique event names of the project.
    form_events : mapping
        ``{form: (unique event names where the form is collected)}``.
    repeating : mapping
        ``{form: {unique event names where the form repeats}}``.
    dags : frozenset of str, optional
        Unique data access group names; None when the project's DAGs are unknown (not checked).
    origins : mapping
        Where each of the above came from (``{"events": "events.csv"}``), for messages.
    missing_codes : mapping, optional
        The project's missing-data codes, ``{code: label}`` (see :func:`parse_missing_codes`).
    """

    metadata: pd.DataFrame
    events: tuple[str, ...]
    form_events: Mapping[str, tuple[str, ...]]
    repeating: Mapping[str, frozenset[str]]
    dags: frozenset[str] | None = None
    origins: Mapping[str, str] = field(default_factory=dict)
    missing_codes: Mapping[str, str] = field(default_factory=dict)

    @property
    def record_id_field(self) -> str:
        return str(self.metadata["field_name"].iloc[0])

    @property
    def forms(self) -> list[str]:
        """Forms in dictionary order."""
        return list(dict.fromkeys(self.metadata["form_name"].tolist()))

    @classmethod
    def from_codebook(cls, codebook: Codebook, *, dags: frozenset[str] | None = None) -> RedcapProject:
        """The platform's own cohort project, as the codebook defines it."""
        mapping = codebook.form_event_mapping
        repeating: dict[str, set[str]] = {}
        for row in codebook.repeating_forms_events.itertuples(index=False):
            repeating.setdefault(str(row.form_name), set()).add(str(row.event_name))
        return cls(
            metadata=codebook.data_dictionary.astype(str),
            events=tuple(codebook.event_names),
            form_events={
                form: tuple(group["unique_event_name"].astype(str)) for form, group in mapping.groupby("form", sort=False)
            },
            repeating={form: frozenset(events) for form, events in repeating.items()},
            dags=dags,
            origins={"events": "the codebook", "form_events": "the codebook", "repeating": "the codebook"},
        )

    @classmethod
    def from_frames(
        cls,
        metadata: pd.DataFrame,
        *,
        events: pd.DataFrame | None = None,
        form_event_mapping: pd.DataFrame | None = None,
        repeating_forms_events: pd.DataFrame | None = None,
        dags: pd.DataFrame | None = None,
        codebook: Codebook | None = None,
        paths: Mapping[str, str | Path] | None = None,
        missing_data_codes: str | None = None,
    ) -> RedcapProject:
        """A project from REDCap's exports as frames (CSV files or API responses alike).

        Parameters
        ----------
        metadata : DataFrame
            The data dictionary, UI headers or API names.
        events, form_event_mapping, repeating_forms_events, dags : DataFrame, optional
            REDCap's exports with the API's column names (``unique_event_name``; ``form`` and
            ``unique_event_name``; ``event_name`` and ``form_name``; ``unique_group_name``).
            Missing ones fall back to the codebook's cohort project, except ``dags`` (then DAGs
            are not checked).
        codebook : Codebook, optional
            For the fallbacks (default: the packaged codebook).
        paths : mapping, optional
            ``{"metadata"|"events"|"form_event_mapping"|"repeating_forms_events"|"dags": path}``,
            named in errors.
        missing_data_codes : str, optional
            The project information's ``missing_data_codes`` (``"NSP, Ne sait pas | REF, Refus"``);
            empty or None when the project declares none.

        Raises
        ------
        InputError
            A frame lacks a column it needs, the dictionary is malformed, or a missing-data code
            is declared twice.
        """
        from proximite.cohort.codebook import load_codebook

        paths = dict(paths or {})

        def where(name: str) -> str | Path:
            return paths.get(name, f"{name}.csv")

        def needs(frame: pd.DataFrame, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
            frame = frame.rename(columns=lambda column: str(column).strip())
            for column in columns:
                if column not in frame.columns:
                    raise InputError(
                        where(name), "required column missing", column=column,
                        detail="Export this file from REDCap (API names) or take it from the codebook",
                    )
            return pd.DataFrame({column: frame[column].fillna("").astype(str).str.strip() for column in columns})

        fallback = cls.from_codebook(codebook or load_codebook())
        origins = dict(fallback.origins)
        event_names = fallback.events
        if events is not None:
            event_names = tuple(needs(events, "events", ("unique_event_name",))["unique_event_name"])
            origins["events"] = Path(where("events")).name
        form_events = fallback.form_events
        if form_event_mapping is not None:
            frame = needs(form_event_mapping, "form_event_mapping", ("unique_event_name", "form"))
            form_events = {form: tuple(group["unique_event_name"]) for form, group in frame.groupby("form", sort=False)}
            origins["form_events"] = Path(where("form_event_mapping")).name
        repeating = fallback.repeating
        if repeating_forms_events is not None:
            frame = needs(repeating_forms_events, "repeating_forms_events", ("event_name", "form_name"))
            collected: dict[str, set[str]] = {}
            for event, form in zip(frame["event_name"], frame["form_name"], strict=True):
                collected.setdefault(form, set()).add(event)
            repeating = {form: frozenset(names) for form, names in collected.items()}
            origins["repeating"] = Path(where("repeating_forms_events")).name
        groups = None
        if dags is not None:
            groups = frozenset(needs(dags, "dags", ("unique_group_name",))["unique_group_name"])
            origins["dags"] = Path(where("dags")).name
        return cls(
            metadata=normalise_metadata(metadata, path=where("metadata")),
            events=tuple(event_names),
            form_events=form_events,
            repeating=repeating,
            dags=groups,
            origins=origins,
            missing_codes=parse_missing_codes(missing_data_codes or "", path=paths.get("info", "project.json")),
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


def _as_string_table(records: pa.Table | pd.DataFrame) -> pa.Table:
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


@dataclass(frozen=True)
class _Field:
    name: str
    form: str
    kind: str  # date, datetime, int, float, bool, code, checkbox, text
    codes: tuple[str, ...] = ()


def _field_kind(row: pd.Series) -> str:
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
            return "date"
        if validation == "integer":
            return "int"
        if validation.startswith("number"):
            return "float"
    return "text"


def _fields(project: RedcapProject) -> list[_Field]:
    """Fields that leave layer 01 (not identifiers, not descriptive), in dictionary order."""
    fields = []
    for _, row in project.metadata.iterrows():  # the dictionary: a few hundred rows at most
        if row["field_type"] == "descriptive":
            continue
        kind = _field_kind(row)
        codes = tuple(parse_choices(row["select_choices_or_calculations"])) if kind in {"code", "checkbox"} else ()
        fields.append(_Field(row["field_name"], row["form_name"], kind, codes))
    return fields


def _export_columns(field_: _Field) -> list[str]:
    if field_.kind == "checkbox":
        return [checkbox_column(field_.name, code) for code in field_.codes]
    return [field_.name]


def flat_columns(project: RedcapProject) -> list[str]:
    """The columns of the project's flat export, in REDCap's order (``docs/data-layout.md``)."""
    fields = _fields(project)
    columns = [project.record_id_field, EVENT, INSTRUMENT, INSTANCE, DAG]
    for form in project.forms:
        columns += [c for f in fields if f.form == form and f.name != project.record_id_field for c in _export_columns(f)]
        columns.append(f"{form}_complete")
    return columns


def _fail(mask: np.ndarray, *, path: Path, rows: np.ndarray, rule: str, column: str, detail: str) -> None:
    if mask.any():
        first = int(np.argmax(mask))
        raise InputError(path, rule, row=int(rows[first]), column=column, detail=detail, count=int(mask.sum()))


def _check_columns(table: pa.Table, project: RedcapProject, fields: list[_Field], *, path: Path) -> list[str]:
    """Check the export has the dictionary's columns; return the columns to drop (survey extras)."""
    present = set(table.column_names)
    identifiers = set(project.metadata.loc[project.metadata["identifier"].str.lower() == "y", "field_name"])
    needed = [project.record_id_field, EVENT]
    if project.repeating:
        needed += [INSTRUMENT, INSTANCE]
    if project.dags:
        needed.append(DAG)
    for field_ in fields:
        if field_.name in identifiers or field_.name == project.record_id_field:
            continue  # a de-identified export may lack identifiers: they are dropped anyway
        needed += _export_columns(field_)
    needed += [f"{form}_complete" for form in project.forms]
    for column in needed:
        if column not in present:
            raise InputError(
                path, "required column missing", column=column,
                detail="The data dictionary defines it; export all fields of the project (type=flat)",
            )
    known = set(needed) | {INSTRUMENT, INSTANCE, DAG} | {c for f in fields for c in _export_columns(f)}
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


def _check_known(
    values: pa.Array, allowed: set[str], *, path: Path, rows: np.ndarray, column: str, what: str, origin: str
) -> None:
    """Unknown non-empty values of a key column (quoted: they are codes, not a person's data)."""
    distinct = pc.unique(values).to_pylist()
    unknown = [value for value in distinct if value not in allowed]
    if not unknown:
        return
    mask = pc.is_in(values, value_set=pa.array(unknown, pa.string())).to_numpy(zero_copy_only=False)
    first = int(np.argmax(mask))
    value = values[first].as_py()
    listed = sorted(value for value in allowed if value)
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
        A missing or unknown column, an unknown event, DAG or repeating instrument, a duplicate
        (record, event, repeat instrument, instance) or (record, wave), a value on an event where
        its form is not collected, or a cell that does not fit its field's type.

    Notes
    -----
    A row belongs to form *f* when ``redcap_repeat_instrument == f``, or when it is empty, the
    row's event collects *f* and *f* does not repeat at that event.
    """
    path = Path(path)
    table = _as_string_table(records)
    n_rows = table.num_rows
    rows = np.arange(1, n_rows + 1, dtype=np.int64) if source_rows is None else np.asarray(source_rows, dtype=np.int64)
    fields = _fields(project)
    dropped = _check_columns(table, project, fields, path=path)
    if dropped:
        log.info("REDCap export: %d survey column(s) dropped", len(dropped))
        table = table.drop_columns(dropped)

    def column(name: str) -> pa.Array:
        if name in table.column_names:
            return blank_to_null(table[name])
        return pa.nulls(n_rows, pa.string())

    record_id = column(project.record_id_field)
    event = pc.fill_null(column(EVENT), "")
    instrument = pc.fill_null(column(INSTRUMENT), "")
    dag = column(DAG)
    _fail(
        pc.is_null(record_id).to_numpy(zero_copy_only=False), path=path, rows=rows,
        rule="required value missing", column=project.record_id_field, detail="Every row needs its record id",
    )
    _check_known(
        event, set(project.events), path=path, rows=rows, column=EVENT, what="event",
        origin=project.origins.get("events", "events"),
    )
    if project.dags is not None:
        _check_known(
            pc.fill_null(dag, ""), set(project.dags) | {""}, path=path, rows=rows, column=DAG,
            what="data access group", origin=project.origins.get("dags", "dags.csv"),
        )
    _check_known(
        instrument, set(project.repeating) | {""}, path=path, rows=rows, column=INSTRUMENT,
        what="repeating instrument", origin=project.origins.get("repeating", "repeating forms"),
    )
    locator = RowLocator(path=path, rows=pa.array(rows))
    instance = to_int(column(INSTANCE), locator=locator, column=INSTANCE)
    is_repeat = pc.not_equal(instrument, "").to_numpy(zero_copy_only=False)
    instance_missing = pc.is_null(instance).to_numpy(zero_copy_only=False)
    _fail(
        is_repeat & instance_missing, path=path, rows=rows, rule="required value missing", column=INSTANCE,
        detail="A repeating instrument's row needs its instance number (1, 2, ...)",
    )
    _fail(
        is_repeat & (pc.fill_null(instance, 1).to_numpy(zero_copy_only=False) < 1), path=path, rows=rows,
        rule="instance out of range", column=INSTANCE, detail="Instances are numbered from 1",
    )

    record_np = record_id.to_numpy(zero_copy_only=False)
    event_np = event.to_numpy(zero_copy_only=False)
    instrument_np = instrument.to_numpy(zero_copy_only=False)
    membership: dict[str, np.ndarray] = {}
    for form in project.forms:
        repeats_at = project.repeating.get(form, frozenset())
        collected = [name for name in project.form_events.get(form, ()) if name not in repeats_at]
        not_repeating = (instrument_np == "") & np.isin(event_np, collected)
        repeating = instrument_np == form
        if repeating.any():
            _fail(
                repeating & ~np.isin(event_np, sorted(repeats_at)), path=path, rows=rows,
                rule="form not repeating at this event", column=EVENT,
                detail=f"'{form}' repeats only at {', '.join(sorted(repeats_at)) or 'no event'}",
            )
        membership[form] = not_repeating | repeating

    # A second row of a family for one wave is the commonest duplicate: say so in those terms
    # before the generic (record, event, repeat instrument, instance) check.
    if event_waves:
        wave_of = {name: int(wave) for name, wave in event_waves.items()}
        waves = pd.Series(event_np).map(wave_of)
        for form in project.forms:
            mask = membership[form] & (instrument_np == "") & waves.notna().to_numpy()
            if not mask.any():
                continue
            keys = pd.DataFrame({"record": record_np[mask], "wave": waves[mask].to_numpy()})
            repeated, earlier = _duplicates(keys, rows[mask])
            full = np.zeros(n_rows, dtype=bool)
            full[np.flatnonzero(mask)[repeated]] = True
            _fail(
                full, path=path, rows=rows, rule="duplicate (family, wave)", column=EVENT,
                detail=f"The record already has a '{form}' row for this wave at row {earlier}",
            )

    # One row per (record, event, repeat instrument, instance): REDCap's own key.
    key_frame = pd.DataFrame(
        {
            "record": record_np,
            "event": event.to_numpy(zero_copy_only=False),
            "instrument": instrument.to_numpy(zero_copy_only=False),
            "instance": pc.fill_null(instance, 0).to_numpy(zero_copy_only=False),
        }
    )
    repeated, earlier = _duplicates(key_frame, rows)
    _fail(
        repeated, path=path, rows=rows, rule="duplicate row", column=EVENT,
        detail=f"The same (record, event, repeat instrument, instance) is already at row {earlier}; "
        "each record has one row per event and instance",
    )

    tables: dict[str, pd.DataFrame] = {}
    for form in project.forms:
        tables[form] = _type_form(
            table, form, [f for f in fields if f.form == form], project, membership[form],
            rows=rows, path=path, meta={"record_id": record_id, EVENT: event, INSTRUMENT: instrument,
                                        INSTANCE: instance, DAG: dag},
        )
    return tables


def _type_form(
    table: pa.Table,
    form: str,
    fields: list[_Field],
    project: RedcapProject,
    member: np.ndarray,
    *,
    rows: np.ndarray,
    path: Path,
    meta: dict[str, pa.Array],
) -> pd.DataFrame:
    """The typed table of one form: its rows, its fields (not identifiers), ``<form>_complete``."""
    identifiers = set(project.metadata.loc[project.metadata["identifier"].str.lower() == "y", "field_name"])
    columns_of_form = [c for f in fields if f.name != project.record_id_field for c in _export_columns(f)]
    columns_of_form.append(f"{form}_complete")
    outside = ~member
    for name in columns_of_form:
        if name not in table.column_names or not outside.any():
            continue
        filled = pc.not_equal(pc.utf8_trim_whitespace(table[name]), "").to_numpy(zero_copy_only=False)
        _fail(
            outside & filled, path=path, rows=rows, rule="value on an event where its form is not collected",
            column=name, detail=f"'{form}' is not collected at that event (form_event_mapping) or the row "
            "belongs to another repeating instrument",
        )

    selected = pa.array(member)
    form_rows = rows[member]
    locator = RowLocator(path=path, rows=pa.array(form_rows))

    def cells(name: str) -> pa.Array:
        return table[name].filter(selected)

    out: dict[str, pa.Array] = {
        "record_id": meta["record_id"].filter(selected),
        EVENT: meta[EVENT].filter(selected),
        INSTRUMENT: blank_to_null(meta[INSTRUMENT].filter(selected)),
        INSTANCE: meta[INSTANCE].filter(selected),
        DAG: meta[DAG].filter(selected),
        "source_row": pa.array(form_rows, pa.int64()),
    }
    reasons: dict[str, pa.Array] = {}
    for field_ in fields:
        if field_.name == project.record_id_field or field_.name in identifiers:
            continue
        if field_.kind == "checkbox":
            boxes = {
                checkbox_column(field_.name, code): to_bool(
                    cells(name), locator=locator, column=name, true_values=("1",), false_values=("0",)
                )
                for code in field_.codes
                for name in [checkbox_column(field_.name, code)]
            }
            reason = _checkbox_missing(table, field_.name, project.missing_codes, selected=selected, locator=locator)
            if reason is not None:
                unanswered = pc.is_valid(reason)
                boxes = {name: pc.if_else(unanswered, pa.scalar(None, pa.bool_()), box) for name, box in boxes.items()}
                reasons[field_.name + MISSING_REASON_SUFFIX] = reason
            out.update(boxes)
            continue
        name = field_.name
        values = cells(name)
        if project.missing_codes:
            values, reason = _split_missing(values, project.missing_codes)
            if reason is not None:
                reasons[name + MISSING_REASON_SUFFIX] = reason
        if field_.kind == "date":
            out[name] = to_date(values, locator=locator, column=name)
        elif field_.kind == "datetime":
            out[name] = to_date(values, locator=locator, column=name, with_time=True)
        elif field_.kind == "int":
            out[name] = to_int(values, locator=locator, column=name)
        elif field_.kind == "float":
            out[name] = to_float(values, locator=locator, column=name)
        elif field_.kind == "bool":
            out[name] = to_bool(values, locator=locator, column=name, true_values=("1",), false_values=("0",))
        elif field_.kind == "code":
            out[name] = check_codes(values, field_.codes, locator=locator, column=name, list_name=f"{name}'s choices")
        else:
            out[name] = blank_to_null(values, trim=False)
    complete = f"{form}_complete"
    codes = check_codes(cells(complete), ("0", "1", "2"), locator=locator, column=complete, list_name="form status (0, 1, 2)")
    out[complete] = pc.cast(codes, pa.int64())
    out.update(reasons)
    return to_frame(out)


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

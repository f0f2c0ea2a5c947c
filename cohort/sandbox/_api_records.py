"""Records of the sandbox: REDCap's flat export, import and delete over a :class:`RedcapProject`.

The records frame stays in REDCap's flat layout (``docs/data-layout.md``): one row per record ×
event × repeat instance, ordered by record, then event, then repeating instrument and instance.
Because rows of a record are contiguous, an index of ``record → (first row, end row)`` turns a
batch of record ids into row positions with a few numpy operations, so exporting 500 records
costs the same whatever the size of the project.

REDCap's rules kept here:

- the record id comes first, then ``redcap_event_name`` (longitudinal projects),
  ``redcap_repeat_instrument`` and ``redcap_repeat_instance`` (projects with repeating
  instruments), ``redcap_data_access_group`` (only with ``exportDataAccessGroups`` and a token
  that is not bound to a group), then each form's fields (checkboxes expanded) and
  ``<form>_complete``;
- ``fields``/``forms`` filters keep the record id and the key columns, write the chosen
  columns in dictionary order, and drop the rows of repeating instruments that were not chosen;
- ``dateRangeBegin``/``dateRangeEnd`` keep records whose last change falls in the range (bounds
  included); a record never changed counts as changed when the project was loaded;
- imports are all-or-nothing: any invalid value, event or instrument refuses the whole batch.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from proximite.cohort.sandbox._api_wire import ApiError
from proximite.cohort.redcap.dictionary import checkbox_column, parse_choices
from proximite.cohort.redcap.project import RedcapProject

__all__ = ["ProjectSchema", "RecordStore", "ExportOptions", "ImportOptions", "ImportResult", "LogItem"]

EVENT = "redcap_event_name"
INSTRUMENT = "redcap_repeat_instrument"
INSTANCE = "redcap_repeat_instance"
DAG = "redcap_data_access_group"
SURVEY_IDENTIFIER = "redcap_survey_identifier"
COMPLETE_LABELS = {"0": "Incomplete", "1": "Unverified", "2": "Complete"}
YESNO_LABELS = {"1": "Yes", "0": "No"}
TRUEFALSE_LABELS = {"1": "True", "0": "False"}
CHECKBOX_LABELS = {"1": "Checked", "0": "Unchecked"}
_INTEGER = re.compile(r"^[-+]?\d+$")
_NUMBER = re.compile(r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$")
_DATE_FORMATS = {"YMD": ("%Y-%m-%d", "%Y/%m/%d"), "DMY": ("%d-%m-%Y", "%d/%m/%Y"), "MDY": ("%m-%d-%Y", "%m/%d/%Y")}


def choice_labels(choices: str) -> dict[str, str]:
    """``{code: label}`` of a REDCap choice list ``"1, Oui | 0, Non"`` (codes as :func:`parse_choices`)."""
    labels: dict[str, str] = {}
    for item in str(choices).split("|"):
        code, _, label = item.strip().partition(",")
        labels.setdefault(code.strip(), label.strip())
    # The codes and their order come from the platform's one parser of choice lists.
    return {code: labels[code] for code in parse_choices(choices)}


@dataclass(frozen=True)
class FieldSpec:
    """One field of the data dictionary, with what export and import need."""

    name: str
    form: str
    field_type: str
    validation: str
    label: str
    choices: Mapping[str, str]
    columns: tuple[str, ...]


def _field_spec(row: Any) -> FieldSpec:
    """A data dictionary row (an ``itertuples`` row of strings) as a :class:`FieldSpec`."""
    choices: Mapping[str, str] = {}
    if row.field_type in {"radio", "dropdown", "checkbox"}:
        choices = choice_labels(row.select_choices_or_calculations)
    elif row.field_type == "yesno":
        choices = YESNO_LABELS
    elif row.field_type == "truefalse":
        choices = TRUEFALSE_LABELS
    if row.field_type == "descriptive":
        columns: tuple[str, ...] = ()
    elif row.field_type == "checkbox":
        columns = tuple(checkbox_column(row.field_name, code) for code in choices)
    else:
        columns = (row.field_name,)
    return FieldSpec(
        name=row.field_name,
        form=row.form_name,
        field_type=row.field_type,
        validation=row.text_validation_type_or_show_slider_number,
        label=row.field_label,
        choices=choices,
        columns=columns,
    )


class ProjectSchema:
    """What the data dictionary and the project structure say about the records.

    Parameters
    ----------
    project : RedcapProject
        The project (metadata, events, form–event mapping, repeating forms, DAGs).
    """

    def __init__(self, project: RedcapProject) -> None:
        metadata = project.metadata.fillna("").astype(str)
        self.record_id = project.record_id_field
        self.longitudinal = project.is_longitudinal
        self.has_repeating = project.has_repeating
        self.fields: dict[str, FieldSpec] = {}
        self.forms: list[str] = []
        for row in metadata.itertuples(index=False):  # the dictionary: a few hundred rows at most
            if row.form_name not in self.forms:
                self.forms.append(row.form_name)
            self.fields[row.field_name] = _field_spec(row)
        #: Data columns of each form (record id excluded), then ``<form>_complete``.
        self.form_columns: dict[str, list[str]] = {form: [] for form in self.forms}
        for spec in self.fields.values():
            if spec.name != self.record_id:
                self.form_columns[spec.form].extend(spec.columns)
        for form in self.forms:
            self.form_columns[form].append(f"{form}_complete")
        self.column_form = {column: form for form, columns in self.form_columns.items() for column in columns}
        self.column_field: dict[str, FieldSpec] = {
            column: spec for spec in self.fields.values() for column in spec.columns if column != self.record_id
        }
        self.checkbox_code: dict[str, tuple[FieldSpec, str]] = {}
        for spec in self.fields.values():
            if spec.field_type == "checkbox":
                for code, column in zip(spec.choices, spec.columns, strict=True):
                    self.checkbox_code[column] = (spec, code)
        self.complete_columns = {f"{form}_complete": form for form in self.forms}

        events = project.events if self.longitudinal else pd.DataFrame()
        self.events: list[str] = [str(name) for name in events.get("unique_event_name", pd.Series(dtype=str))]
        self.event_rank = {name: rank for rank, name in enumerate(self.events)}
        arms = {str(row.get("arm_num", "")): str(row.get("name", "")) for row in project.arms.to_dict("records")}
        several_arms = len(set(events.get("arm_num", pd.Series(dtype=str)).astype(str))) > 1
        self.event_labels: dict[str, str] = {}
        for row in events.to_dict("records"):
            label = str(row.get("event_name", row["unique_event_name"]))
            if several_arms:
                arm = str(row.get("arm_num", ""))
                label = f"{label} (Arm {arm}: {arms.get(arm, '')})"
            self.event_labels[str(row["unique_event_name"])] = label
        # Where each form is collected; a classic project collects every form on its one event "".
        self.form_events: dict[str, set[str]] = {form: set() for form in self.forms}
        if self.longitudinal:
            for row in project.form_event_mapping.to_dict("records"):
                self.form_events.setdefault(str(row["form"]), set()).add(str(row["unique_event_name"]))
        else:
            self.form_events = {form: {""} for form in self.forms}
        self.repeating: dict[str, set[str]] = {}
        if self.has_repeating:
            for row in project.repeating_forms_events.to_dict("records"):
                form = str(row.get("form_name", ""))
                if form:  # a repeating event (blank form) is not served
                    event = str(row.get("event_name", "")) if self.longitudinal else ""
                    self.repeating.setdefault(form, set()).add(event)
        self.form_rank = {form: rank for rank, form in enumerate(self.forms)}
        dags = project.dags
        self.dag_labels: dict[str, str] = {}
        if not dags.empty and "unique_group_name" in dags:
            names = dags.get("data_access_group_name", dags["unique_group_name"])
            self.dag_labels = dict(zip(dags["unique_group_name"].astype(str), names.astype(str), strict=True))
        self.missing_codes = choice_labels(str(project.info.get("missing_data_codes", "") or ""))
        # Instrument labels are not in the data dictionary: a loader may give them in the project
        # information; otherwise the form name stands in, as REDCap's default label does.
        labels = project.info.get("instrument_labels") or {}
        self.form_labels = {form: str(labels.get(form, form.replace("_", " ").capitalize())) for form in self.forms}

    # --------------------------------------------------------------------------------- helpers
    def key_columns(self) -> list[str]:
        """The record id and the key columns this project exports (without the DAG)."""
        columns = [self.record_id]
        if self.longitudinal:
            columns.append(EVENT)
        if self.has_repeating:
            columns += [INSTRUMENT, INSTANCE]
        return columns

    def exportable_fields(self) -> set[str]:
        """Names accepted by ``fields``: dictionary fields and ``<form>_complete``."""
        return set(self.fields) | set(self.complete_columns)

    def column_allowed(self, column: str, *, event: str, instrument: str) -> bool:
        """Whether a data column may hold a value on a row (form–event mapping, repeating forms)."""
        form = self.column_form.get(column)
        if form is None:
            return True
        if instrument:
            return form == instrument
        return event in self.form_events.get(form, set()) and event not in self.repeating.get(form, set())

    def header_label(self, column: str) -> str:
        """The CSV header REDCap writes with ``rawOrLabelHeaders=label``."""
        fixed = {
            EVENT: "Event Name",
            INSTRUMENT: "Repeat Instrument",
            INSTANCE: "Repeat Instance",
            DAG: "Data Access Group",
            SURVEY_IDENTIFIER: "Survey Identifier",
        }
        if column in fixed:
            return fixed[column]
        if column in self.complete_columns:
            return "Complete?"
        if column in self.checkbox_code:
            spec, code = self.checkbox_code[column]
            return f"{spec.label} (choice={spec.choices[code]})"
        spec = self.fields.get(column) or self.column_field.get(column)
        return spec.label if spec is not None else column


@dataclass(frozen=True)
class ExportOptions:
    """The parameters of a flat record export (``content=record``)."""

    records: Sequence[str] = ()
    fields: Sequence[str] = ()
    forms: Sequence[str] = ()
    events: Sequence[str] = ()
    raw_or_label: str = "raw"
    event_name: str = "label"
    export_dags: bool = False
    survey_fields: bool = False
    checkbox_labels: bool = False
    date_begin: str | None = None
    date_end: str | None = None
    decimal_character: str = ""


@dataclass(frozen=True)
class ImportOptions:
    """The parameters of a record import."""

    overwrite: bool = False
    date_format: str = "YMD"
    force_auto_number: bool = False


@dataclass(frozen=True)
class LogItem:
    """A log entry an import or delete produced (the API module adds time and user)."""

    action: str
    details: str
    record: str


@dataclass
class ImportResult:
    """Records imported (in order), renamed ids (auto-numbering) and the log entries to write."""

    records: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    log: list[LogItem] = field(default_factory=list)


def _renumbered(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a 0..n-1 index, sharing its data (``reset_index`` would copy every cell)."""
    out = frame.copy(deep=False)
    out.index = pd.RangeIndex(len(out))
    return out


def normalise_datetime(text: str, *, parameter: str, end_of_day: bool = False, minutes_only: bool = False) -> str:
    """A REDCap time parameter as ``YYYY-MM-DD HH:MM:SS`` (or ``HH:MM``).

    Accepts ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM`` and ``YYYY-MM-DD HH:MM:SS``; a date alone is the
    start of the day, or its last minute with ``end_of_day``.

    Raises
    ------
    ApiError
        The value is not one of those.
    """
    value = text.strip().replace("T", " ")
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            moment = dt.datetime.strptime(value, pattern)
        except ValueError:
            continue
        if pattern == "%Y-%m-%d" and end_of_day:
            moment = moment.replace(hour=23, minute=59, second=59)
        return moment.strftime("%Y-%m-%d %H:%M" if minutes_only else "%Y-%m-%d %H:%M:%S")
    raise ApiError(400, f"The value of the parameter '{parameter}' is not a valid date/time (YYYY-MM-DD HH:MM:SS)")


class RecordStore:
    """The project's records with REDCap's export, import and delete.

    Parameters
    ----------
    project : RedcapProject
        The live project: imports and deletes replace ``project.records`` and update
        ``project.modified``.
    schema : ProjectSchema
        The project's dictionary and structure.
    loaded_at : str
        ``YYYY-MM-DD HH:MM:SS``: when records absent from ``project.modified`` count as changed.

    Notes
    -----
    Not thread-safe: the API serialises calls with a lock.
    """

    def __init__(self, project: RedcapProject, schema: ProjectSchema, *, loaded_at: str) -> None:
        self.project = project
        self.schema = schema
        self.loaded_at = loaded_at
        #: The last group of every record ever seen (deleted ones too), for the log's DAG filter.
        self.dag_history: dict[str, str] = {}
        self._frame: pd.DataFrame | None = None
        self._adopt(project.records)

    # ----------------------------------------------------------------------------------- index
    @property
    def frame(self) -> pd.DataFrame:
        self.refresh()
        assert self._frame is not None
        return self._frame

    def refresh(self) -> None:
        """Re-index when someone replaced ``project.records`` (tests may do so)."""
        current = self.project.records
        if current is not self._frame or len(current) != self._length:
            self._adopt(current)

    def _layout(self, frame: pd.DataFrame) -> list[str]:
        schema = self.schema
        layout = [*schema.key_columns(), DAG]
        if SURVEY_IDENTIFIER in frame.columns:
            layout.append(SURVEY_IDENTIFIER)
        for form in schema.forms:
            if f"{form}_timestamp" in frame.columns:
                layout.append(f"{form}_timestamp")
            layout.extend(schema.form_columns[form])
        return layout

    def _adopt(self, frame: pd.DataFrame, *, trusted: bool = False) -> None:
        """Take a records frame: REDCap's columns (missing ones blank), strings, sorted, indexed.

        ``trusted`` frames (built here after an import or delete) skip the scan for nulls, which
        costs a second or two at province scale.
        """
        schema = self.schema
        if schema.record_id not in frame.columns:
            raise ValueError(f"the records have no '{schema.record_id}' column (the dictionary's first field)")
        layout = self._layout(frame)
        if list(frame.columns) != layout:
            frame = frame.reindex(columns=layout, fill_value="")
        if not trusted and frame.isna().to_numpy().any():
            frame = frame.fillna("")
        if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
            frame = _renumbered(frame)
        ids = frame[schema.record_id].to_numpy(dtype=object)
        starts = self._run_starts(ids)
        if len(set(ids[starts])) != len(starts):
            # A record's rows are apart: put the frame in REDCap's order first.
            frame = self._sorted(frame, record_order=list(dict.fromkeys(ids)))
            ids = frame[schema.record_id].to_numpy(dtype=object)
            starts = self._run_starts(ids)
        self._frame = frame
        self._length = len(frame)
        self.project.records = frame
        self.order: list[str] = [str(value) for value in ids[starts]]
        self.rank: dict[str, int] = {record: rank for rank, record in enumerate(self.order)}
        self.starts = starts.astype(np.int64)
        self.stops = np.append(starts[1:], len(frame)).astype(np.int64)
        self.arrays: dict[str, np.ndarray] = {column: frame[column].to_numpy(dtype=object) for column in frame.columns}
        dags = self.arrays[DAG][self.starts] if len(frame) else np.array([], dtype=object)
        self.dag_of: dict[str, str] = dict(zip(self.order, (str(value) for value in dags), strict=True))
        self.dag_history.update(self.dag_of)
        self.by_dag: dict[str, np.ndarray] = {}
        if len(self.order):
            ranks = pd.Series(np.arange(len(self.order)), index=pd.Index(dags, dtype=object))
            for group, members in ranks.groupby(level=0, sort=False):
                self.by_dag[str(group)] = members.to_numpy(dtype=np.int64)

    @staticmethod
    def _run_starts(ids: np.ndarray) -> np.ndarray:
        if len(ids) == 0:
            return np.array([], dtype=np.int64)
        change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        return np.concatenate([[0], change]).astype(np.int64)

    def _sorted(self, frame: pd.DataFrame, *, record_order: Sequence[str]) -> pd.DataFrame:
        """Rows in REDCap's order: record (as given), event, repeating instrument, instance."""
        schema = self.schema
        record_rank = pd.Series(range(len(record_order)), index=pd.Index(record_order, dtype=object))
        keys = [frame[schema.record_id].map(record_rank).fillna(len(record_order)).to_numpy()]
        if EVENT in frame:
            keys.append(frame[EVENT].map(schema.event_rank).fillna(len(schema.event_rank)).to_numpy())
        if INSTRUMENT in frame:
            keys.append(frame[INSTRUMENT].map(schema.form_rank).fillna(-1).to_numpy())
            keys.append(pd.to_numeric(frame[INSTANCE], errors="coerce").fillna(0).to_numpy())
        order = np.lexsort(tuple(reversed(keys)))
        return _renumbered(frame.take(order))

    # ---------------------------------------------------------------------------------- scope
    def exists(self, record: str, *, dag: str | None = None) -> bool:
        return record in self.rank and (dag is None or self.dag_of.get(record) == dag)

    def record_ids(self, *, dag: str | None = None) -> list[str]:
        """Record ids in REDCap's order (of one group when ``dag`` is given)."""
        self.refresh()
        if dag is None:
            return list(self.order)
        return [self.order[rank] for rank in self.by_dag.get(dag, np.array([], dtype=np.int64))]

    def modified_at(self, record: str) -> str:
        return self.project.modified.get(record) or self.loaded_at

    def _positions(self, ranks: np.ndarray) -> np.ndarray:
        """Row positions of the records at ``ranks`` (sorted), without a Python loop over rows."""
        if len(ranks) == 0:
            return np.array([], dtype=np.int64)
        starts, stops = self.starts[ranks], self.stops[ranks]
        lengths = stops - starts
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return offsets + np.arange(int(lengths.sum()), dtype=np.int64)

    # --------------------------------------------------------------------------------- export
    def export(self, options: ExportOptions, *, dag: str | None = None) -> pd.DataFrame:
        """A flat export as REDCap writes it (strings, ``""`` for missing).

        Raises
        ------
        ApiError
            An unknown field, form or event.
        """
        self.refresh()
        schema = self.schema
        self._check_names(options.fields, schema.exportable_fields(), "fields")
        self._check_names(options.forms, set(schema.forms), "forms")
        if options.events:
            if not schema.longitudinal:
                raise ApiError(400, "You cannot export events for classic projects")
            self._check_names(options.events, set(schema.events), "events")

        if options.records:
            ranks = np.array(sorted({self.rank[r] for r in options.records if r in self.rank}), dtype=np.int64)
        else:
            ranks = np.arange(len(self.order), dtype=np.int64)
        if dag is not None:
            ranks = np.intersect1d(ranks, self.by_dag.get(dag, np.array([], dtype=np.int64)))
        if options.date_begin or options.date_end:
            begin, end = options.date_begin or "", options.date_end or "9999"
            changed = np.array([begin <= self.modified_at(self.order[rank]) <= end for rank in ranks], dtype=bool)
            ranks = ranks[changed] if len(ranks) else ranks
        everything = len(ranks) == len(self.order)
        positions = None if everything else self._positions(ranks)

        columns, chosen_forms = self._columns(options, dag=dag)
        keep = None
        if options.events:
            events = self.arrays[EVENT] if positions is None else self.arrays[EVENT][positions]
            keep = np.isin(events, list(options.events))
        if chosen_forms is not None and INSTRUMENT in self.arrays:
            # Rows of repeating instruments that were not asked for are left out, as in REDCap.
            instruments = self.arrays[INSTRUMENT] if positions is None else self.arrays[INSTRUMENT][positions]
            wanted = np.isin(instruments, ["", *chosen_forms])
            keep = wanted if keep is None else keep & wanted
        if keep is not None:
            positions = np.flatnonzero(keep) if positions is None else positions[keep]
        if positions is None:
            out = self.frame[columns]
        else:
            out = pd.DataFrame({column: self.arrays[column][positions] for column in columns})
        if options.raw_or_label == "label":
            out = self._labelled(out, options)
        if options.decimal_character == ",":
            out = self._decimal_commas(out)
        return out

    @staticmethod
    def _check_names(names: Iterable[str], known: set[str], parameter: str) -> None:
        unknown = [name for name in names if name not in known]
        if unknown:
            listed = ", ".join(f"'{name}'" for name in unknown)
            raise ApiError(400, f"The following values in the parameter {parameter} are not valid: {listed}")

    def _columns(self, options: ExportOptions, *, dag: str | None) -> tuple[list[str], set[str] | None]:
        """Columns of the export, and the forms chosen (None when every form is exported)."""
        schema = self.schema
        frame_columns = self.arrays
        columns = schema.key_columns()
        # A token bound to a group never sees the DAG column (REDCap ignores the flag for it).
        if options.export_dags and dag is None and (schema.dag_labels or any(self.dag_of.values())):
            columns.append(DAG)
        if options.survey_fields and SURVEY_IDENTIFIER in frame_columns:
            columns.append(SURVEY_IDENTIFIER)
        if not options.fields and not options.forms:
            chosen_forms = None
            wanted_forms = schema.forms
            selected = {c for form in wanted_forms for c in schema.form_columns[form]}
        else:
            chosen_forms = set(options.forms)
            selected = {c for form in options.forms for c in schema.form_columns[form]}
            for name in options.fields:
                if name in schema.complete_columns:
                    selected.add(name)
                    chosen_forms.add(schema.complete_columns[name])
                elif name != schema.record_id:
                    spec = schema.fields[name]
                    selected.update(spec.columns)
                    chosen_forms.add(spec.form)
            wanted_forms = [form for form in schema.forms if form in chosen_forms]
        for form in schema.forms:
            if options.survey_fields and form in wanted_forms and f"{form}_timestamp" in frame_columns:
                columns.append(f"{form}_timestamp")
            columns.extend(column for column in schema.form_columns[form] if column in selected)
        return columns, chosen_forms

    def _labelled(self, frame: pd.DataFrame, options: ExportOptions) -> pd.DataFrame:
        """Choice labels instead of codes (``rawOrLabel=label``)."""
        schema = self.schema
        out = {}
        missing = schema.missing_codes
        for column in frame.columns:
            values = frame[column].to_numpy(dtype=object)
            mapping: Mapping[str, str] | None = None
            if column == EVENT and options.event_name != "unique":
                mapping = schema.event_labels
            elif column == DAG:
                mapping = schema.dag_labels
            elif column == INSTRUMENT:
                mapping = schema.form_labels
            elif column in schema.complete_columns:
                mapping = COMPLETE_LABELS
            elif column in schema.checkbox_code:
                spec, code = schema.checkbox_code[column]
                mapping = {"1": spec.choices[code], "0": ""} if options.checkbox_labels else CHECKBOX_LABELS
            elif column in schema.column_field and schema.column_field[column].choices:
                mapping = {**missing, **schema.column_field[column].choices}
            elif missing and column in schema.column_field:
                mapping = missing
            if mapping:
                values = np.array([mapping.get(value, value) for value in values], dtype=object)
            out[column] = values
        return pd.DataFrame(out, columns=frame.columns)

    def _decimal_commas(self, frame: pd.DataFrame) -> pd.DataFrame:
        numbers = [
            column
            for column in frame.columns
            if column in self.schema.column_field
            and (
                self.schema.column_field[column].validation.startswith("number")
                or self.schema.column_field[column].field_type == "calc"
            )
        ]
        if not numbers:
            return frame
        frame = frame.copy()
        for column in numbers:
            frame[column] = frame[column].str.replace(".", ",", regex=False)
        return frame

    # --------------------------------------------------------------------------------- import
    def import_records(
        self, incoming: pd.DataFrame, options: ImportOptions, *, dag: str | None, now: str
    ) -> ImportResult:
        """Create or update rows from a flat import, all or nothing.

        Parameters
        ----------
        incoming : DataFrame
            Flat rows (strings); the record id column is required, ``redcap_event_name`` in a
            longitudinal project; other columns are export field names.
        options : ImportOptions
            ``overwrite`` (blank values erase), ``date_format``, ``force_auto_number``.
        dag : str, optional
            The token's group: new records join it; records of other groups are refused.
        now : str
            ``YYYY-MM-DD HH:MM:SS``, the change time of what the import changes.

        Raises
        ------
        ApiError
            Unknown columns, events or instruments, invalid values (all reported at once).
        """
        self.refresh()
        schema = self.schema
        if len(incoming) == 0:
            return ImportResult()  # nothing sent, nothing imported (REDCap answers a count of 0)
        incoming = incoming.rename(columns=lambda name: str(name).strip())
        if schema.record_id not in incoming.columns:
            raise ApiError(400, f"The record ID field '{schema.record_id}' is missing from the data being imported")
        known = set(self.arrays) | {EVENT, INSTRUMENT, INSTANCE, DAG}
        unknown = [column for column in incoming.columns if column not in known]
        if unknown:
            raise ApiError(
                400, "The following fields were not found in the project as real data fields: " + ", ".join(unknown)
            )
        if schema.longitudinal and EVENT not in incoming.columns:
            raise ApiError(400, "The 'redcap_event_name' column is required when importing into a longitudinal project")
        incoming = incoming.fillna("").astype(str).apply(lambda column: column.str.strip())
        result = ImportResult()
        if options.force_auto_number:
            result.renamed = self._auto_numbers(incoming[schema.record_id])
            incoming[schema.record_id] = incoming[schema.record_id].map(lambda old: result.renamed.get(old, old))

        rows, errors = self._checked_rows(incoming, options, dag=dag)
        if errors:
            raise ApiError(400, "\n".join(errors))

        # Current content of each touched row, keyed by (record, event, instrument, instance).
        existing_rows: dict[tuple[str, str, str, str], int] = {}
        for record in dict.fromkeys(row.record for row in rows):
            if record in self.rank:
                rank = self.rank[record]
                for position in range(int(self.starts[rank]), int(self.stops[rank])):
                    existing_rows[self._row_key(position)] = position
        data_columns = [
            column for column in self.arrays if column not in (schema.record_id, EVENT, INSTRUMENT, INSTANCE, DAG)
        ]
        pending: dict[tuple[str, str, str, str], dict[str, str]] = {}
        changed: dict[tuple[str, str, str, str], dict[str, str]] = {}
        created_records = {row.record for row in rows if row.record not in self.rank}
        record_dags: dict[str, str] = {}
        for row in rows:
            key = (row.record, row.event, row.instrument, row.instance)
            if key not in pending:
                if key in existing_rows:
                    position = existing_rows[key]
                    pending[key] = {column: self.arrays[column][position] for column in data_columns}
                else:
                    pending[key] = self._blank_row(row.event, row.instrument, data_columns)
                changed.setdefault(key, {})
            current = pending[key]
            for column, value in row.values.items():
                if value == "" and not options.overwrite:
                    continue
                if current[column] != value:
                    current[column] = value
                    changed[key][column] = value
            self._fill_form_status(current, changed[key], row.event, row.instrument)
            if row.dag is not None:
                record_dags[row.record] = row.dag
            elif dag is not None and row.record in created_records:
                record_dags[row.record] = dag

        new_keys = [key for key in pending if key not in existing_rows]
        dag_changes = {record: group for record, group in record_dags.items() if self.dag_of.get(record, "") != group}
        if any(changed.values()) or new_keys or dag_changes:
            self._write(pending, changed, existing_rows, new_keys, data_columns, record_dags)

        result.log.extend(self._log_items(changed, new_keys, created_records, dag_changes))
        touched = {item.record for item in result.log}
        for record in touched:
            self.project.modified[record] = now
        result.records = list(dict.fromkeys(row.record for row in rows))
        return result

    def _log_items(
        self,
        changed: Mapping[tuple[str, str, str, str], Mapping[str, str]],
        new_keys: Sequence[tuple[str, str, str, str]],
        created_records: set[str],
        dag_changes: Mapping[str, str],
    ) -> list[LogItem]:
        """The log entries of an import: one per changed row, REDCap's wording; a new record's first row creates it."""
        items: list[LogItem] = []
        logged_created: set[str] = set()
        for key, values in changed.items():
            record, _event, instrument, instance = key
            is_new_row = key in new_keys
            if not values and not is_new_row:
                continue
            action = "Update record"
            if record in created_records and record not in logged_created:
                action = "Create record"
                logged_created.add(record)
            details = self._details(
                values, record=record if action == "Create record" else None, instance=instance if instrument else ""
            )
            if action == "Create record" and dag_changes.get(record):
                details = f"{details}, {DAG} = '{dag_changes[record]}'"
            items.append(LogItem(action=f"{action} {record}", details=details, record=record))
        for record, group in dag_changes.items():
            if record not in created_records:
                items.append(
                    LogItem(action=f"Update record {record}", details=f"{DAG} = '{group}'", record=record)
                )
        return items

    def _auto_numbers(self, records: pd.Series) -> dict[str, str]:
        numeric = [int(record) for record in self.order if _INTEGER.match(record)]
        following = max(numeric, default=0) + 1
        renamed = {}
        for old in dict.fromkeys(records):
            renamed[old] = str(following)
            following += 1
        return renamed

    def _row_key(self, position: int) -> tuple[str, str, str, str]:
        arrays = self.arrays
        return (
            str(arrays[self.schema.record_id][position]),
            str(arrays[EVENT][position]) if EVENT in arrays else "",
            str(arrays[INSTRUMENT][position]) if INSTRUMENT in arrays else "",
            str(arrays[INSTANCE][position]) if INSTANCE in arrays else "",
        )

    def _blank_row(self, event: str, instrument: str, data_columns: Sequence[str]) -> dict[str, str]:
        """A new row: blank, with unchecked checkboxes on the forms the row collects (REDCap's 0)."""
        row = dict.fromkeys(data_columns, "")
        for column in self.schema.checkbox_code:
            if column in row and self.schema.column_allowed(column, event=event, instrument=instrument):
                row[column] = "0"
        return row

    def _fill_form_status(self, current: dict[str, str], changed: dict[str, str], event: str, instrument: str) -> None:
        """A form that received data gets status 0 (Incomplete) when it had none, as in REDCap."""
        forms = {
            self.schema.column_form[column]
            for column, value in changed.items()
            if value and column in self.schema.column_form
        }
        for form in forms:
            status = f"{form}_complete"
            if (
                status in current
                and current[status] == ""
                and self.schema.column_allowed(status, event=event, instrument=instrument)
            ):
                current[status] = "0"
                changed[status] = "0"

    def _details(self, values: Mapping[str, str], *, record: str | None, instance: str) -> str:
        """REDCap's log details: ``field = 'value'``, checkboxes as ``field(code) = checked``."""
        parts = []
        if instance and instance != "1":
            parts.append(f"[instance = {instance}]")
        if record is not None:
            parts.append(f"{self.schema.record_id} = '{record}'")
        for column, value in values.items():
            if column in self.schema.checkbox_code:
                spec, code = self.schema.checkbox_code[column]
                parts.append(f"{spec.name}({code}) = {'checked' if value == '1' else 'unchecked'}")
            else:
                parts.append(f"{column} = '{value}'")
        return ", ".join(parts)

    @dataclass(frozen=True)
    class _Row:
        record: str
        event: str
        instrument: str
        instance: str
        dag: str | None
        values: dict[str, str]

    def _checked_rows(
        self, incoming: pd.DataFrame, options: ImportOptions, *, dag: str | None
    ) -> tuple[list[_Row], list[str]]:
        """Validate every row; errors in REDCap's ``"record","field","value","message"`` lines."""
        schema = self.schema
        errors: list[str] = []
        rows: list[RecordStore._Row] = []
        value_columns = [c for c in incoming.columns if c not in (schema.record_id, EVENT, INSTRUMENT, INSTANCE, DAG)]

        def fail(record: str, column: str, value: str, message: str) -> None:
            errors.append(f'"{record}","{column}","{value}","{message}"')

        for item in incoming.to_dict("records"):
            record = item[schema.record_id]
            if not record:
                fail(record, schema.record_id, record, "The record ID cannot be blank")
                continue
            event = item.get(EVENT, "") if schema.longitudinal else ""
            if schema.longitudinal and event not in schema.event_rank:
                fail(record, EVENT, event, "The value is not a valid unique event name of this project")
                continue
            instrument = item.get(INSTRUMENT, "") if schema.has_repeating else ""
            instance = item.get(INSTANCE, "")
            if instrument:
                if event not in schema.repeating.get(instrument, set()):
                    fail(
                        record,
                        INSTRUMENT,
                        instrument,
                        f"The instrument does not repeat on event '{event}'"
                        if event
                        else "The instrument is not a repeating instrument",
                    )
                    continue
                if instance == "":
                    instance = "1"
                elif not _INTEGER.match(instance) or int(instance) < 1:
                    fail(record, INSTANCE, instance, "The repeat instance must be a whole number from 1")
                    continue
                instance = str(int(instance))
            else:
                instance = ""
            group: str | None = None
            assigned = item.get(DAG, "")
            owner = self.dag_of.get(record)
            if dag is not None:
                if owner is not None and owner != dag:
                    fail(
                        record,
                        schema.record_id,
                        record,
                        "The record belongs to another Data Access Group: you do not have permission to modify it",
                    )
                    continue
                if assigned and assigned != dag:
                    fail(record, DAG, assigned, "You cannot assign records to another Data Access Group")
                    continue
            elif assigned:
                if assigned not in schema.dag_labels:
                    fail(record, DAG, assigned, "The value is not a valid unique group name of a Data Access Group")
                    continue
                group = assigned
            values: dict[str, str] = {}
            for column in value_columns:
                value = item[column]
                if value and not schema.column_allowed(column, event=event, instrument=instrument):
                    where = f"the repeating instrument '{instrument}'" if instrument else f"the event '{event}'"
                    fail(record, column, value, f"This field is not on a form designated for {where}")
                    continue
                if not value and not schema.column_allowed(column, event=event, instrument=instrument):
                    continue
                checked = self._checked_value(column, value, date_format=options.date_format)
                if checked is None:
                    fail(record, column, value, self._invalid_message(column))
                    continue
                values[column] = checked
            rows.append(RecordStore._Row(record, event, instrument, instance, group, values))
        return rows, errors

    def _checked_value(self, column: str, value: str, *, date_format: str) -> str | None:
        """The value as stored, or None when REDCap would refuse it."""
        schema = self.schema
        if value == "" or value in schema.missing_codes:
            return value
        if column in schema.complete_columns:
            return value if value in COMPLETE_LABELS else None
        if column in schema.checkbox_code:
            return value if value in {"0", "1"} else None
        spec = schema.column_field.get(column)
        if spec is None:
            return value  # survey timestamps and identifiers: free text
        if spec.choices:
            return value if value in spec.choices else None
        validation = spec.validation
        if validation.startswith("date"):
            return self._checked_date(value, validation, date_format=date_format)
        if validation == "integer" or spec.field_type == "slider":
            return value if _INTEGER.match(value) else None
        if validation.startswith("number") or spec.field_type == "calc":
            return value if _NUMBER.match(value) else None
        return value

    @staticmethod
    def _checked_date(value: str, validation: str, *, date_format: str) -> str | None:
        date_part, _, time_part = value.partition(" ")
        for pattern in (*_DATE_FORMATS.get(date_format.upper(), _DATE_FORMATS["YMD"]), "%Y-%m-%d"):
            try:
                day = dt.datetime.strptime(date_part, pattern).date()
            except ValueError:
                continue
            if validation.startswith("datetime"):
                if not re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", time_part):
                    return None
                return f"{day.isoformat()} {time_part}"
            return day.isoformat() if not time_part else None
        return None

    def _invalid_message(self, column: str) -> str:
        schema = self.schema
        if column in schema.complete_columns:
            return "The value is not a valid form status (0, 1, 2)"
        if column in schema.checkbox_code:
            return "The value of a checkbox option must be 0 or 1"
        spec = schema.column_field[column]
        if spec.choices:
            return f"The value is not a valid category for {spec.name}"
        return f"The value does not match the field's validation ({spec.validation or spec.field_type})"

    def _write(
        self,
        pending: Mapping[tuple[str, str, str, str], dict[str, str]],
        changed: Mapping[tuple[str, str, str, str], dict[str, str]],
        existing_rows: Mapping[tuple[str, str, str, str], int],
        new_keys: Sequence[tuple[str, str, str, str]],
        data_columns: Sequence[str],
        record_dags: Mapping[str, str],
    ) -> None:
        """Apply an import: a new frame (readers holding the old one are not disturbed)."""
        schema = self.schema
        frame = self.frame.copy()
        column_index = {column: index for index, column in enumerate(frame.columns)}
        updates: dict[str, tuple[list[int], list[str]]] = {}
        for key, values in changed.items():
            if key in existing_rows:
                for column, value in values.items():
                    positions, cells = updates.setdefault(column, ([], []))
                    positions.append(existing_rows[key])
                    cells.append(value)
        for column, (positions, cells) in updates.items():
            frame.iloc[positions, column_index[column]] = cells
        for record, group in record_dags.items():
            if record in self.rank:
                rank = self.rank[record]
                frame.iloc[int(self.starts[rank]) : int(self.stops[rank]), column_index[DAG]] = group
        if new_keys:
            added = []
            for key in new_keys:
                record, event, instrument, instance = key
                row = {schema.record_id: record, DAG: record_dags.get(record, self.dag_of.get(record, ""))}
                if EVENT in column_index:
                    row[EVENT] = event
                if INSTRUMENT in column_index:
                    row[INSTRUMENT] = instrument
                    row[INSTANCE] = instance
                row.update(pending[key])
                added.append(row)
            frame = pd.concat([frame, pd.DataFrame(added, columns=frame.columns)], ignore_index=True)
            new_records = [key[0] for key in new_keys if key[0] not in self.rank]
            frame = self._sorted(frame, record_order=self.order + list(dict.fromkeys(new_records)))
        self._adopt(frame, trusted=True)

    # --------------------------------------------------------------------------------- delete
    def delete_records(self, records: Sequence[str], *, dag: str | None) -> list[LogItem]:
        """Delete whole records (every event and instance).

        Raises
        ------
        ApiError
            A record does not exist (or is outside the token's group): nothing is deleted.
        """
        self.refresh()
        wanted = list(dict.fromkeys(records))
        missing = [record for record in wanted if not self.exists(record, dag=dag)]
        if missing:
            raise ApiError(
                400,
                "One or more of the records provided cannot be deleted because they do not exist in the project. "
                f"The following records do not exist: {', '.join(missing)}",
            )
        keep = np.ones(len(self.frame), dtype=bool)
        for record in wanted:
            rank = self.rank[record]
            keep[int(self.starts[rank]) : int(self.stops[rank])] = False
        frame = _renumbered(self.frame.take(np.flatnonzero(keep)))
        for record in wanted:
            self.project.modified.pop(record, None)
        self._adopt(frame, trusted=True)
        return [
            LogItem(action=f"Delete record {record}", details=f"{self.schema.record_id} = '{record}'", record=record)
            for record in wanted
        ]

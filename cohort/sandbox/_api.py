"""REDCap's API methods over a :class:`RedcapProject`: one call in, one answer out, no sockets.

:class:`SandboxApi` answers a parsed request for a token's scope (its username and, optionally,
its data access group). The HTTP layer (:mod:`proximite.cohort.sandbox.server`) checks tokens,
injects faults and writes the answer; everything REDCap-specific is here and in
:mod:`._api_records` (records) and :mod:`._api_wire` (parameters, bodies, errors).

Contents served: ``version``, ``project``, ``metadata``, ``instrument``, ``event``, ``arm``,
``formEventMapping``, ``repeatingFormsEvents``, ``exportFieldNames``, ``dag``, ``log``,
``generateNextRecordName`` and ``record`` (export; import; ``action=delete``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from proximite.cohort.codebook import REDCAP_METADATA_COLUMNS
from proximite.cohort.sandbox._api_eav import eav_from_flat
from proximite.cohort.sandbox._api_setup import DESIGN_CONTENTS, ProjectSetup, count_answer, is_change
from proximite.cohort.sandbox._api_records import (
    ExportOptions,
    ImportOptions,
    LogItem,
    ProjectSchema,
    RecordStore,
    normalise_datetime,
)
from proximite.cohort.sandbox._api_wire import (
    CONTENT_TYPES,
    FORMATS,
    ApiError,
    ApiRequest,
    ApiResponse,
    error_body,
    error_format,
    render_object,
    render_table,
    render_text,
)
from proximite.cohort.redcap.project import LOG_COLUMNS, RedcapProject, log_timestamp

__all__ = ["SandboxApi", "TokenScope", "REDCAP_VERSION"]

#: The REDCap version the sandbox reports (``content=version``).
REDCAP_VERSION = "14.5.0"
#: Columns REDCap writes as JSON numbers, per content.
_INTEGER_COLUMNS = {
    "event": ("arm_num", "day_offset", "offset_min", "offset_max", "event_id"),
    "arm": ("arm_num",),
    "formEventMapping": ("arm_num",),
    "dag": ("data_access_group_id",),
}
#: Field types ``exportFieldNames`` leaves out: they hold no value an import could set.
_NOT_IMPORTABLE = frozenset({"file", "descriptive"})
#: ``logtype`` values and the actions they keep.
_LOG_TYPES: dict[str, Callable[[str], bool]] = {
    "export": lambda action: action == "Data export",
    "manage": lambda action: action == "Manage/Design",
    "user": lambda action: action.startswith("User "),
    "record": lambda action: action.startswith(("Create record", "Update record", "Delete record")),
    "record_add": lambda action: action.startswith("Create record"),
    "record_edit": lambda action: action.startswith("Update record"),
    "record_delete": lambda action: action.startswith("Delete record"),
    "lock_record": lambda action: action.startswith(("Lock", "Unlock")),
    "page_view": lambda action: action == "Page View",
}


@dataclass(frozen=True)
class TokenScope:
    """Who a token speaks for: a username, and the data access group it is bound to (if any)."""

    username: str
    dag: str | None = None


@dataclass(frozen=True)
class Answer:
    """An API answer and the moment its data was read (the HTTP ``Date`` header)."""

    response: ApiResponse
    read_at: float


class SandboxApi:
    """REDCap's API methods over one project.

    Parameters
    ----------
    project : RedcapProject
        The live project; imports and deletes change its records, ``modified`` and ``log``.
    loaded_at : datetime, optional, keyword-only
        When records never changed count as changed (default: now).

    Notes
    -----
    Calls are serialised by a lock; serialising a large answer happens outside it.
    """

    def __init__(self, project: RedcapProject, *, loaded_at: dt.datetime | None = None) -> None:
        self.project = project
        self.lock = threading.RLock()
        self.schema = ProjectSchema(project)
        self.store = RecordStore(project, self.schema, loaded_at=_seconds(loaded_at or dt.datetime.now()))
        self.setup = ProjectSetup(_parse_import)

    @property
    def loaded_at(self) -> str:
        return self.store.loaded_at

    @loaded_at.setter
    def loaded_at(self, moment: dt.datetime) -> None:
        self.store.loaded_at = _seconds(moment)

    # -------------------------------------------------------------------------------- entry
    def handle(self, request: ApiRequest, scope: TokenScope) -> Answer:
        """Answer one request for a token's scope (the token was checked by the caller)."""
        content = request.get("content")
        handler = self._handlers().get(content)
        scope = self._assigned(scope)
        try:
            if handler is None:
                raise ApiError(400, 'The value of the parameter "content" is not valid')
            with self.lock:
                read_at = time.time()
                build = handler(request, scope)
            # Serialising (CSV/JSON of a large batch) needs no lock: ``build`` holds copies.
            return Answer(build(), read_at)
        except ApiError as error:
            return Answer(self.error(request, error.status, error.message), time.time())

    def error(self, request: ApiRequest, status: int, message: str) -> ApiResponse:
        """An error answer in the format the request asks for."""
        body, content_type = error_body(message, error_format(request))
        return ApiResponse(status, body, content_type)

    def _handlers(self) -> dict[str, Callable[[ApiRequest, TokenScope], Callable[[], ApiResponse]]]:
        handlers: dict[str, Callable[[ApiRequest, TokenScope], Callable[[], ApiResponse]]] = {
            "version": self._version,
            "project": self._project_info,
            "metadata": self._metadata,
            "instrument": self._instruments,
            "event": self._events,
            "arm": self._arms,
            "formEventMapping": self._form_event_mapping,
            "repeatingFormsEvents": self._repeating,
            "exportFieldNames": self._field_names,
            "dag": self._dags,
            "log": self._log,
            "generateNextRecordName": self._next_record_name,
            "record": self._record,
            "userDagMapping": self._user_dag_mapping,
        }
        for content in DESIGN_CONTENTS:
            handlers[content] = self._designable(content, handlers[content])
        return handlers

    # ------------------------------------------------------------------------------- design
    def _assigned(self, scope: TokenScope) -> TokenScope:
        """The scope with the group its user is assigned to (``content=userDagMapping``)."""
        group = self.setup.group_of(scope.username, scope.dag)
        return scope if group == scope.dag else dataclasses.replace(scope, dag=group)

    def _designable(
        self, content: str, export: Callable[[ApiRequest, TokenScope], Callable[[], ApiResponse]]
    ) -> Callable[[ApiRequest, TokenScope], Callable[[], ApiResponse]]:
        """A content's handler that also imports and deletes (see :mod:`._api_setup`)."""

        def handler(request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
            if not is_change(request):
                return export(request, scope)
            draft, count, wording = self.setup.change(content, request, self.project, dag=scope.dag)
            self._adopt_design(draft)
            self._log_entry(scope, "Manage/Design", wording)
            return lambda: count_answer(count, request)

        return handler

    def _adopt_design(self, draft: RedcapProject) -> None:
        """Serve a changed project: its schema and records index are rebuilt from it."""
        try:
            schema = ProjectSchema(draft)
            store = RecordStore(draft, schema, loaded_at=self.store.loaded_at)
        except (ValueError, KeyError) as error:
            raise ApiError(400, f"The change leaves the project inconsistent: {error}") from None
        store.dag_history.update({**self.store.dag_history, **store.dag_history})
        self.project, self.schema, self.store = draft, schema, store
        self.setup.forget_groups(draft)

    def _user_dag_mapping(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        if is_change(request):
            if request.get("action").lower() == "delete":
                raise ApiError(400, 'The value of the parameter "action" is not valid')
            count = self.setup.assign_users(request, self.project, dag=scope.dag)
            self._log_entry(scope, "Manage/Design", "Assign users to data access groups (API)")
            return lambda: count_answer(count, request)
        return self._table(request, self.setup.user_dag_rows(scope.dag), "userDagMapping")

    # ------------------------------------------------------------------------------ helpers
    @staticmethod
    def _format(request: ApiRequest) -> str:
        fmt = request.get("format", "xml").lower() or "xml"
        if fmt not in FORMATS:
            raise ApiError(400, "The value of the parameter 'format' is not valid")
        return fmt

    @staticmethod
    def _export_only(request: ApiRequest, content: str) -> None:
        action = request.get("action", "export").lower()
        if action not in {"", "export"}:
            raise ApiError(400, 'The value of the parameter "action" is not valid')

    def _table(self, request: ApiRequest, frame: pd.DataFrame, content: str) -> Callable[[], ApiResponse]:
        fmt = self._format(request)
        frame = frame.copy()
        return lambda: render_table(frame, fmt, integer_columns=_INTEGER_COLUMNS.get(content, ()))

    def _log_entry(self, scope: TokenScope, action: str, details: str, record: str = "") -> None:
        self.project.log.append(
            {
                "timestamp": log_timestamp(),
                "username": scope.username,
                "action": action,
                "details": details,
                "record": record,
            }
        )

    def _classic_refusal(self, what: str) -> None:
        if not self.project.is_longitudinal:
            raise ApiError(400, f"You cannot export {what} for classic projects")

    # ----------------------------------------------------------------------------- contents
    def _version(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        return lambda: render_text(REDCAP_VERSION, content_type=CONTENT_TYPES["html"])

    def _project_info(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        self._export_only(request, "project")
        fmt = self._format(request)
        info: dict[str, Any] = dict(self.project.info)
        # Form menu labels are served by content=instrument, not as project information.
        info.pop("instrument_labels", None)
        # The three values clients rely on always reflect what is served.
        info["is_longitudinal"] = int(self.project.is_longitudinal)
        info["has_repeating_instruments_or_events"] = int(self.project.has_repeating)
        info["missing_data_codes"] = info.get("missing_data_codes") or ""
        self._log_entry(scope, "Manage/Design", "Export project information (API)")
        return lambda: render_object(info, fmt)

    def _metadata(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        self._export_only(request, "metadata")
        metadata = self.project.metadata.reindex(columns=REDCAP_METADATA_COLUMNS, fill_value="").fillna("")
        fields, forms = request.list("fields"), request.list("forms")
        for name, values, known in (
            ("fields", fields, set(metadata["field_name"])),
            ("forms", forms, set(metadata["form_name"])),
        ):
            unknown = [value for value in values if value not in known]
            if unknown:
                listed = ", ".join(f"'{value}'" for value in unknown)
                raise ApiError(400, f"The following values in the parameter {name} are not valid: {listed}")
        if fields or forms:
            metadata = metadata[metadata["field_name"].isin(fields) | metadata["form_name"].isin(forms)]
        self._log_entry(scope, "Manage/Design", "Download data dictionary (API)")
        return self._table(request, metadata.reset_index(drop=True), "metadata")

    def _instruments(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        self._export_only(request, "instrument")
        labels = self.schema.form_labels
        frame = pd.DataFrame({"instrument_name": list(labels), "instrument_label": list(labels.values())})
        return self._table(request, frame, "instrument")

    def _arm_filter(self, request: ApiRequest, frame: pd.DataFrame) -> pd.DataFrame:
        arms = request.list("arms")
        if arms and "arm_num" in frame:
            frame = frame[frame["arm_num"].astype(str).isin(arms)]
        return frame.reset_index(drop=True)

    def _events(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        self._export_only(request, "event")
        self._classic_refusal("events")
        return self._table(request, self._arm_filter(request, self.project.events), "event")

    def _arms(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        self._export_only(request, "arm")
        self._classic_refusal("arms")
        return self._table(request, self._arm_filter(request, self.project.arms), "arm")

    def _form_event_mapping(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        self._export_only(request, "formEventMapping")
        self._classic_refusal("form/event mappings")
        return self._table(request, self._arm_filter(request, self.project.form_event_mapping), "formEventMapping")

    def _repeating(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        self._export_only(request, "repeatingFormsEvents")
        if not self.project.has_repeating:
            raise ApiError(
                400,
                "You cannot export repeating instruments and events because the project does not contain any "
                "repeating instruments and events",
            )
        return self._table(request, self.project.repeating_forms_events, "repeatingFormsEvents")

    def _field_names(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        """Export field names as REDCap lists them: every importable field, checkboxes expanded.

        REDCap lists the record id, calculated fields and each form's ``<form>_complete``, and
        leaves out file-upload (and signature) and descriptive fields, which hold no importable
        value (REDCap's own answer for its test project, as REDCapR's tests record it).
        """
        self._export_only(request, "exportFieldNames")
        wanted = request.get("field")
        schema = self.schema
        if wanted and wanted not in schema.fields:
            raise ApiError(400, f"The following values in the parameter field are not valid: '{wanted}'")
        rows = []
        for form in schema.forms:
            for spec in schema.fields.values():
                if spec.form != form or spec.field_type in _NOT_IMPORTABLE:
                    continue
                if spec.field_type == "checkbox":
                    rows += [
                        {"original_field_name": spec.name, "choice_value": code, "export_field_name": column}
                        for code, column in zip(spec.choices, spec.columns, strict=True)
                    ]
                else:
                    rows.append({"original_field_name": spec.name, "choice_value": "", "export_field_name": spec.name})
            complete = f"{form}_complete"
            rows.append({"original_field_name": complete, "choice_value": "", "export_field_name": complete})
        frame = pd.DataFrame(rows, columns=["original_field_name", "choice_value", "export_field_name"])
        if wanted:
            frame = frame[frame["original_field_name"] == wanted]
        return self._table(request, frame.reset_index(drop=True), "exportFieldNames")

    def _dags(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        self._export_only(request, "dag")
        dags = self.project.dags
        if dags.empty:
            dags = pd.DataFrame(columns=["data_access_group_name", "unique_group_name", "data_access_group_id"])
        if scope.dag is not None:
            dags = dags[dags["unique_group_name"] == scope.dag]
        self._log_entry(scope, "Manage/Design", "Export DAGs (API)")
        return self._table(request, dags.reset_index(drop=True), "dag")

    def _next_record_name(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        numbers = [int(record) for record in self.store.record_ids() if record.isdigit()]
        following = str(max(numbers, default=0) + 1)
        return lambda: render_text(following)

    def _log(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        """The project log, newest first, filtered as REDCap filters it."""
        fmt = self._format(request)
        logtype = request.get("logtype")
        if logtype and logtype not in _LOG_TYPES:
            raise ApiError(400, "The value of the parameter 'logtype' is not valid")
        begin = request.get("beginTime")
        end = request.get("endTime")
        begin = normalise_datetime(begin, parameter="beginTime", minutes_only=True) if begin else ""
        end = normalise_datetime(end, parameter="endTime", end_of_day=True, minutes_only=True) if end else ""
        user, record, group = request.get("user"), request.get("record"), request.get("dag")
        keep_type = _LOG_TYPES.get(logtype)
        history = self.store.dag_history
        rows = []
        for entry in reversed(self.project.log):
            stamp = str(entry.get("timestamp", ""))[:16]
            action = str(entry.get("action", ""))
            entry_record = str(entry.get("record", "") or "")
            if (begin and stamp < begin) or (end and stamp > end):
                continue
            if keep_type is not None and not keep_type(action):
                continue
            if (user and entry.get("username") != user) or (record and entry_record != record):
                continue
            if group and history.get(entry_record) != group:
                continue
            if scope.dag is not None:
                # A group's token sees its records' entries and its own other entries.
                if entry_record and history.get(entry_record) != scope.dag:
                    continue
                if not entry_record and entry.get("username") != scope.username:
                    continue
            rows.append({column: str(entry.get(column, "") or "") for column in LOG_COLUMNS})
        self._log_entry(scope, "Manage/Design", "Export Logging (API)")
        frame = pd.DataFrame(rows, columns=LOG_COLUMNS)
        return lambda: render_table(frame, fmt)

    # ------------------------------------------------------------------------------ records
    def _record(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        action = request.get("action").lower()
        if action == "delete":
            return self._delete(request, scope)
        # PyCap imports without ``action``: a ``data`` field makes the request an import.
        if action == "import" or (action == "" and request.raw("data") is not None):
            return self._import(request, scope)
        if action not in {"", "export"}:
            raise ApiError(400, "The value of the parameter 'action' is not valid")
        return self._export(request, scope)

    def _export(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        fmt = self._format(request)
        record_type = request.get("type", "flat").lower() or "flat"
        if record_type not in {"flat", "eav"}:
            raise ApiError(400, 'The value of the parameter "type" is not valid')
        if request.get("filterLogic"):
            raise ApiError(400, "The sandbox does not evaluate filterLogic; filter the export on the client")
        raw_or_label = request.get("rawOrLabel", "raw").lower() or "raw"
        if raw_or_label not in {"raw", "label"}:
            raise ApiError(400, "The value of the parameter 'rawOrLabel' is not valid")
        begin, end = request.get("dateRangeBegin"), request.get("dateRangeEnd")
        options = ExportOptions(
            records=request.list("records"),
            fields=request.list("fields"),
            forms=request.list("forms"),
            events=request.list("events"),
            raw_or_label=raw_or_label,
            event_name=request.get("eventName", "label").lower(),
            export_dags=request.flag("exportDataAccessGroups"),
            survey_fields=request.flag("exportSurveyFields"),
            checkbox_labels=request.flag("exportCheckboxLabel"),
            date_begin=normalise_datetime(begin, parameter="dateRangeBegin") if begin else None,
            date_end=normalise_datetime(end, parameter="dateRangeEnd", end_of_day=True) if end else None,
            decimal_character=request.get("decimalCharacter"),
        )
        if record_type == "eav":
            return self._export_eav(request, scope, options, fmt)
        frame = self.store.export(options, dag=scope.dag)
        delimiter = request.get("csvDelimiter") if request.raw("csvDelimiter") != "\t" else "tab"
        headers = None
        if fmt == "csv" and request.get("rawOrLabelHeaders").lower() == "label":
            headers = [self.schema.header_label(str(column)) for column in frame.columns]
        self._log_entry(scope, "Data export", "Export data (API)")
        return lambda: render_table(frame, fmt, delimiter=delimiter, headers=headers)

    def _export_eav(
        self, request: ApiRequest, scope: TokenScope, options: ExportOptions, fmt: str
    ) -> Callable[[], ApiResponse]:
        """``type=eav``: the flat export's raw values, one row per stored value (see :mod:`._api_eav`)."""
        raw = dataclasses.replace(options, raw_or_label="raw", export_dags=False, decimal_character="")
        frame = eav_from_flat(
            self.store.export(raw, dag=scope.dag),
            self.schema,
            labels=options.raw_or_label == "label",
            unique_event_names=options.event_name == "unique",
        )
        delimiter = request.get("csvDelimiter") if request.raw("csvDelimiter") != "\t" else "tab"
        self._log_entry(scope, "Data export", "Export data (API)")
        return lambda: render_table(frame, fmt, delimiter=delimiter)

    def _import(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        fmt = request.get("format", "xml").lower() or "xml"
        return_format = error_format(request)
        if request.get("type", "flat").lower() not in {"", "flat"}:
            raise ApiError(400, "The sandbox imports records with type=flat only")
        data = request.raw("data")
        if data is None or not data.strip():
            raise ApiError(400, "No data was provided to import")
        incoming = _parse_import(data, fmt, delimiter=request.get("csvDelimiter"))
        overwrite_behavior = request.get("overwriteBehavior", "normal").lower() or "normal"
        if overwrite_behavior not in {"normal", "overwrite"}:
            raise ApiError(400, "The value of the parameter 'overwriteBehavior' is not valid")
        options = ImportOptions(
            overwrite=overwrite_behavior == "overwrite",
            date_format=request.get("dateFormat", "YMD").upper() or "YMD",
            force_auto_number=request.flag("forceAutoNumber"),
        )
        result = self.store.import_records(incoming, options, dag=scope.dag, now=_seconds(dt.datetime.now()))
        self._write_log(scope, result.log)
        content = request.get("returnContent", "count").lower() or "count"
        records = result.records
        if content == "ids":
            payload: Any = records
        elif content == "auto_ids":
            payload = [f"{new},{old}" for old, new in result.renamed.items()] or [
                f"{record},{record}" for record in records
            ]
        elif content == "nothing":
            return lambda: ApiResponse(200, b"", CONTENT_TYPES["text"])
        else:
            payload = {"count": len(records)}
        return lambda: _render_import_answer(payload, return_format)

    def _delete(self, request: ApiRequest, scope: TokenScope) -> Callable[[], ApiResponse]:
        records = request.list("records")
        if not records:
            raise ApiError(400, "No records were provided to delete (records[])")
        if request.get("instrument") or request.get("event") or request.get("repeat_instance"):
            raise ApiError(
                400, "The sandbox deletes whole records only (instrument, event and repeat_instance are not supported)"
            )
        items = self.store.delete_records(records, dag=scope.dag)
        self._write_log(scope, items)
        count = str(len(items))
        return lambda: render_text(count, content_type=CONTENT_TYPES["text"])

    def _write_log(self, scope: TokenScope, items: list[LogItem]) -> None:
        for item in items:
            self._log_entry(scope, item.action, item.details, item.record)


def _seconds(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _parse_import(data: str, fmt: str, *, delimiter: str) -> pd.DataFrame:
    """The rows of an import body (flat CSV or JSON) as strings."""
    if fmt == "csv":
        separator = {"": ",", "tab": "\t"}.get(delimiter, delimiter)
        try:
            return pd.read_csv(io.StringIO(data), dtype=str, keep_default_na=False, sep=separator)
        except (pd.errors.ParserError, pd.errors.EmptyDataError):
            raise ApiError(400, "The data being imported is not formatted correctly (CSV)") from None
    if fmt == "json":
        try:
            rows = json.loads(data)
        except json.JSONDecodeError:
            raise ApiError(400, "The data being imported is not formatted correctly (JSON)") from None
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ApiError(
                400, "The data being imported is not formatted correctly: a JSON array of objects is expected"
            )
        return pd.DataFrame([{key: "" if value is None else str(value) for key, value in row.items()} for row in rows])
    raise ApiError(400, "The sandbox imports records as csv or json only")


def _render_import_answer(payload: Any, fmt: str) -> ApiResponse:
    if fmt == "json":
        return ApiResponse(200, json.dumps(payload).encode("utf-8"), CONTENT_TYPES["json"])
    if isinstance(payload, dict):
        if fmt == "csv":
            return ApiResponse(200, f"{payload['count']}".encode(), CONTENT_TYPES["csv"])
        return ApiResponse(
            200,
            f'<?xml version="1.0" encoding="UTF-8" ?><count>{payload["count"]}</count>'.encode(),
            CONTENT_TYPES["xml"],
        )
    if fmt == "csv":
        return ApiResponse(
            200, ("id\n" + "".join(f"{value}\n" for value in payload)).encode("utf-8"), CONTENT_TYPES["csv"]
        )
    items = "".join(f"<id>{value}</id>" for value in payload)
    return ApiResponse(200, f'<?xml version="1.0" encoding="UTF-8" ?><ids>{items}</ids>'.encode(), CONTENT_TYPES["xml"])

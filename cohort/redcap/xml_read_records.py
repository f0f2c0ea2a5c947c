"""REDCap's project XML, read: the records (``ClinicalData``) in REDCap's flat layout."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pandas as pd

from proximite.cohort.redcap.dictionary import DAG, EVENT, INSTANCE, INSTRUMENT
from proximite.cohort.redcap.xml_layout import SURVEY_IDENTIFIER, ProjectLayout, survey_timestamp
from proximite.cohort.redcap.xml_read_meta import ParsedProject

__all__ = ["ClinicalDataReader"]

log = logging.getLogger(__name__)


class ClinicalDataReader:
    """Collects ClinicalData rows as the parser streams through them.

    The parser calls its ``start_*`` methods as elements open, :meth:`item` for each
    ``ItemData``, and its ``end_*`` methods as events and records close; :meth:`frame` gives the
    records in REDCap's flat layout.
    """

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str, str, str], int] = {}
        self.rows: list[dict[str, str]] = []
        self.saw_dag = False
        self.unknown: dict[str, int] = {}
        # Set when ClinicalData starts, from the metadata read before it.
        self.record_id = ""
        self.known: set[str] = set()
        self.longitudinal = False
        self.repeating_forms: dict[str, set[str]] = {}
        self.repeating_events: set[str] = set()
        # The record, event and row being read.
        self.record = self.record_dag = self.event = ""
        self.event_key = "1"
        self.event_has_forms = False
        self.record_rows: list[dict[str, str]] = []
        self.row: dict[str, str] = {}
        # The form being read: its status column, whether it holds data, whether its status was given.
        self.form_status = ""
        self.form_has_data = self.form_has_status = False
        self.unchecked: set[str] = set()  # checkbox columns, whose "0" is no data
        #: Forms whose survey timestamp the file carries (survey forms, even if not declared).
        self.timestamped: set[str] = set()

    def frame(self, columns: list[str]) -> pd.DataFrame:
        """The rows read, with ``columns`` (blank cells ``""``); warns about items that are not fields."""
        if self.unknown:
            first = next(iter(self.unknown))
            log.warning(
                "%d items of ClinicalData are not fields of the dictionary (first: %s); skipped",
                len(self.unknown),
                first,
            )
        if not self.rows:
            return pd.DataFrame({column: pd.Series([], dtype=object) for column in columns})
        return pd.DataFrame.from_records(self.rows, columns=columns).fillna("").astype(object)

    def start_clinical_data(self, parsed: ParsedProject) -> None:
        """Take the record id, fields, events and repeating set-up from the metadata read so far."""
        assert parsed.metadata is not None
        layout = ProjectLayout.from_metadata(parsed.metadata)
        self.record_id = layout.record_id
        self.known = set(layout.export_columns()) | {SURVEY_IDENTIFIER}
        self.timestamps = {survey_timestamp(form): form for form in layout.forms}
        self.unchecked = {column for item in layout.fields if item.field_type == "checkbox" for column in item.columns}
        self.longitudinal = bool(parsed.events)
        for item in parsed.repeating:
            scope = item["event_name"] if self.longitudinal else ""
            if item["form_name"]:
                self.repeating_forms.setdefault(scope, set()).add(item["form_name"])
            else:
                self.repeating_events.add(scope)

    def start_subject(self, element: ET.Element, dag_attribute: str) -> None:
        self.record = element.get("SubjectKey", "")
        self.record_dag = element.get(dag_attribute, "")
        self.record_rows = []
        self.event = ""

    def start_event(self, element: ET.Element, unique_event_attribute: str) -> None:
        self.event = element.get(unique_event_attribute) or element.get("StudyEventOID", "").partition(".")[2]
        self.event_key = element.get("StudyEventRepeatKey", "1") or "1"
        self.event_has_forms = False

    def start_form(self, element: ET.Element) -> None:
        self.event_has_forms = True
        form = element.get("FormOID", "").partition(".")[2]
        self.form_status = f"{form}_complete"
        self.form_has_data = self.form_has_status = False
        scope = self.event if self.longitudinal else ""
        if form in self.repeating_forms.get(scope, ()):
            self.row = self._row_for(form, element.get("FormRepeatKey", "1") or "1")
        elif scope in self.repeating_events:
            self.row = self._row_for("", self.event_key)
        else:
            self.row = self._row_for("", "")

    def item(self, element: ET.Element) -> None:
        self._value(element.get("ItemOID", ""), element.get("Value", ""))

    def file_item(self, element: ET.Element, doc_name_attribute: str) -> None:
        """A file-upload value (``ItemDataBase64Binary``): the document's name, as REDCap's exports give it."""
        self._value(element.get("ItemOID", ""), element.get(doc_name_attribute, ""))

    def end_form(self) -> None:
        """REDCap's rule for a form with data but no stored status: it exports as 0 (Incomplete)."""
        if self.form_has_data and not self.form_has_status and self.form_status in self.known:
            self.row[self.form_status] = "0"

    def _value(self, name: str, value: str) -> None:
        if not value:
            return
        if name == self.form_status:
            self.form_has_status = True
        elif name in self.known and name != SURVEY_IDENTIFIER and not (name in self.unchecked and value == "0"):
            self.form_has_data = True
        if name in self.known:
            self.row[name] = value
        elif name in self.timestamps:
            self.timestamped.add(self.timestamps[name])
            self.row[name] = value
        elif name == DAG:
            self.record_dag = self.record_dag or value
        elif name != self.record_id:
            self.unknown[name] = self.unknown.get(name, 0) + 1

    def end_event(self) -> None:
        if not self.event_has_forms:  # a row with nothing but its keys
            self._row_for("", self.event_key if self.event in self.repeating_events else "")

    def end_subject(self) -> None:
        if self.record_dag:  # a record's DAG goes on each of its rows
            self.saw_dag = True
            for values in self.record_rows:
                values[DAG] = self.record_dag

    def _row_for(self, instrument: str, instance: str) -> dict[str, str]:
        key = (self.record, self.event, instrument, instance)
        index = self.keys.get(key)
        if index is not None:
            return self.rows[index]
        self.keys[key] = len(self.rows)
        values = {self.record_id: self.record}
        if self.longitudinal:
            values[EVENT] = self.event
        if instrument:
            values[INSTRUMENT] = instrument
        if instance:
            values[INSTANCE] = instance
        self.rows.append(values)
        self.record_rows.append(values)
        return values

"""REDCap's project XML, written: the records (``ClinicalData``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from proximite.cohort.redcap.dictionary import DAG, EVENT, INSTANCE, INSTRUMENT
from proximite.cohort.redcap.xml_layout import SURVEY_IDENTIFIER, ProjectLayout, frame_rows, survey_timestamp, xml_attr
from proximite.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.redcap.project import RedcapProject

__all__ = ["write_clinical_data"]

log = logging.getLogger(__name__)


def write_clinical_data(
    write: Any, project: RedcapProject, layout: ProjectLayout, *, longitudinal: bool, repeating: list[dict[str, str]]
) -> None:
    """Write a project's records as ``ClinicalData``: one ``SubjectData`` per record.

    Parameters
    ----------
    write : callable
        Appends text to the file.
    project : RedcapProject
        Its records (flat layout) and form–event mapping.
    layout : ProjectLayout
    longitudinal : bool, keyword-only
        Whether rows sit in ``StudyEventData`` (one per event and repeat).
    repeating : list of dict, keyword-only
        The repeating set-up rows (``event_name``, ``form_name``).

    Raises
    ------
    InputError
        The records lack the record id column.
    """
    records = project.records
    if records is None or records.empty:
        return
    writer = _ClinicalData(write, project, layout, longitudinal=longitudinal, repeating=repeating)
    rows = records.astype(object).where(records.notna(), "").to_numpy(dtype=object).tolist()
    start = 0
    while start < len(rows):
        # One SubjectData per run of rows of one record (the flat export keeps a record's rows together).
        key = str(rows[start][writer.id_at])
        end = start + 1
        while end < len(rows) and str(rows[end][writer.id_at]) == key:
            end += 1
        writer.subject(key, [[str(value) for value in values] for values in rows[start:end]])
        start = end
    if writer.dropped:
        log.warning(
            "%d rows hold values of a form that is not theirs (a repeating form off its instrument's rows); left out",
            writer.dropped,
        )


class _ClinicalData:
    """Writes the records of one project, record by record; counts the rows whose values are left out."""

    def __init__(
        self, write: Any, project: RedcapProject, layout: ProjectLayout, *, longitudinal: bool, repeating: list[dict[str, str]]
    ) -> None:
        self.write = write
        self.layout = layout
        self.longitudinal = longitudinal
        records = project.records
        position = {str(column): index for index, column in enumerate(records.columns)}
        self.record_id = layout.record_id
        if self.record_id not in position:
            raise InputError(
                "records", "required column missing", column=self.record_id, detail="The records need the record id column"
            )
        groups = layout.item_groups(descriptive=False)
        # Per form: [(group OID, [(column index, item OID)])] over the columns the records have.
        self.form_items = {
            form: [
                (oid, [(position[column], column) for column in items if column in position and column != self.record_id])
                for oid, items in form_groups
            ]
            for form, form_groups in groups.items()
        }
        self.form_indexes = {form: [index for _, items in self.form_items[form] for index, _ in items] for form in layout.forms}
        missing = [column for column in layout.export_columns() if column not in position]
        if missing:
            log.warning("records lack %d dictionary columns (first: %s); they are written blank", len(missing), missing[0])
        self.forms_of_event: dict[str, list[str]] = {}
        for row in frame_rows(project.form_event_mapping):
            self.forms_of_event.setdefault(row["unique_event_name"], []).append(row["form"])
        self.repeating_forms: dict[str, set[str]] = {}
        self.repeating_events: set[str] = set()
        for row in repeating:
            scope = row.get("event_name", "") if longitudinal else ""
            if row.get("form_name", ""):
                self.repeating_forms.setdefault(scope, set()).add(row["form_name"])
            else:
                self.repeating_events.add(scope)
        self.record_form = layout.fields[0].form
        self.record_group = groups[self.record_form][0][0]
        self.event_at = position.get(EVENT) if longitudinal else None
        self.instrument_at = position.get(INSTRUMENT)
        self.instance_at = position.get(INSTANCE)
        self.dag_at = position.get(DAG)
        self.id_at = position[self.record_id]
        self.dropped = 0
        # Survey columns, written as REDCap does: the identifier beside the record id, each
        # form's timestamp first in its form; file fields as the document (its name).
        self.survey_id_at = position.get(SURVEY_IDENTIFIER)
        self.timestamp_at = {form: position.get(survey_timestamp(form)) for form in layout.forms}
        self.files = {column for item in layout.fields if item.field_type == "file" for column in item.columns}

    def subject(self, key: str, subject: list[list[str]]) -> None:
        """One record's ``SubjectData``: its rows, by event (longitudinal projects) then form."""
        write = self.write
        dag_at = self.dag_at
        dag = next((values[dag_at] for values in subject if dag_at is not None and values[dag_at]), "")
        # REDCap writes the DAG beside the record id, on rows that hold the record id's form; a
        # record with no such row gets it in its first item group instead.
        self._dag_elsewhere = bool(dag) and not _holds_record_form(
            subject, self.record_form, self.forms_of_event, self.event_at, self.instrument_at
        )
        write(f'\t<SubjectData SubjectKey="{xml_attr(key)}" redcap:RecordIdField="{xml_attr(self.record_id)}">\n')
        previous_event: tuple[str, str] | None = None
        for values in subject:
            event = values[self.event_at] if self.event_at is not None else ""
            instrument = values[self.instrument_at] if self.instrument_at is not None else ""
            instance = values[self.instance_at] if self.instance_at is not None else ""
            scope = event if self.longitudinal else ""
            whole_event = not instrument and scope in self.repeating_events and bool(instance)
            event_key = (event, instance if whole_event else "1")
            if self.longitudinal and event_key != previous_event:
                if previous_event is not None:
                    write("\t\t</StudyEventData>\n")
                write(
                    f'\t\t<StudyEventData StudyEventOID="Event.{xml_attr(event)}" StudyEventRepeatKey="{xml_attr(event_key[1])}"'
                    f' redcap:UniqueEventName="{xml_attr(event)}">\n'
                )
                previous_event = event_key
            form_key = instance if instrument else "1"
            for form in self._forms_of_row(values, event=event, instrument=instrument, scope=scope):
                self._form(form, form_key, values, key=key, dag=dag)
        if previous_event is not None:
            write("\t\t</StudyEventData>\n")
        write("\t</SubjectData>\n")

    def _forms_of_row(self, values: list[str], *, event: str, instrument: str, scope: str) -> list[str]:
        """The forms a row is written under (counting a row whose other values are left out)."""
        layout = self.layout
        repeats = self.repeating_forms.get(scope, set())
        valued = {form for form in layout.forms if any(values[index] for index in self.form_indexes[form])}
        if instrument:
            self.dropped += bool(valued - {instrument})
            return [instrument]
        # The event's forms that do not repeat there, and any other non-repeating form
        # that holds values (REDCap would drop those; the round trip should not).
        placed = set(self.forms_of_event.get(event, []) if self.longitudinal else layout.forms)
        self.dropped += bool(valued & repeats)
        return [form for form in layout.forms if form not in repeats and (form in placed or form in valued)]

    def _form(self, form: str, form_key: str, values: list[str], *, key: str, dag: str) -> None:
        """One ``FormData`` of a row: its item groups that hold values (and the record id, the DAG)."""
        write = self.write
        write(f'\t\t\t<FormData FormOID="Form.{xml_attr(form)}" FormRepeatKey="{xml_attr(form_key)}">\n')
        for number, (oid, items) in enumerate(self.form_items.get(form, [])):
            data = [(item, values[index]) for index, item in items if values[index]]
            if number == 0:
                data[:0] = self._survey_items(form, values, record_group=oid == self.record_group)
            if oid == self.record_group:
                data[:0] = [(self.record_id, key)] + ([(DAG, dag)] if dag else [])
            elif self._dag_elsewhere:
                data.insert(0, (DAG, dag))
                self._dag_elsewhere = False
            if data:
                write(f'\t\t\t\t<ItemGroupData ItemGroupOID="{xml_attr(oid)}" ItemGroupRepeatKey="1">\n')
                write("".join(self._item(item, value) for item, value in data))
                write("\t\t\t\t</ItemGroupData>\n")
        write("\t\t\t</FormData>\n")


    def _survey_items(self, form: str, values: list[str], *, record_group: bool) -> list[tuple[str, str]]:
        """The survey identifier (in the record id's group) and the form's survey timestamp, when given."""
        items = []
        if record_group and self.survey_id_at is not None and values[self.survey_id_at]:
            items.append((SURVEY_IDENTIFIER, values[self.survey_id_at]))
        at = self.timestamp_at.get(form)
        if at is not None and values[at]:
            items.append((survey_timestamp(form), values[at]))
        return items

    def _item(self, item: str, value: str) -> str:
        if item in self.files:  # REDCap writes the document itself; its name is what exports show
            return (
                f'\t\t\t\t\t<ItemDataBase64Binary ItemOID="{xml_attr(item)}" redcap:DocName="{xml_attr(value)}"'
                ' redcap:MimeType="application/octet-stream"></ItemDataBase64Binary>\n'
            )
        return f'\t\t\t\t\t<ItemData ItemOID="{xml_attr(item)}" Value="{xml_attr(value)}"/>\n'


def _holds_record_form(
    subject: list[list[str]],
    record_form: str,
    forms_of_event: dict[str, list[str]],
    event_at: int | None,
    instrument_at: int | None,
) -> bool:
    """Whether some non-repeating row of a record is on an event that holds the record id's form."""
    for values in subject:
        if instrument_at is not None and values[instrument_at]:
            continue
        if event_at is None or record_form in forms_of_event.get(values[event_at], []):
            return True
    return False



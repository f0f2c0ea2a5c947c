"""REDCap's project XML, written: the records (``ClinicalData``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from proximite.cohort.redcap.dictionary import DAG, EVENT, INSTANCE, INSTRUMENT
from proximite.cohort.redcap.xml_layout import ProjectLayout, frame_rows, xml_attr
from proximite.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.redcap.project import RedcapProject

__all__ = ["write_clinical_data"]

log = logging.getLogger(__name__)


def write_clinical_data(
    write: Any, project: RedcapProject, layout: ProjectLayout, *, longitudinal: bool, repeating: list[dict[str, str]]
) -> None:
    records = project.records
    if records is None or records.empty:
        return
    columns = [str(column) for column in records.columns]
    position = {column: index for index, column in enumerate(columns)}
    record_id = layout.record_id
    if record_id not in position:
        raise InputError(
            "records", "required column missing", column=record_id, detail="The records need the record id column"
        )
    groups = layout.item_groups(descriptive=False)
    # Per form: [(group OID, [(column index, item OID)])] over the columns the records have.
    form_items = {
        form: [
            (oid, [(position[column], column) for column in items if column in position and column != record_id])
            for oid, items in form_groups
        ]
        for form, form_groups in groups.items()
    }
    form_indexes = {form: [index for _, items in form_items[form] for index, _ in items] for form in layout.forms}
    missing = [column for column in layout.export_columns() if column not in position]
    if missing:
        log.warning("records lack %d dictionary columns (first: %s); they are written blank", len(missing), missing[0])
    forms_of_event: dict[str, list[str]] = {}
    for row in frame_rows(project.form_event_mapping):
        forms_of_event.setdefault(row["unique_event_name"], []).append(row["form"])
    repeating_forms: dict[str, set[str]] = {}
    repeating_events: set[str] = set()
    for row in repeating:
        scope = row.get("event_name", "") if longitudinal else ""
        if row.get("form_name", ""):
            repeating_forms.setdefault(scope, set()).add(row["form_name"])
        else:
            repeating_events.add(scope)
    record_form = layout.fields[0].form
    record_group = groups[record_form][0][0]
    event_at = position.get(EVENT) if longitudinal else None
    instrument_at = position.get(INSTRUMENT)
    instance_at = position.get(INSTANCE)
    dag_at = position.get(DAG)
    id_at = position[record_id]
    dropped = 0

    rows = records.astype(object).where(records.notna(), "").to_numpy(dtype=object).tolist()
    start = 0
    while start < len(rows):
        # One SubjectData per run of rows of one record (the flat export keeps a record's rows together).
        key = str(rows[start][id_at])
        end = start + 1
        while end < len(rows) and str(rows[end][id_at]) == key:
            end += 1
        subject = [[str(value) for value in values] for values in rows[start:end]]
        start = end
        dag = next((values[dag_at] for values in subject if dag_at is not None and values[dag_at]), "")
        # REDCap writes the DAG beside the record id, on rows that hold the record id's form; a
        # record with no such row gets it in its first item group instead.
        dag_elsewhere = bool(dag) and not _holds_record_form(
            subject, record_form, forms_of_event, event_at, instrument_at
        )
        write(f'\t<SubjectData SubjectKey="{xml_attr(key)}" redcap:RecordIdField="{xml_attr(record_id)}">\n')
        previous_event: tuple[str, str] | None = None
        for values in subject:
            event = values[event_at] if event_at is not None else ""
            instrument = values[instrument_at] if instrument_at is not None else ""
            instance = values[instance_at] if instance_at is not None else ""
            scope = event if longitudinal else ""
            repeats = repeating_forms.get(scope, set())
            whole_event = not instrument and scope in repeating_events and bool(instance)
            event_key = (event, instance if whole_event else "1")
            if longitudinal and event_key != previous_event:
                if previous_event is not None:
                    write("\t\t</StudyEventData>\n")
                write(
                    f'\t\t<StudyEventData StudyEventOID="Event.{xml_attr(event)}" StudyEventRepeatKey="{xml_attr(event_key[1])}"'
                    f' redcap:UniqueEventName="{xml_attr(event)}">\n'
                )
                previous_event = event_key
            valued = {form for form in layout.forms if any(values[index] for index in form_indexes[form])}
            if instrument:
                forms = [instrument]
                dropped += bool(valued - {instrument})
            else:
                # The event's forms that do not repeat there, and any other non-repeating form
                # that holds values (REDCap would drop those; the round trip should not).
                placed = set(forms_of_event.get(event, []) if longitudinal else layout.forms)
                forms = [form for form in layout.forms if form not in repeats and (form in placed or form in valued)]
                dropped += bool(valued & repeats)
            form_key = instance if instrument else "1"
            for form in forms:
                write(f'\t\t\t<FormData FormOID="Form.{xml_attr(form)}" FormRepeatKey="{xml_attr(form_key)}">\n')
                for oid, items in form_items.get(form, []):
                    data = [(item, values[index]) for index, item in items if values[index]]
                    if oid == record_group:
                        data[:0] = [(record_id, key)] + ([(DAG, dag)] if dag else [])
                    elif dag_elsewhere:
                        data.insert(0, (DAG, dag))
                        dag_elsewhere = False
                    if data:
                        write(f'\t\t\t\t<ItemGroupData ItemGroupOID="{xml_attr(oid)}" ItemGroupRepeatKey="1">\n')
                        write(
                            "".join(
                                f'\t\t\t\t\t<ItemData ItemOID="{xml_attr(item)}" Value="{xml_attr(value)}"/>\n'
                                for item, value in data
                            )
                        )
                        write("\t\t\t\t</ItemGroupData>\n")
                write("\t\t\t</FormData>\n")
        if previous_event is not None:
            write("\t\t</StudyEventData>\n")
        write("\t</SubjectData>\n")
    if dropped:
        log.warning(
            "%d rows hold values of a form that is not theirs (a repeating form off its instrument's rows); left out",
            dropped,
        )


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



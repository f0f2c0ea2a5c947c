"""REDCap's project XML, read back into a :class:`~proximite.cohort.redcap.project.RedcapProject`.

The file is read in a single streaming pass (``ElementTree.iterparse``), so a pilot-size export
loads in seconds.
"""

from __future__ import annotations

import io
import re
import logging
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO

import pandas as pd

from proximite.cohort.redcap.dictionary import DAG, EVENT, INSTANCE, INSTRUMENT
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.redcap.xml_layout import ODM_NS, ProjectLayout, records_columns
from proximite.cohort.redcap.xml_read_meta import (
    ParsedProject,
    odm_tag,
    read_global_variables,
    read_metadata_version,
    redcap_tag,
)
from proximite.errors import InputError

__all__ = ["project_from_xml"]

log = logging.getLogger(__name__)

def project_from_xml(source: str | Path | bytes) -> RedcapProject:
    """Read REDCap's project XML into a project.

    Parameters
    ----------
    source : str, Path or bytes
        A project XML file (REDCap's "REDCap project XML" export, the API's
        ``content=project_xml``, or :func:`project_to_xml`'s output), or its bytes.

    Returns
    -------
    RedcapProject
        ``metadata`` with the API's 18 columns in field order (forms in file order);
        ``events``, ``arms``, ``form_event_mapping``, ``repeating_forms_events`` and ``data_access_groups`` with the columns
        of the CSV files of a project folder (empty frames when the project has none);
        ``records`` in the flat layout (``docs/data-layout.md``), every cell a string, rows in
        file order; ``info`` with the title and the settings the file carries, ``creation_time``
        (the file's CreationDateTime: the XML does not carry the project's) and
        ``instrument_labels`` (form → menu label, from each ``FormDef``'s Name).

    Raises
    ------
    InputError
        The file is missing, is not XML, is not CDISC ODM, has no ``MetaDataVersion``, or its
        data dictionary breaks a rule of :func:`normalise_metadata`.

    Notes
    -----
    The file is read in one streaming pass (``ElementTree.iterparse``), each record cleared once
    read. Items of ``ClinicalData`` that are not fields of the dictionary (survey timestamps,
    ``redcap_survey_identifier``) are skipped, with a warning.
    """

    label, stream = _open(source)
    parsed = ParsedProject()
    reader = _RecordsReader()
    with stream:
        try:
            _parse(stream, label, parsed, reader)
        except ET.ParseError as error:
            line, column = getattr(error, "position", (None, None))
            where = f" at line {line}, column {column}" if line is not None else ""
            raise InputError(
                label, "not an XML file", detail=f"The XML parser stopped{where}: {_reason(error)}"
            ) from None
    if parsed.metadata is None:
        raise InputError(
            label,
            "missing element <MetaDataVersion>",
            detail="A REDCap project XML has its forms and fields in <Study><MetaDataVersion>; export the whole project (metadata and data), not the data alone",
        )
    info = parsed.info
    longitudinal = bool(parsed.events)
    has_repeating = bool(parsed.repeating)
    info["is_longitudinal"] = int(longitudinal)
    info["has_repeating_instruments_or_events"] = int(has_repeating)
    info.setdefault("missing_data_codes", "")
    layout = ProjectLayout.from_metadata(parsed.metadata)
    has_dags = bool(parsed.dags) or reader.saw_dag
    columns = records_columns(layout, longitudinal=longitudinal, repeating=has_repeating, dags=has_dags)
    records = reader.frame(columns)
    repeating = (
        pd.DataFrame(parsed.repeating, columns=["event_name", "form_name", "custom_form_label"])
        if parsed.repeating
        else pd.DataFrame()
    )
    if has_repeating and not longitudinal:
        repeating["event_name"] = ""
    return RedcapProject(
        info=info,
        metadata=parsed.metadata,
        records=records,
        events=_frame(
            parsed.events,
            [
                "event_name",
                "arm_num",
                "unique_event_name",
                "custom_event_label",
                "day_offset",
                "offset_min",
                "offset_max",
            ],
        ),
        arms=_frame(parsed.arms, ["arm_num", "name"]),
        form_event_mapping=_frame(parsed.mapping, ["arm_num", "unique_event_name", "form"]),
        repeating_forms_events=repeating,
        data_access_groups=_frame(parsed.dags, ["data_access_group_name", "unique_group_name", "data_access_group_id"]),
        log=[],
    )


def _frame(rows: list[dict[str, str]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns, dtype=object) if rows else pd.DataFrame()


def _reason(error: ET.ParseError) -> str:
    return re.sub(r": line \d+, column \d+$", "", str(error))


def _open(source: str | Path | bytes) -> tuple[str, IO[bytes]]:
    if isinstance(source, bytes | bytearray):
        return "project XML (bytes)", io.BytesIO(bytes(source))
    path = Path(source)
    if not path.is_file():
        raise InputError(path, "no such file", detail="Give a REDCap project XML file")
    return str(path), path.open("rb")


class _RecordsReader:
    """Collects ClinicalData rows as the parser streams through them."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str, str, str], int] = {}
        self.rows: list[dict[str, str]] = []
        self.saw_dag = False
        self.unknown: dict[str, int] = {}

    def frame(self, columns: list[str]) -> pd.DataFrame:
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


def _parse(stream: IO[bytes], label: str, parsed: ParsedProject, reader: _RecordsReader) -> None:
    """One streaming pass over the document: settings, metadata, then the records."""
    odm = odm_tag("ODM")
    global_variables, metadata_version = odm_tag("GlobalVariables"), odm_tag("MetaDataVersion")
    clinical_data, subject_data = odm_tag("ClinicalData"), odm_tag("SubjectData")
    study_event_data, form_data, item_data = odm_tag("StudyEventData"), odm_tag("FormData"), odm_tag("ItemData")
    dag_attribute, unique_event_attribute = redcap_tag("DataAccessGroup"), redcap_tag("UniqueEventName")
    no_metadata = InputError(
        label,
        "missing element <MetaDataVersion>",
        detail="<ClinicalData> comes before the project's metadata (<Study><MetaDataVersion>); export the whole project",
    )
    # Set when ClinicalData starts, from the metadata read before it.
    record_id = ""
    known: set[str] = set()
    longitudinal = False
    repeating_forms: dict[str, set[str]] = {}
    repeating_events: set[str] = set()
    # The record, event and row being read.
    record = record_dag = event = ""
    event_key = "1"
    event_has_forms = False
    record_rows: list[dict[str, str]] = []
    row: dict[str, str] = {}

    def row_for(instrument: str, instance: str) -> dict[str, str]:
        key = (record, event, instrument, instance)
        index = reader.keys.get(key)
        if index is not None:
            return reader.rows[index]
        reader.keys[key] = len(reader.rows)
        values = {record_id: record}
        if longitudinal:
            values[EVENT] = event
        if instrument:
            values[INSTRUMENT] = instrument
        if instance:
            values[INSTANCE] = instance
        reader.rows.append(values)
        record_rows.append(values)
        return values

    events = iter(ET.iterparse(stream, events=("start", "end")))
    _, root = next(events)
    creation = root.get("CreationDateTime", "")
    if creation:
        # The file's date stands in for the project's creation time, which the XML does not carry.
        parsed.info["creation_time"] = creation.replace("T", " ")[:19]
    if root.tag != odm:
        name = root.tag.rpartition("}")[2]
        namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else "none"
        raise InputError(
            label,
            "not a CDISC ODM file",
            detail=f'The root element is <{name}> (namespace {namespace}); a REDCap project XML starts with <ODM xmlns="{ODM_NS}">',
        )
    for action, element in events:
        tag = element.tag
        if action == "start":
            if tag == item_data:
                name = element.get("ItemOID", "")
                value = element.get("Value", "")
                if not value:
                    continue
                if name in known:
                    row[name] = value
                elif name == DAG:
                    record_dag = record_dag or value
                elif name != record_id:
                    reader.unknown[name] = reader.unknown.get(name, 0) + 1
            elif tag == form_data:
                event_has_forms = True
                form = element.get("FormOID", "").partition(".")[2]
                scope = event if longitudinal else ""
                if form in repeating_forms.get(scope, ()):
                    row = row_for(form, element.get("FormRepeatKey", "1") or "1")
                elif scope in repeating_events:
                    row = row_for("", event_key)
                else:
                    row = row_for("", "")
            elif tag == study_event_data:
                event = element.get(unique_event_attribute) or element.get("StudyEventOID", "").partition(".")[2]
                event_key = element.get("StudyEventRepeatKey", "1") or "1"
                event_has_forms = False
            elif tag == subject_data:
                record = element.get("SubjectKey", "")
                record_dag = element.get(dag_attribute, "")
                record_rows = []
                event = ""
            elif tag == clinical_data:
                if parsed.metadata is None:
                    raise no_metadata
                layout = ProjectLayout.from_metadata(parsed.metadata)
                record_id = layout.record_id
                known = set(layout.export_columns())
                longitudinal = bool(parsed.events)
                for item in parsed.repeating:
                    scope = item["event_name"] if longitudinal else ""
                    if item["form_name"]:
                        repeating_forms.setdefault(scope, set()).add(item["form_name"])
                    else:
                        repeating_events.add(scope)
            continue
        if tag == study_event_data:
            if not event_has_forms:  # a row with nothing but its keys
                row_for("", event_key if event in repeating_events else "")
        elif tag == subject_data:
            if record_dag:  # a record's DAG goes on each of its rows
                reader.saw_dag = True
                for values in record_rows:
                    values[DAG] = record_dag
            element.clear()  # keep memory flat: a record is done once read
        elif tag == global_variables:
            read_global_variables(element, parsed)
            element.clear()
        elif tag == metadata_version:
            read_metadata_version(element, parsed, label)
            element.clear()



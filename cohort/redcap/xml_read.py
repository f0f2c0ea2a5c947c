"""REDCap's project XML, read back into a :class:`~proximite.cohort.redcap.project.RedcapProject`.

The file is read in a single streaming pass (``ElementTree.iterparse``), so a pilot-size export
loads in seconds.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO

import pandas as pd

from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.redcap.xml_layout import ODM_NS, ProjectLayout, records_columns
from proximite.cohort.redcap.xml_read_meta import (
    ParsedProject,
    odm_tag,
    read_global_variables,
    read_metadata_version,
    redcap_tag,
)
from proximite.cohort.redcap.xml_read_records import ClinicalDataReader
from proximite.errors import InputError

__all__ = ["project_from_xml"]


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
        ``events``, ``arms``, ``form_event_mapping``, ``repeating_forms_events`` and ``dags`` with the columns
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
    reader = ClinicalDataReader()
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
        dags=_frame(parsed.dags, ["data_access_group_name", "unique_group_name", "data_access_group_id"]),
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


def _parse(stream: IO[bytes], label: str, parsed: ParsedProject, reader: ClinicalDataReader) -> None:
    """One streaming pass over the document: settings, metadata, then the records."""
    global_variables, metadata_version = odm_tag("GlobalVariables"), odm_tag("MetaDataVersion")
    clinical_data, subject_data = odm_tag("ClinicalData"), odm_tag("SubjectData")
    study_event_data, form_data, item_data = odm_tag("StudyEventData"), odm_tag("FormData"), odm_tag("ItemData")
    dag_attribute, unique_event_attribute = redcap_tag("DataAccessGroup"), redcap_tag("UniqueEventName")
    events = iter(ET.iterparse(stream, events=("start", "end")))
    _, root = next(events)
    _check_root(root, label, parsed)
    for action, element in events:
        tag = element.tag
        if action == "start":
            if tag == item_data:
                reader.item(element)
            elif tag == form_data:
                reader.start_form(element)
            elif tag == study_event_data:
                reader.start_event(element, unique_event_attribute)
            elif tag == subject_data:
                reader.start_subject(element, dag_attribute)
            elif tag == clinical_data:
                if parsed.metadata is None:
                    raise InputError(
                        label,
                        "missing element <MetaDataVersion>",
                        detail="<ClinicalData> comes before the project's metadata (<Study><MetaDataVersion>); "
                        "export the whole project",
                    )
                reader.start_clinical_data(parsed)
            continue
        if tag == study_event_data:
            reader.end_event()
        elif tag == subject_data:
            reader.end_subject()
            element.clear()  # keep memory flat: a record is done once read
        elif tag == global_variables:
            read_global_variables(element, parsed)
            element.clear()
        elif tag == metadata_version:
            read_metadata_version(element, parsed, label)
            element.clear()


def _check_root(root: ET.Element, label: str, parsed: ParsedProject) -> None:
    """Take the file's creation time; fail unless the root is CDISC ODM's."""
    creation = root.get("CreationDateTime", "")
    if creation:
        # The file's date stands in for the project's creation time, which the XML does not carry.
        parsed.info["creation_time"] = creation.replace("T", " ")[:19]
    if root.tag != odm_tag("ODM"):
        name = root.tag.rpartition("}")[2]
        namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else "none"
        raise InputError(
            label,
            "not a CDISC ODM file",
            detail=f'The root element is <{name}> (namespace {namespace}); a REDCap project XML starts with <ODM xmlns="{ODM_NS}">',
        )

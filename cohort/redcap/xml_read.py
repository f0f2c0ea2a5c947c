"""REDCap's project XML, read back into a :class:`~proximite.cohort.redcap.project.RedcapProject`.

The file is read in a single streaming pass (``ElementTree.iterparse``), so a pilot-size export
loads in seconds.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd

from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.redcap.xml_layout import (
    ODM_NS,
    PROJECT_INFO_DEFAULTS,
    ProjectLayout,
    records_columns,
    stable_project_id,
)
from proximite.cohort.redcap.xml_read_meta import (
    ParsedProject,
    odm_tag,
    read_global_variables,
    read_metadata_version,
    redcap_tag,
)
from proximite.cohort.redcap.xml_read_records import ClinicalDataReader
from proximite.cohort.redcap.xml_read_stream import AttributeBreaksEscaped
from proximite.errors import InputError

__all__ = ["project_from_xml", "project_information"]


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
        file order, with ``redcap_survey_identifier`` and ``<form>_timestamp`` columns when the
        project has survey forms; ``info`` with every key of ``content=project``
        (:func:`project_information`: ``project_id`` derived from the title, the settings the
        file carries, ``creation_time`` from the file's CreationDateTime, which stands in for the
        project's) and ``instrument_labels`` (form → menu label, from each ``FormDef``'s Name);
        ``survey_forms`` from ``redcap:SurveysGroup`` (and any form whose timestamp the data
        carries).

    Raises
    ------
    InputError
        The file is missing, is not XML, is not CDISC ODM, has no ``MetaDataVersion``, or its
        data dictionary breaks a rule of :func:`normalise_metadata`.

    Notes
    -----
    The file is read in one streaming pass (``ElementTree.iterparse``), each record cleared once
    read, through :class:`AttributeBreaksEscaped`: REDCap writes line breaks raw inside
    ``Value="…"``, which a parser would turn into spaces. As REDCap's own exports do, a file-upload
    field reads as its document's name (``ItemDataBase64Binary``'s ``redcap:DocName``), and a form
    holding data without a stored ``<form>_complete`` reads as 0 (Incomplete); a form without
    data keeps a blank status. Items of ``ClinicalData`` that are not fields of the dictionary
    nor survey fields are skipped, with a warning.
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
    longitudinal = bool(parsed.events)
    has_repeating = bool(parsed.repeating)
    survey_forms = [form for form in ProjectLayout.from_metadata(parsed.metadata).forms
                    if form in parsed.surveys or form in reader.timestamped]
    info = project_information(
        parsed.info, longitudinal=longitudinal, has_repeating=has_repeating, surveys=bool(survey_forms)
    )
    layout = ProjectLayout.from_metadata(parsed.metadata)
    has_dags = bool(parsed.dags) or reader.saw_dag
    columns = records_columns(
        layout, longitudinal=longitudinal, repeating=has_repeating, dags=has_dags, survey_forms=survey_forms
    )
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
        survey_forms=survey_forms,
    )


def project_information(
    settings: dict[str, Any], *, longitudinal: bool, has_repeating: bool, surveys: bool
) -> dict[str, Any]:
    """Everything ``content=project`` answers, for a project read from its XML.

    Parameters
    ----------
    settings : dict
        What the file carries (title, ``GlobalVariables`` settings, creation time, form labels).
    longitudinal, has_repeating, surveys : bool, keyword-only
        What the file's structure says (events, repeating set-up, survey forms).

    Returns
    -------
    dict
        REDCap 14's keys in its order (:data:`PROJECT_INFO_DEFAULTS`), then any other setting
        the file gave. ``project_id``, which the XML never carries, is
        :func:`stable_project_id` of the title; ``surveys_enabled`` is 1 when a form is a survey.
    """
    info: dict[str, Any] = dict(PROJECT_INFO_DEFAULTS)
    info.update(settings)
    info["project_id"] = stable_project_id(str(info.get("project_title") or ""))
    info["is_longitudinal"] = int(longitudinal)
    info["has_repeating_instruments_or_events"] = int(has_repeating)
    if surveys:
        info["surveys_enabled"] = 1
    info["missing_data_codes"] = info.get("missing_data_codes") or ""
    return info


def _frame(rows: list[dict[str, str]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns, dtype=object) if rows else pd.DataFrame()


def _reason(error: ET.ParseError) -> str:
    return re.sub(r": line \d+, column \d+$", "", str(error))


def _open(source: str | Path | bytes) -> tuple[str, AttributeBreaksEscaped]:
    """The file's label and its bytes, raw line breaks in attribute values kept (see xml_read_stream)."""
    if isinstance(source, bytes | bytearray):
        return "project XML (bytes)", AttributeBreaksEscaped(io.BytesIO(bytes(source)))
    path = Path(source)
    if not path.is_file():
        raise InputError(path, "no such file", detail="Give a REDCap project XML file")
    return str(path), AttributeBreaksEscaped(path.open("rb"))


def _parse(stream: AttributeBreaksEscaped, label: str, parsed: ParsedProject, reader: ClinicalDataReader) -> None:
    """One streaming pass over the document: settings, metadata, then the records."""
    global_variables, metadata_version = odm_tag("GlobalVariables"), odm_tag("MetaDataVersion")
    clinical_data, subject_data = odm_tag("ClinicalData"), odm_tag("SubjectData")
    study_event_data, form_data, item_data = odm_tag("StudyEventData"), odm_tag("FormData"), odm_tag("ItemData")
    dag_attribute, unique_event_attribute = redcap_tag("DataAccessGroup"), redcap_tag("UniqueEventName")
    file_data, doc_name = odm_tag("ItemDataBase64Binary"), redcap_tag("DocName")
    events = iter(ET.iterparse(stream, events=("start", "end")))
    _, root = next(events)
    _check_root(root, label, parsed)
    for action, element in events:
        tag = element.tag
        if action == "start":
            if tag == item_data:
                reader.item(element)
            elif tag == file_data:
                reader.file_item(element, doc_name)
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
        if tag == form_data:
            reader.end_form()
        elif tag == study_event_data:
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

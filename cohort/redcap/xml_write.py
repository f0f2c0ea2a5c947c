"""REDCap's project XML, written: CDISC ODM 1.3.1 with REDCap's ``redcap:`` extensions.

A REDCap project XML ("Other export options → REDCap project XML", or the API's
``content=project_xml``) holds a whole project in one file:

- ``Study/GlobalVariables``: the title and project settings (``redcap:RecordAutonumberingEnabled``,
  ``redcap:Purpose`` ...), the repeating instruments (``redcap:RepeatingInstrumentsAndEvents``) and
  the data access groups (``redcap:DataAccessGroupsGroup``);
- ``Study/MetaDataVersion``: the events (``Protocol``, ``StudyEventDef`` with ``redcap:EventName``,
  ``redcap:UniqueEventName``, ``redcap:ArmNum`` ... and one ``FormRef`` per form–event mapping),
  the forms (``FormDef``), their sections (``ItemGroupDef``), the fields (``ItemDef`` with
  ``redcap:Variable``, ``redcap:FieldType``, ``redcap:TextValidationType`` ...; one ``ItemDef`` per
  checkbox choice, ``field___code``; ``RangeCheck`` for the validation min and max) and the choices
  (``CodeList``; ``redcap:CheckboxChoices`` for checkboxes);
- ``ClinicalData``: the records, ``SubjectData`` → ``StudyEventData`` (longitudinal projects) →
  ``FormData`` (``FormRepeatKey`` is the repeat instance) → ``ItemGroupData`` → ``ItemData``; a
  record's data access group is the ``ItemData`` named ``redcap_data_access_group``.

The layout follows what REDCap itself writes and reads (REDCap's ``ODM`` class, and project XML
files exported by REDCap 7–9 in IUREDCap/redcap-etl's test projects): REDCap's back-end names for
field types (``select`` for dropdown, ``textarea`` for notes) and validations (``int``, ``float``),
one ``<form>_complete`` item per form in a "Form Status" section, blank values left out.

:func:`project_to_xml` writes a :class:`~proximite.cohort.redcap.project.RedcapProject`;
:func:`~proximite.cohort.redcap.xml_read.project_from_xml` reads one back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proximite.cohort.redcap.xml_layout import (
    CLASSIC_EVENT,
    DEFAULT_CREATION,
    ODM_NS,
    PROJECT_SETTINGS,
    REDCAP_NS,
    ProjectLayout,
    form_label,
    frame_rows,
    redcap_study_oid,
    xml_attr,
    xml_attributes,
    xml_text,
)
from proximite.cohort.redcap.xml_write_data import write_clinical_data
from proximite.cohort.redcap.xml_write_forms import write_forms

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.redcap.project import RedcapProject

__all__ = ["project_to_xml"]


def project_to_xml(project: RedcapProject, *, include_data: bool = True) -> bytes:
    """Write a project as REDCap's project XML (CDISC ODM 1.3.1 with REDCap's extensions).

    Parameters
    ----------
    project : RedcapProject
        The project: info, metadata, events, arms, form–event mapping, repeating instruments,
        data access groups and (optionally written) records.
    include_data : bool, keyword-only
        Write the records as ``ClinicalData`` (default). Without them the file creates an empty
        project when uploaded into REDCap.

    Returns
    -------
    bytes
        UTF-8 XML. The same project always gives the same bytes: the file's CreationDateTime is
        the project's ``creation_time`` (or a constant), never the clock.

    Notes
    -----
    Blank values are left out of ``ClinicalData`` (REDCap's import reads a missing item as
    blank); a row whose forms are all blank is still written, as an empty ``FormData`` (or
    ``StudyEventData``), so that it reads back. Line breaks and tabs in values are written as
    character references; control characters XML cannot carry are dropped.
    """
    info = dict(project.info)
    info["survey_forms"] = list(project.survey_forms)
    layout = ProjectLayout.from_metadata(project.metadata)
    title = str(info.get("project_title", "") or "REDCap project")
    study_oid = f"Project.{redcap_study_oid(title)}"
    creation = str(info.get("creation_time") or DEFAULT_CREATION).strip().replace(" ", "T")
    metadata_oid = f"Metadata.{redcap_study_oid(title)}_{creation[:16].replace(':', '').replace('T', '_')}"
    events = frame_rows(project.events)
    longitudinal = bool(int(info.get("is_longitudinal", 1 if events else 0) or 0)) and bool(events)
    repeating = frame_rows(project.repeating_forms_events)

    out: list[str] = []
    write = out.append
    write('<?xml version="1.0" encoding="UTF-8" ?>\n')
    write(
        "<ODM"
        + xml_attributes(
            [
                ("xmlns", ODM_NS),
                ("xmlns:ds", "http://www.w3.org/2000/09/xmldsig#"),
                ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
                ("xmlns:redcap", REDCAP_NS),
                ("xsi:schemaLocation", f"{ODM_NS} schema/odm/ODM1-3-1.xsd"),
                ("ODMVersion", "1.3.1"),
                ("FileOID", f"{study_oid}.{creation}"),
                ("FileType", "Snapshot"),
                ("Description", title),
                ("AsOfDateTime", creation),
                ("CreationDateTime", creation),
                ("SourceSystem", "Proximite"),
                ("SourceSystemVersion", _package_version()),
            ]
        )
        + ">\n"
    )
    write(f'<Study OID="{xml_attr(study_oid)}">\n')
    _write_global_variables(
        write, info, title, longitudinal=longitudinal, repeating=repeating, dags=frame_rows(project.dags)
    )
    write(
        f'<MetaDataVersion OID="{xml_attr(metadata_oid)}" Name="{xml_attr(title)}" redcap:RecordIdField="{xml_attr(layout.record_id)}">\n'
    )
    if longitudinal:
        repeating_events = {row.get("event_name", "") for row in repeating if not row.get("form_name", "")}
        _write_events(
            write, events, frame_rows(project.arms), frame_rows(project.form_event_mapping), repeating_events
        )
    labels = info.get("instrument_labels") if isinstance(info.get("instrument_labels"), dict) else {}
    write_forms(write, layout, {form: str(labels.get(form) or form_label(form)) for form in layout.forms})
    write("</MetaDataVersion>\n</Study>\n")
    if include_data:
        write(f'<ClinicalData StudyOID="{xml_attr(study_oid)}" MetaDataVersionOID="{xml_attr(metadata_oid)}">\n')
        write_clinical_data(write, project, layout, longitudinal=longitudinal, repeating=repeating)
        write("</ClinicalData>\n")
    write("</ODM>\n")
    return "".join(out).encode("utf-8")


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("proximite")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def _write_global_variables(
    write: Any,
    info: dict[str, Any],
    title: str,
    *,
    longitudinal: bool,
    repeating: list[dict[str, str]],
    dags: list[dict[str, str]],
) -> None:
    write("<GlobalVariables>\n")
    write(f"\t<StudyName>{xml_text(title)}</StudyName>\n")
    write(
        f'\t<StudyDescription>This file contains the metadata, events, and data for REDCap project "{xml_text(title)}".</StudyDescription>\n'
    )
    write(f"\t<ProtocolName>{xml_text(title)}</ProtocolName>\n")
    for tag, key, default in PROJECT_SETTINGS:
        value = info.get(key, default)
        write(f"\t<redcap:{tag}>{xml_text('' if value is None else value)}</redcap:{tag}>\n")
    if repeating:
        write("\t<redcap:RepeatingInstrumentsAndEvents>\n")
        # REDCap groups the instruments of one event under one redcap:RepeatingInstruments.
        by_event: dict[str, list[dict[str, str]]] = {}
        for row in repeating:
            event = row.get("event_name", "") if longitudinal else CLASSIC_EVENT
            by_event.setdefault(event or CLASSIC_EVENT, []).append(row)
        for event, rows in by_event.items():
            forms = [row for row in rows if row.get("form_name", "")]
            if not forms:
                write(f'\t\t<redcap:RepeatingEvent redcap:UniqueEventName="{xml_attr(event)}"/>\n')
                continue
            write("\t\t<redcap:RepeatingInstruments>\n")
            for row in forms:
                write(
                    "\t\t\t<redcap:RepeatingInstrument"
                    + xml_attributes(
                        [
                            ("redcap:UniqueEventName", event),
                            ("redcap:RepeatInstrument", row["form_name"]),
                            ("redcap:CustomLabel", row.get("custom_form_label", "")),
                        ]
                    )
                    + "/>\n"
                )
            write("\t\t</redcap:RepeatingInstruments>\n")
        write("\t</redcap:RepeatingInstrumentsAndEvents>\n")
    if dags:
        # REDCap writes group_name only and derives the unique name; the unique name and id are
        # kept as extra attributes (REDCap's import ignores attributes that are not columns of
        # its DAG table) so that the project reads back exactly.
        write("\t<redcap:DataAccessGroupsGroup>\n")
        for row in dags:
            write(
                "\t\t<redcap:DataAccessGroups"
                + xml_attributes(
                    [
                        ("group_name", row.get("data_access_group_name", "")),
                        ("unique_group_name", row.get("unique_group_name", "")),
                        ("data_access_group_id", row.get("data_access_group_id", "")),
                    ]
                )
                + "/>\n"
            )
        write("\t</redcap:DataAccessGroupsGroup>\n")
    _write_surveys(write, info.get("survey_forms") or [], info.get("instrument_labels") or {})
    write("</GlobalVariables>\n")


def _write_surveys(write: Any, forms: list[str], labels: dict[str, str]) -> None:
    """The survey-enabled forms, as REDCap lists its survey settings (one ``redcap:Surveys`` each)."""
    if not forms:
        return
    write("\t<redcap:SurveysGroup>\n")
    for form in forms:
        title = labels.get(form) or form_label(form)
        write("\t\t<redcap:Surveys" + xml_attributes([("form_name", form), ("title", title)]) + "/>\n")
    write("\t</redcap:SurveysGroup>\n")


def _write_events(
    write: Any,
    events: list[dict[str, str]],
    arms: list[dict[str, str]],
    mapping: list[dict[str, str]],
    repeating_events: set[str],
) -> None:
    arm_names = {row.get("arm_num", ""): row.get("name", "") for row in arms}
    write("\t<Protocol>\n")
    for number, event in enumerate(events, start=1):
        write(
            f'\t\t<StudyEventRef StudyEventOID="Event.{xml_attr(event["unique_event_name"])}" OrderNumber="{number}" Mandatory="No"/>\n'
        )
    write("\t</Protocol>\n")
    forms_of: dict[str, list[str]] = {}
    for row in mapping:
        forms_of.setdefault(row["unique_event_name"], []).append(row["form"])
    for event in events:
        unique = event["unique_event_name"]
        arm = event.get("arm_num", "1") or "1"
        write(
            "\t<StudyEventDef"
            + xml_attributes(
                [
                    ("OID", f"Event.{unique}"),
                    ("Name", event.get("event_name", "")),
                    ("Type", "Common"),
                    ("Repeating", "Yes" if unique in repeating_events else "No"),
                    ("redcap:EventName", event.get("event_name", "")),
                    ("redcap:CustomEventLabel", event.get("custom_event_label", "")),
                    ("redcap:UniqueEventName", unique),
                    ("redcap:ArmNum", arm),
                    ("redcap:ArmName", arm_names.get(arm, f"Arm {arm}")),
                    ("redcap:DayOffset", event.get("day_offset", "")),
                    ("redcap:OffsetMin", event.get("offset_min", "")),
                    ("redcap:OffsetMax", event.get("offset_max", "")),
                ]
            )
            + ">\n"
        )
        for number, form in enumerate(forms_of.get(unique, []), start=1):
            write(
                f'\t\t<FormRef FormOID="Form.{xml_attr(form)}" OrderNumber="{number}" Mandatory="No" redcap:FormName="{xml_attr(form)}"/>\n'
            )
        write("\t</StudyEventDef>\n")



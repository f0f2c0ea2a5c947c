"""REDCap's project XML: CDISC ODM 1.3.1 with REDCap's ``redcap:`` extensions, written and read.

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

:func:`project_to_xml` writes a :class:`~proximite.cohort.sandbox.project.SandboxProject`;
:func:`project_from_xml` reads a project XML back into one (in a single streaming pass, so a
pilot-size export loads in seconds); :func:`codebook_project` is the cohort's own project from the
codebook, and :func:`write_codebook_project_xml` writes it for upload into REDCap.
"""

from __future__ import annotations

import io
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd

from proximite.errors import InputError
from proximite.cohort.sources.redcap_records import checkbox_column, normalise_metadata, parse_choices

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.cohort.sandbox.project import SandboxProject

__all__ = [
    "ODM_NS",
    "REDCAP_NS",
    "codebook_project",
    "project_from_xml",
    "project_to_xml",
    "write_codebook_project_xml",
]

log = logging.getLogger(__name__)

#: The CDISC ODM 1.3 namespace (the default namespace of a REDCap project XML).
ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
#: REDCap's extension namespace (prefix ``redcap``).
REDCAP_NS = "https://projectredcap.org"

EVENT = "redcap_event_name"
INSTRUMENT = "redcap_repeat_instrument"
INSTANCE = "redcap_repeat_instance"
DAG = "redcap_data_access_group"

#: CreationDateTime when the project has no ``creation_time``: the file must not depend on the clock.
DEFAULT_CREATION = "2024-01-01T00:00:00"
#: Event of a classic (non-longitudinal) project, as REDCap names it in the repeating set-up.
CLASSIC_EVENT = "event_1_arm_1"

# Field types and validations: the API's names → REDCap's back-end names used in the XML.
_TYPE_TO_XML = {"notes": "textarea", "dropdown": "select"}
_TYPE_FROM_XML = {value: key for key, value in _TYPE_TO_XML.items()}
_VALIDATION_TO_XML = {"integer": "int", "number": "float"}
_VALIDATION_FROM_XML = {value: key for key, value in _VALIDATION_TO_XML.items()}
_CHOICE_TYPES = {"radio", "dropdown", "checkbox", "sql"}

#: GlobalVariables elements (REDCap's order) ↔ keys of ``content=project``, with their defaults.
_PROJECT_SETTINGS: tuple[tuple[str, str, Any], ...] = (
    ("RecordAutonumberingEnabled", "record_autonumbering_enabled", 0),
    ("CustomRecordLabel", "custom_record_label", ""),
    ("SecondaryUniqueField", "secondary_unique_field", ""),
    ("SchedulingEnabled", "scheduling_enabled", 0),
    ("SurveysEnabled", "surveys_enabled", 0),
    ("RandomizationEnabled", "randomization_enabled", 0),
    ("DisplayTodayNowButton", "display_today_now_button", 1),
    ("PreventBranchingEraseValues", "bypass_branching_erase_field_prompt", 0),
    ("Purpose", "purpose", 0),
    ("PurposeOther", "purpose_other", ""),
    ("ProjectNotes", "project_notes", ""),
    ("MissingDataCodes", "missing_data_codes", ""),
)
#: Project settings that ``content=project`` gives as integers.
_INTEGER_SETTINGS = {
    "record_autonumbering_enabled",
    "scheduling_enabled",
    "surveys_enabled",
    "randomization_enabled",
    "display_today_now_button",
    "bypass_branching_erase_field_prompt",
    "purpose",
    "is_longitudinal",
    "has_repeating_instruments_or_events",
}

#: ItemDef attributes from metadata columns, in the order REDCap writes them.
_ITEM_ATTRIBUTES = (
    ("field_note", "FieldNote"),
    ("section_header", "SectionHeader"),
)
_ITEM_FLAGS = (("identifier", "Identifier"), ("required_field", "RequiredField"), ("matrix_ranking", "MatrixRanking"))
_ITEM_OPTIONAL = (
    ("branching_logic", "BranchingLogic"),
    ("custom_alignment", "CustomAlignment"),
    ("question_number", "QuestionNumber"),
    ("matrix_group_name", "MatrixGroupName"),
    ("field_annotation", "FieldAnnotation"),
)
_FORM_STATUS = "Form Status"
_FORM_STATUS_CHOICES = (("0", "Incomplete"), ("1", "Unverified"), ("2", "Complete"))

# Characters XML 1.0 cannot carry, even as references (REDCap strips them too).
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ATTRIBUTE_SPECIAL = re.compile('[&<>"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')
# Line breaks and tabs as references, so that a parser gives them back instead of spaces.
_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _attr(value: Any) -> str:
    """A value escaped for a double-quoted attribute."""
    text = str(value)
    if _ATTRIBUTE_SPECIAL.search(text) is None:  # the common case: nothing to escape
        return text
    return _ILLEGAL_XML.sub("", text).translate(_ATTRIBUTE_ESCAPES)


def _text(value: Any) -> str:
    return _ILLEGAL_XML.sub("", str(value)).translate(_TEXT_ESCAPES)


def _attributes(pairs: Iterable[tuple[str, Any]]) -> str:
    return "".join(f' {name}="{_attr(value)}"' for name, value in pairs)


# =============================================================================================
# Project layout shared by the writer and the reader
# =============================================================================================
@dataclass
class _Field:
    """One field of the data dictionary, with the columns it exports."""

    name: str
    form: str
    field_type: str
    section: str
    columns: list[str]  # export columns: the field, or one per checkbox choice
    spec: dict[str, str]


@dataclass
class _Layout:
    """Forms, fields and export columns of a project, from its data dictionary."""

    record_id: str
    forms: list[str]
    fields: list[_Field]

    @classmethod
    def from_metadata(cls, metadata: pd.DataFrame) -> _Layout:
        fields: list[_Field] = []
        forms: list[str] = []
        for spec in metadata.to_dict("records"):
            spec = {key: "" if value is None else str(value) for key, value in spec.items()}
            name, form, field_type = spec["field_name"], spec["form_name"], spec["field_type"]
            if form not in forms:
                forms.append(form)
            if field_type == "checkbox":
                columns = [
                    checkbox_column(name, code) for code in parse_choices(spec["select_choices_or_calculations"])
                ]
            else:
                columns = [name]
            fields.append(_Field(name, form, field_type, spec["section_header"], columns, spec))
        return cls(record_id=fields[0].name, forms=forms, fields=fields)

    def export_columns(self) -> list[str]:
        """Field columns of a flat export after the key columns: each form's fields, then ``<form>_complete``."""
        columns: list[str] = []
        for form in self.forms:
            for item in self.fields:
                if item.form == form and item.field_type != "descriptive" and item.name != self.record_id:
                    columns.extend(item.columns)
            columns.append(f"{form}_complete")
        return columns

    def item_groups(self, *, descriptive: bool) -> dict[str, list[tuple[str, list[str]]]]:
        """REDCap's item groups: ``{form: [(group OID, [item OIDs])]}``.

        A group starts with each form and wherever the section header changes (a field without
        one after a field with one starts a group too, as REDCap does); ``<form>_complete`` is
        its own "Form Status" group.
        """
        groups: dict[str, list[tuple[str, list[str]]]] = {form: [] for form in self.forms}
        previous: tuple[str, str] | None = None
        for item in self.fields:
            if item.field_type == "descriptive" and not descriptive:
                continue
            if previous != (item.form, item.section):
                groups[item.form].append((f"{item.form}.{item.columns[0] if item.columns else item.name}", []))
            groups[item.form][-1][1].extend(item.columns or [item.name])
            previous = (item.form, item.section)
        for form in self.forms:
            groups[form].append((f"{form}.{form}_complete", [f"{form}_complete"]))
        return groups


def _records_columns(layout: _Layout, *, longitudinal: bool, repeating: bool, dags: bool) -> list[str]:
    """The columns of a flat records export (``docs/data-layout.md``)."""
    columns = [layout.record_id]
    if longitudinal:
        columns.append(EVENT)
    if repeating:
        columns.extend([INSTRUMENT, INSTANCE])
    if dags:
        columns.append(DAG)
    return columns + layout.export_columns()


def _study_oid(title: str) -> str:
    """REDCap's study OID: the title's letters and digits, words capitalised, 30 characters at most."""
    words = re.sub(r"[^a-zA-Z0-9 ]", "", title).split(" ")
    return "".join(word[:1].upper() + word[1:] for word in words)[:30] or "Project"


def _form_label(form: str) -> str:
    """A form's menu label when the project has none (``info["instrument_labels"]``): from its name."""
    return form.replace("_", " ").capitalize()


def _unique_group_name(name: str) -> str:
    """The unique name REDCap derives from a data access group's name."""
    unique = re.sub(r"[^a-z0-9_]", "", name.strip().lower().replace(" ", "_"))[:18]
    return unique.strip("_") or "dag"


def _frame_rows(frame: pd.DataFrame | None) -> list[dict[str, str]]:
    if frame is None or frame.empty:
        return []
    return [
        {str(key): "" if pd.isna(value) else str(value) for key, value in row.items()}
        for row in frame.to_dict("records")
    ]


# =============================================================================================
# Writing
# =============================================================================================
def project_to_xml(project: SandboxProject, *, include_data: bool = True) -> bytes:
    """Write a project as REDCap's project XML (CDISC ODM 1.3.1 with REDCap's extensions).

    Parameters
    ----------
    project : SandboxProject
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
    layout = _Layout.from_metadata(project.metadata)
    title = str(info.get("project_title", "") or "REDCap project")
    study_oid = f"Project.{_study_oid(title)}"
    creation = str(info.get("creation_time") or DEFAULT_CREATION).strip().replace(" ", "T")
    metadata_oid = f"Metadata.{_study_oid(title)}_{creation[:16].replace(':', '').replace('T', '_')}"
    events = _frame_rows(project.events)
    longitudinal = bool(int(info.get("is_longitudinal", 1 if events else 0) or 0)) and bool(events)
    repeating = _frame_rows(project.repeating)

    out: list[str] = []
    write = out.append
    write('<?xml version="1.0" encoding="UTF-8" ?>\n')
    write(
        "<ODM"
        + _attributes(
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
    write(f'<Study OID="{_attr(study_oid)}">\n')
    _write_global_variables(
        write, info, title, longitudinal=longitudinal, repeating=repeating, dags=_frame_rows(project.dags)
    )
    write(
        f'<MetaDataVersion OID="{_attr(metadata_oid)}" Name="{_attr(title)}" redcap:RecordIdField="{_attr(layout.record_id)}">\n'
    )
    if longitudinal:
        repeating_events = {row.get("event_name", "") for row in repeating if not row.get("form_name", "")}
        _write_events(
            write, events, _frame_rows(project.arms), _frame_rows(project.form_event_mapping), repeating_events
        )
    labels = info.get("instrument_labels") if isinstance(info.get("instrument_labels"), dict) else {}
    _write_forms(write, layout, {form: str(labels.get(form) or _form_label(form)) for form in layout.forms})
    write("</MetaDataVersion>\n</Study>\n")
    if include_data:
        write(f'<ClinicalData StudyOID="{_attr(study_oid)}" MetaDataVersionOID="{_attr(metadata_oid)}">\n')
        _write_clinical_data(write, project, layout, longitudinal=longitudinal, repeating=repeating)
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
    write(f"\t<StudyName>{_text(title)}</StudyName>\n")
    write(
        f'\t<StudyDescription>This file contains the metadata, events, and data for REDCap project "{_text(title)}".</StudyDescription>\n'
    )
    write(f"\t<ProtocolName>{_text(title)}</ProtocolName>\n")
    for tag, key, default in _PROJECT_SETTINGS:
        value = info.get(key, default)
        write(f"\t<redcap:{tag}>{_text('' if value is None else value)}</redcap:{tag}>\n")
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
                write(f'\t\t<redcap:RepeatingEvent redcap:UniqueEventName="{_attr(event)}"/>\n')
                continue
            write("\t\t<redcap:RepeatingInstruments>\n")
            for row in forms:
                write(
                    "\t\t\t<redcap:RepeatingInstrument"
                    + _attributes(
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
                + _attributes(
                    [
                        ("group_name", row.get("data_access_group_name", "")),
                        ("unique_group_name", row.get("unique_group_name", "")),
                        ("data_access_group_id", row.get("data_access_group_id", "")),
                    ]
                )
                + "/>\n"
            )
        write("\t</redcap:DataAccessGroupsGroup>\n")
    write("</GlobalVariables>\n")


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
            f'\t\t<StudyEventRef StudyEventOID="Event.{_attr(event["unique_event_name"])}" OrderNumber="{number}" Mandatory="No"/>\n'
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
            + _attributes(
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
                f'\t\t<FormRef FormOID="Form.{_attr(form)}" OrderNumber="{number}" Mandatory="No" redcap:FormName="{_attr(form)}"/>\n'
            )
        write("\t</StudyEventDef>\n")


def _odm_data_type(field_type: str, validation: str) -> str:
    """ODM DataType of a field, as REDCap maps it."""
    if field_type == "text":
        if validation.startswith("datetime_seconds"):
            return "datetime"
        if validation.startswith("datetime"):
            return "partialDatetime"
        if validation.startswith("date"):
            return "date"
        if validation == "time":
            return "partialTime"
        if validation == "integer":
            return "integer"
        if validation == "number" or validation.startswith("number_"):
            return "float"
        return "text"
    return {
        "calc": "float",
        "checkbox": "boolean",
        "yesno": "boolean",
        "truefalse": "boolean",
        "slider": "integer",
    }.get(field_type, "text")


def _write_forms(write: Any, layout: _Layout, labels: dict[str, str]) -> None:
    groups = layout.item_groups(descriptive=True)
    by_column = {column: item for item in layout.fields for column in (item.columns or [item.name])}
    for form in layout.forms:
        write(
            f'\t<FormDef OID="Form.{_attr(form)}" Name="{_attr(labels[form])}" Repeating="No" redcap:FormName="{_attr(form)}">\n'
        )
        for oid, _ in groups[form]:
            write(f'\t\t<ItemGroupRef ItemGroupOID="{_attr(oid)}" Mandatory="No"/>\n')
        write("\t</FormDef>\n")
    for form in layout.forms:
        for oid, columns in groups[form]:
            # A group is named after its section header, else after its form; "Form Status" for <form>_complete.
            first = by_column.get(columns[0])
            if first is None:
                name = _FORM_STATUS
            else:
                name = first.section or labels[form]
            write(f'\t<ItemGroupDef OID="{_attr(oid)}" Name="{_attr(name)}" Repeating="No">\n')
            for column in columns:
                item = by_column.get(column)
                variable = item.name if item is not None else column
                mandatory = "Yes" if item is not None and item.spec["required_field"] == "y" else "No"
                write(
                    f'\t\t<ItemRef ItemOID="{_attr(column)}" Mandatory="{mandatory}" redcap:Variable="{_attr(variable)}"/>\n'
                )
            write("\t</ItemGroupDef>\n")
    code_lists: list[str] = []
    for form in layout.forms:
        for item in layout.fields:
            if item.form == form:
                for column in item.columns or [item.name]:
                    _write_item_def(write, code_lists, item, column)
        _write_form_status(write, code_lists, form)
    for code_list in code_lists:
        write(code_list)


def _write_item_def(write: Any, code_lists: list[str], item: _Field, column: str) -> None:
    spec = item.spec
    field_type = item.field_type
    validation = spec["text_validation_type_or_show_slider_number"]
    choices = spec["select_choices_or_calculations"]
    codes = parse_choices(choices) if field_type in _CHOICE_TYPES else []
    # REDCap's Length: 1 for a checkbox choice, the longest code for other choice fields, else 999.
    if field_type == "checkbox":
        length = 1
    elif field_type in _CHOICE_TYPES | {"yesno", "truefalse"}:
        length = max([1, *map(len, codes)])
    else:
        length = 999
    pairs: list[tuple[str, Any]] = [
        ("OID", column),
        ("Name", column),
        ("DataType", _odm_data_type(field_type, validation)),
        ("Length", length),
        ("redcap:Variable", item.name),
        ("redcap:FieldType", _TYPE_TO_XML.get(field_type, field_type)),
    ]
    if validation:
        pairs.append(
            (
                "redcap:TextValidationType",
                _VALIDATION_TO_XML.get(validation, validation) if field_type == "text" else validation,
            )
        )
    if field_type == "slider" and choices:
        pairs.append(("redcap:SliderLabels", choices))
    pairs.extend((f"redcap:{tag}", spec[key]) for key, tag in _ITEM_ATTRIBUTES if spec[key])
    if field_type == "calc":
        pairs.append(("redcap:Calculation", choices))
    pairs.extend((f"redcap:{tag}", "y") for key, tag in _ITEM_FLAGS if spec[key] == "y")
    if field_type == "text" and choices:  # BioPortal ontology search
        pairs.append(("redcap:OntologySearch", choices))
    pairs.extend((f"redcap:{tag}", spec[key]) for key, tag in _ITEM_OPTIONAL if spec[key])
    write("\t<ItemDef" + _attributes(pairs) + ">\n")
    label = spec["field_label"]
    plain = re.sub(r"<[^>]*>", "", label)
    formatted = (
        f"<redcap:FormattedTranslatedText>{_text(label)}</redcap:FormattedTranslatedText>" if plain != label else ""
    )
    write(f"\t\t<Question><TranslatedText>{_text(plain)}</TranslatedText>{formatted}</Question>\n")
    code_list = _code_list(item, column)
    if code_list:
        write(f'\t\t<CodeListRef CodeListOID="{_attr(column)}.choices"/>\n')
        code_lists.append(code_list)
    minimum, maximum = spec["text_validation_min"], spec["text_validation_max"]
    if minimum or maximum:
        message = (
            f"The value you provided is outside the suggested range. ({minimum or 'no limit'} - {maximum or 'no limit'}). "
            "This value is admissible, but you may wish to double check it."
        )
        for comparator, value in (("GE", minimum), ("LE", maximum)):
            if value:
                write(
                    f'\t\t<RangeCheck Comparator="{comparator}" SoftHard="Soft">\n\t\t\t<CheckValue>{_text(value)}</CheckValue>\n'
                    f"\t\t\t<ErrorMessage><TranslatedText>{_text(message)}</TranslatedText></ErrorMessage>\n\t\t</RangeCheck>\n"
                )
    write("\t</ItemDef>\n")


def _code_list(item: _Field, column: str) -> str:
    """The CodeList of one item ("" when it has none), as REDCap writes it."""
    field_type = item.field_type
    extra = ""
    if field_type == "checkbox":
        pairs = [("1", "Checked"), ("0", "Unchecked")]
        extra = f' redcap:CheckboxChoices="{_attr(item.spec["select_choices_or_calculations"])}"'
    elif field_type == "yesno":
        pairs = [("1", "Yes"), ("0", "No")]
    elif field_type == "truefalse":
        pairs = [("1", "True"), ("0", "False")]
    elif field_type in {"radio", "dropdown"}:
        pairs = []
        for part in item.spec["select_choices_or_calculations"].split("|"):
            code, _, label = part.strip().partition(",")
            if code.strip():
                pairs.append((code.strip(), label.strip()))
    else:
        return ""
    if not pairs:
        return ""
    data_type = _odm_data_type(field_type, item.spec["text_validation_type_or_show_slider_number"])
    lines = [
        f'\t<CodeList OID="{_attr(column)}.choices" Name="{_attr(column)}" DataType="{data_type}" redcap:Variable="{_attr(item.name)}"{extra}>\n'
    ]
    for code, label in pairs:
        lines.append(
            f'\t\t<CodeListItem CodedValue="{_attr(code)}"><Decode><TranslatedText>{_text(label)}</TranslatedText></Decode></CodeListItem>\n'
        )
    lines.append("\t</CodeList>\n")
    return "".join(lines)


def _write_form_status(write: Any, code_lists: list[str], form: str) -> None:
    name = f"{form}_complete"
    write(
        f'\t<ItemDef OID="{_attr(name)}" Name="{_attr(name)}" DataType="text" Length="1" redcap:Variable="{_attr(name)}"'
        f' redcap:FieldType="select" redcap:SectionHeader="{_FORM_STATUS}">\n'
        f"\t\t<Question><TranslatedText>Complete?</TranslatedText></Question>\n"
        f'\t\t<CodeListRef CodeListOID="{_attr(name)}.choices"/>\n\t</ItemDef>\n'
    )
    items = "".join(
        f'\t\t<CodeListItem CodedValue="{code}"><Decode><TranslatedText>{label}</TranslatedText></Decode></CodeListItem>\n'
        for code, label in _FORM_STATUS_CHOICES
    )
    code_lists.append(
        f'\t<CodeList OID="{_attr(name)}.choices" Name="{_attr(name)}" DataType="text" redcap:Variable="{_attr(name)}">\n{items}\t</CodeList>\n'
    )


def _write_clinical_data(
    write: Any, project: SandboxProject, layout: _Layout, *, longitudinal: bool, repeating: list[dict[str, str]]
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
    for row in _frame_rows(project.form_event_mapping):
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
        write(f'\t<SubjectData SubjectKey="{_attr(key)}" redcap:RecordIdField="{_attr(record_id)}">\n')
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
                    f'\t\t<StudyEventData StudyEventOID="Event.{_attr(event)}" StudyEventRepeatKey="{_attr(event_key[1])}"'
                    f' redcap:UniqueEventName="{_attr(event)}">\n'
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
                write(f'\t\t\t<FormData FormOID="Form.{_attr(form)}" FormRepeatKey="{_attr(form_key)}">\n')
                for oid, items in form_items.get(form, []):
                    data = [(item, values[index]) for index, item in items if values[index]]
                    if oid == record_group:
                        data[:0] = [(record_id, key)] + ([(DAG, dag)] if dag else [])
                    elif dag_elsewhere:
                        data.insert(0, (DAG, dag))
                        dag_elsewhere = False
                    if data:
                        write(f'\t\t\t\t<ItemGroupData ItemGroupOID="{_attr(oid)}" ItemGroupRepeatKey="1">\n')
                        write(
                            "".join(
                                f'\t\t\t\t\t<ItemData ItemOID="{_attr(item)}" Value="{_attr(value)}"/>\n'
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


# =============================================================================================
# Reading
# =============================================================================================
def _tag(name: str, namespace: str = ODM_NS) -> str:
    return f"{{{namespace}}}{name}"


def _rc(name: str) -> str:
    """A ``redcap:`` attribute or element name in ElementTree's notation."""
    return _tag(name, REDCAP_NS)


@dataclass
class _Parsed:
    """What the reader has gathered so far."""

    info: dict[str, Any] = field(default_factory=dict)
    repeating: list[dict[str, str]] = field(default_factory=list)
    dags: list[dict[str, str]] = field(default_factory=list)
    metadata: pd.DataFrame | None = None
    events: list[dict[str, str]] = field(default_factory=list)
    arms: list[dict[str, str]] = field(default_factory=list)
    mapping: list[dict[str, str]] = field(default_factory=list)


def project_from_xml(source: str | Path | bytes) -> SandboxProject:
    """Read REDCap's project XML into a project.

    Parameters
    ----------
    source : str, Path or bytes
        A project XML file (REDCap's "REDCap project XML" export, the API's
        ``content=project_xml``, or :func:`project_to_xml`'s output), or its bytes.

    Returns
    -------
    SandboxProject
        ``metadata`` with the API's 18 columns in field order (forms in file order);
        ``events``, ``arms``, ``form_event_mapping``, ``repeating`` and ``dags`` with the columns
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
    from proximite.cohort.sandbox.project import SandboxProject

    label, stream = _open(source)
    parsed = _Parsed()
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
    layout = _Layout.from_metadata(parsed.metadata)
    has_dags = bool(parsed.dags) or reader.saw_dag
    columns = _records_columns(layout, longitudinal=longitudinal, repeating=has_repeating, dags=has_dags)
    records = reader.frame(columns)
    repeating = (
        pd.DataFrame(parsed.repeating, columns=["event_name", "form_name", "custom_form_label"])
        if parsed.repeating
        else pd.DataFrame()
    )
    if has_repeating and not longitudinal:
        repeating["event_name"] = ""
    return SandboxProject(
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
        repeating=repeating,
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


def _parse(stream: IO[bytes], label: str, parsed: _Parsed, reader: _RecordsReader) -> None:
    """One streaming pass over the document: settings, metadata, then the records."""
    odm = _tag("ODM")
    global_variables, metadata_version = _tag("GlobalVariables"), _tag("MetaDataVersion")
    clinical_data, subject_data = _tag("ClinicalData"), _tag("SubjectData")
    study_event_data, form_data, item_data = _tag("StudyEventData"), _tag("FormData"), _tag("ItemData")
    dag_attribute, unique_event_attribute = _rc("DataAccessGroup"), _rc("UniqueEventName")
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
                layout = _Layout.from_metadata(parsed.metadata)
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
            _read_global_variables(element, parsed)
            element.clear()
        elif tag == metadata_version:
            _read_metadata_version(element, parsed, label)
            element.clear()


def _child_text(element: ET.Element, tag: str) -> str | None:
    child = element.find(tag)
    return None if child is None else (child.text or "")


def _read_global_variables(element: ET.Element, parsed: _Parsed) -> None:
    info = parsed.info
    title = _child_text(element, _tag("StudyName"))
    info["project_title"] = title if title is not None else ""
    for tag, key, _ in _PROJECT_SETTINGS:
        value = _child_text(element, _rc(tag))
        if value is None:
            continue
        info[key] = int(value) if key in _INTEGER_SETTINGS and value.strip().lstrip("-").isdigit() else value
    for item in element.iter():
        if item.tag == _rc("RepeatingInstrument"):
            parsed.repeating.append(
                {
                    "event_name": item.get(_rc("UniqueEventName"), ""),
                    "form_name": item.get(_rc("RepeatInstrument"), ""),
                    "custom_form_label": item.get(_rc("CustomLabel"), ""),
                }
            )
        elif item.tag == _rc("RepeatingEvent"):
            parsed.repeating.append(
                {"event_name": item.get(_rc("UniqueEventName"), ""), "form_name": "", "custom_form_label": ""}
            )
    for number, item in enumerate(element.iter(_rc("DataAccessGroups")), start=1):
        name = item.get("group_name", "")
        parsed.dags.append(
            {
                "data_access_group_name": name,
                "unique_group_name": item.get("unique_group_name") or _unique_group_name(name),
                "data_access_group_id": item.get("data_access_group_id") or str(number),
            }
        )


def _clean_name(name: str) -> str:
    """REDCap's clean-up of a name taken from an OID: lower case, letters, digits and underscores."""
    name = re.sub(r"[^0-9a-z_]", "", name.strip().lower().replace(" ", "_").replace(".", "_"))
    return name.strip("_")


#: Field types from ODM DataType when a file lacks redcap:FieldType (an ODM file not from REDCap).
_TYPE_FROM_DATA_TYPE = {
    "float": ("text", "number"),
    "integer": ("text", "integer"),
    "date": ("text", "date_ymd"),
    "datetime": ("text", "datetime_seconds_ymd"),
    "boolean": ("truefalse", ""),
}


def _read_metadata_version(element: ET.Element, parsed: _Parsed, label: str) -> None:
    variable = _rc("Variable")
    record_id = element.get(_rc("RecordIdField"), "")
    # Events: Protocol order, each with its forms (FormRef) and arm.
    definitions = {item.get("OID", ""): item for item in element.findall(_tag("StudyEventDef"))}
    arms: dict[str, str] = {}
    for reference in element.iterfind(f"{_tag('Protocol')}/{_tag('StudyEventRef')}"):
        definition = definitions.get(reference.get("StudyEventOID", ""))
        if definition is None:
            raise InputError(
                label,
                "missing element <StudyEventDef>",
                detail=f"<StudyEventRef> names {reference.get('StudyEventOID', '')!r}, which no <StudyEventDef> defines",
            )
        unique = definition.get(_rc("UniqueEventName")) or _clean_name(definition.get("OID", "").partition(".")[2])
        arm = definition.get(_rc("ArmNum"), "1") or "1"
        arms.setdefault(arm, definition.get(_rc("ArmName"), f"Arm {arm}"))
        parsed.events.append(
            {
                "event_name": definition.get(_rc("EventName"), definition.get("Name", "")),
                "arm_num": arm,
                "unique_event_name": unique,
                "custom_event_label": definition.get(_rc("CustomEventLabel"), ""),
                "day_offset": definition.get(_rc("DayOffset"), ""),
                "offset_min": definition.get(_rc("OffsetMin"), ""),
                "offset_max": definition.get(_rc("OffsetMax"), ""),
            }
        )
        for form_ref in definition.findall(_tag("FormRef")):
            form = form_ref.get(_rc("FormName")) or _clean_name(form_ref.get("FormOID", "").partition(".")[2])
            parsed.mapping.append({"arm_num": arm, "unique_event_name": unique, "form": form})
    parsed.arms = [{"arm_num": number, "name": name} for number, name in arms.items()]

    groups = {item.get("OID", ""): item for item in element.findall(_tag("ItemGroupDef"))}
    item_defs = {item.get("OID", ""): item for item in element.findall(_tag("ItemDef"))}
    code_lists = {item.get("OID", ""): item for item in element.findall(_tag("CodeList"))}
    form_defs = element.findall(_tag("FormDef"))
    if not form_defs:
        raise InputError(label, "missing element <FormDef>", detail="<MetaDataVersion> defines no form")
    forms = [
        form_def.get(_rc("FormName")) or _clean_name(form_def.get("OID", "").partition(".")[2])
        for form_def in form_defs
    ]
    # The forms' menu labels (what content=instrument exports) ride along in info.
    parsed.info["instrument_labels"] = {
        form: form_def.get("Name", "") or form for form, form_def in zip(forms, form_defs, strict=True)
    }
    reserved = {f"{form}_complete" for form in forms} | {f"{form}_timestamp" for form in forms}
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for form, form_def in zip(forms, form_defs, strict=True):
        for group_ref in form_def.findall(_tag("ItemGroupRef")):
            group = groups.get(group_ref.get("ItemGroupOID", ""))
            if group is None:
                raise InputError(
                    label,
                    "missing element <ItemGroupDef>",
                    detail=f"<FormDef> {form!r} names item group {group_ref.get('ItemGroupOID', '')!r}, which is not defined",
                )
            for item_ref in group.findall(_tag("ItemRef")):
                item_oid = item_ref.get("ItemOID", "")
                name = item_ref.get(variable) or _clean_name(item_oid)
                if name in seen or name in reserved or name.startswith("redcap_"):
                    continue
                item_def = item_defs.get(item_oid)
                if item_def is None:
                    raise InputError(
                        label,
                        "missing element <ItemDef>",
                        detail=f"<ItemRef> names item {item_oid!r}, which no <ItemDef> defines",
                    )
                seen.add(name)
                rows.append(_field_row(name, form, item_def, item_ref, code_lists))
    if not rows:
        raise InputError(label, "missing element <ItemDef>", detail="<MetaDataVersion> defines no field")
    if record_id and rows[0]["field_name"] != record_id:
        log.warning("%s: the record id field %r is not the first field", label, record_id)
    parsed.metadata = normalise_metadata(pd.DataFrame(rows), path=label)


def _field_row(
    name: str, form: str, item_def: ET.Element, item_ref: ET.Element, code_lists: dict[str, ET.Element]
) -> dict[str, str]:
    """One data dictionary row from an ItemDef (the first, for a checkbox)."""
    get = item_def.get
    xml_type = get(_rc("FieldType"))
    if xml_type is None:
        field_type, validation = _TYPE_FROM_DATA_TYPE.get(get("DataType", "text"), ("text", ""))
    else:
        field_type = _TYPE_FROM_XML.get(xml_type, xml_type)
        validation = get(_rc("TextValidationType"), "")
        if field_type == "text":
            validation = _VALIDATION_FROM_XML.get(validation, validation)
    question = item_def.find(_tag("Question"))
    label = ""
    if question is not None:
        formatted = question.find(_rc("FormattedTranslatedText"))
        plain = question.find(_tag("TranslatedText"))
        label = (formatted.text if formatted is not None else plain.text if plain is not None else "") or ""
    choices = ""
    code_list_ref = item_def.find(_tag("CodeListRef"))
    code_list = code_lists.get(code_list_ref.get("CodeListOID", "")) if code_list_ref is not None else None
    if code_list is not None and code_list.get(_rc("CheckboxChoices")) is not None:
        choices = code_list.get(_rc("CheckboxChoices"), "")
        field_type = "checkbox" if xml_type is None else field_type
    elif code_list is not None and field_type not in {"yesno", "truefalse"}:
        decode = f"{_tag('Decode')}/{_tag('TranslatedText')}"
        choices = " | ".join(
            f"{item.get('CodedValue', '')}, {item.findtext(decode, '')}"
            for item in code_list.findall(_tag("CodeListItem"))
        )
        if field_type not in _CHOICE_TYPES:
            field_type = "dropdown"
    for attribute in ("Calculation", "SliderLabels", "OntologySearch"):
        if get(_rc(attribute)):
            choices = get(_rc(attribute), "")
    minimum = maximum = ""
    for check in item_def.findall(_tag("RangeCheck")):
        value = check.findtext(_tag("CheckValue"), "") or ""
        if check.get("Comparator") in {"GE", "GT"}:
            minimum = value
        elif check.get("Comparator") in {"LE", "LT"}:
            maximum = value
    required = get(_rc("RequiredField"), "y" if item_ref.get("Mandatory", "").lower() == "yes" else "")
    return {
        "field_name": name,
        "form_name": form,
        "section_header": get(_rc("SectionHeader"), ""),
        "field_type": field_type,
        "field_label": label,
        "select_choices_or_calculations": choices,
        "field_note": get(_rc("FieldNote"), ""),
        "text_validation_type_or_show_slider_number": validation,
        "text_validation_min": minimum,
        "text_validation_max": maximum,
        "identifier": get(_rc("Identifier"), ""),
        "branching_logic": get(_rc("BranchingLogic"), ""),
        "required_field": required,
        "custom_alignment": get(_rc("CustomAlignment"), ""),
        "question_number": get(_rc("QuestionNumber"), ""),
        "matrix_group_name": get(_rc("MatrixGroupName"), ""),
        "matrix_ranking": get(_rc("MatrixRanking"), ""),
        "field_annotation": get(_rc("FieldAnnotation"), ""),
    }


# =============================================================================================
# The cohort's project
# =============================================================================================
def codebook_project(codebook: Codebook | None = None) -> SandboxProject:
    """The cohort's REDCap project from the codebook, without records.

    Parameters
    ----------
    codebook : Codebook, optional
        The codebook (default: :func:`~proximite.cohort.codebook.load_codebook`).

    Returns
    -------
    SandboxProject
        Metadata from ``data_dictionary``; events, arms, form–event mapping, repeating
        instruments and one data access group per default territory from the codebook; every
        table as strings; an empty records frame with the flat export's columns.
    """
    from proximite.cohort.codebook import load_codebook
    from proximite.cohort.sandbox.project import SandboxProject

    cb = codebook or load_codebook()
    metadata = normalise_metadata(cb.data_dictionary.astype(str), path="codebook data dictionary")
    layout = _Layout.from_metadata(metadata)
    dags = _strings(cb.dags())
    columns = _records_columns(layout, longitudinal=True, repeating=True, dags=not dags.empty)
    info = cb.project_info(
        notes="Projet de la cohorte Proximité, généré depuis le codebook (proximite codebook export --format redcap-xml)."
    )
    return SandboxProject(
        info=info,
        metadata=metadata,
        records=pd.DataFrame({column: pd.Series([], dtype=object) for column in columns}),
        events=_strings(cb.events),
        arms=_strings(cb.arms),
        form_event_mapping=_strings(cb.form_event_mapping),
        repeating=_strings(cb.repeating_forms_events),
        dags=dags,
        log=[],
    )


def _strings(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame with every cell a string, as the project's tables are."""
    return frame.astype(str).astype(object).reset_index(drop=True)


def write_codebook_project_xml(out: str | Path) -> Path:
    """Write the cohort's project (no data) as a REDCap project XML.

    Upload it in REDCap (New project → "Upload a REDCap project XML file") to create the
    project, its events, form–event mapping, repeating instruments and data access groups in
    one step.

    Parameters
    ----------
    out : str or Path
        The file to write (its folder is created).

    Returns
    -------
    Path
        The file written.

    Notes
    -----
    REDCap names a data access group's unique name after the group's name; the codebook's
    unique names (``t02_01`` ...) are kept in the file as an extra attribute that the sandbox
    reads back, but a project created in REDCap from this file gets REDCap's derived names.
    """
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(project_to_xml(codebook_project(), include_data=False))
    return path

"""REDCap's project XML, shared by the writer and the reader: namespaces, settings, layout, escaping.

A REDCap project XML ("Other export options → REDCap project XML", or the API's
``content=project_xml``) is CDISC ODM 1.3.1 with REDCap's ``redcap:`` extensions; see
:mod:`proximite.cohort.redcap.xml_write` for its layout.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from proximite.cohort.redcap.dictionary import DAG, EVENT, INSTANCE, INSTRUMENT, checkbox_column, parse_choices

#: The CDISC ODM 1.3 namespace (the default namespace of a REDCap project XML).
ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
#: REDCap's extension namespace (prefix ``redcap``).
REDCAP_NS = "https://projectredcap.org"


#: CreationDateTime when the project has no ``creation_time``: the file must not depend on the clock.
DEFAULT_CREATION = "2024-01-01T00:00:00"
#: Event of a classic (non-longitudinal) project, as REDCap names it in the repeating set-up.
CLASSIC_EVENT = "event_1_arm_1"

# Field types and validations: the API's names → REDCap's back-end names used in the XML.
TYPE_TO_XML = {"notes": "textarea", "dropdown": "select"}
TYPE_FROM_XML = {value: key for key, value in TYPE_TO_XML.items()}
VALIDATION_TO_XML = {"integer": "int", "number": "float"}
VALIDATION_FROM_XML = {value: key for key, value in VALIDATION_TO_XML.items()}
CHOICE_TYPES = {"radio", "dropdown", "checkbox", "sql"}

#: GlobalVariables elements (REDCap's order) ↔ keys of ``content=project``, with their defaults.
PROJECT_SETTINGS: tuple[tuple[str, str, Any], ...] = (
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
INTEGER_SETTINGS = {
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

#: Every key of REDCap 14's ``content=project`` answer, in its order, with the value a project read
#: from its XML gets when the file does not carry it (``project_id`` is set by
#: :func:`stable_project_id`; the XML's settings and structure fill the rest).
PROJECT_INFO_DEFAULTS: dict[str, Any] = {
    "project_id": 0,
    "project_title": "",
    "creation_time": "",
    "production_time": "",
    "in_production": 0,
    "project_language": "English",
    "purpose": 0,
    "purpose_other": "",
    "project_notes": "",
    "custom_record_label": "",
    "secondary_unique_field": "",
    "is_longitudinal": 0,
    "has_repeating_instruments_or_events": 0,
    "surveys_enabled": 0,
    "scheduling_enabled": 0,
    "record_autonumbering_enabled": 0,
    "randomization_enabled": 0,
    "ddp_enabled": 0,
    "project_irb_number": "",
    "project_grant_number": "",
    "project_pi_firstname": "",
    "project_pi_lastname": "",
    "display_today_now_button": 1,
    "missing_data_codes": "",
    "external_modules": "",
    "bypass_branching_erase_field_prompt": 0,
}
#: The survey columns of a flat export (``exportSurveyFields``): one per record, one per survey form.
SURVEY_IDENTIFIER = "redcap_survey_identifier"
#: ``project_id`` of a project read from XML lies in ``[_PROJECT_ID_BASE, _PROJECT_ID_BASE + _PROJECT_ID_SPAN)``.
_PROJECT_ID_BASE, _PROJECT_ID_SPAN = 10_000, 90_000


def stable_project_id(title: str) -> int:
    """A project id for a project read from its XML, which carries none: the same title, the same id.

    Notes
    -----
    REDCap numbers projects per server and leaves the number out of the project XML. The id is
    derived from the study OID (:func:`redcap_study_oid` of the title, as the file's
    ``Study OID="Project.…"`` names it):

    .. math:: \\text{id} = 10\\,000 + (\\text{first 8 bytes of SHA-256(OID)} \\bmod 90\\,000)

    so a rehearsal sandbox restarted from the same file reports the same project, and the pull's
    incremental state (which remembers the project id) carries over.
    """
    digest = hashlib.sha256(redcap_study_oid(title).encode("utf-8")).digest()
    return _PROJECT_ID_BASE + int.from_bytes(digest[:8], "big") % _PROJECT_ID_SPAN


def survey_timestamp(form: str) -> str:
    """The column of a survey form's completion time in a flat export."""
    return f"{form}_timestamp"


#: ItemDef attributes from metadata columns, in the order REDCap writes them.
ITEM_ATTRIBUTES = (
    ("field_note", "FieldNote"),
    ("section_header", "SectionHeader"),
)
ITEM_FLAGS = (("identifier", "Identifier"), ("required_field", "RequiredField"), ("matrix_ranking", "MatrixRanking"))
ITEM_OPTIONAL = (
    ("branching_logic", "BranchingLogic"),
    ("custom_alignment", "CustomAlignment"),
    ("question_number", "QuestionNumber"),
    ("matrix_group_name", "MatrixGroupName"),
    ("field_annotation", "FieldAnnotation"),
)
FORM_STATUS = "Form Status"
FORM_STATUS_CHOICES = (("0", "Incomplete"), ("1", "Unverified"), ("2", "Complete"))

# Characters XML 1.0 cannot carry, even as references (REDCap strips them too).
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ATTRIBUTE_SPECIAL = re.compile('[&<>"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')
# Line breaks and tabs as references, so that a parser gives them back instead of spaces.
_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def xml_attr(value: Any) -> str:
    """A value escaped for a double-quoted attribute."""
    text = str(value)
    if _ATTRIBUTE_SPECIAL.search(text) is None:  # the common case: nothing to escape
        return text
    return _ILLEGAL_XML.sub("", text).translate(_ATTRIBUTE_ESCAPES)


def xml_text(value: Any) -> str:
    return _ILLEGAL_XML.sub("", str(value)).translate(_TEXT_ESCAPES)


def xml_attributes(pairs: Iterable[tuple[str, Any]]) -> str:
    return "".join(f' {name}="{xml_attr(value)}"' for name, value in pairs)


@dataclass
class LayoutField:
    """One field of the data dictionary, with the columns it exports."""

    name: str
    form: str
    field_type: str
    section: str
    columns: list[str]  # export columns: the field, or one per checkbox choice
    spec: dict[str, str]


@dataclass
class ProjectLayout:
    """Forms, fields and export columns of a project, from its data dictionary."""

    record_id: str
    forms: list[str]
    fields: list[LayoutField]

    @classmethod
    def from_metadata(cls, metadata: pd.DataFrame) -> ProjectLayout:
        fields: list[LayoutField] = []
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
            fields.append(LayoutField(name, form, field_type, spec["section_header"], columns, spec))
        return cls(record_id=fields[0].name, forms=forms, fields=fields)

    def export_columns(self) -> list[str]:
        """Field columns of a flat export after the key columns: each form's fields, then ``<form>_complete``."""
        return [column for form in self.forms for column in self.form_columns(form)]

    def form_columns(self, form: str) -> list[str]:
        """A form's columns in a flat export: its fields (checkboxes expanded), then ``<form>_complete``."""
        columns: list[str] = []
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


def records_columns(
    layout: ProjectLayout, *, longitudinal: bool, repeating: bool, dags: bool, survey_forms: Sequence[str] = ()
) -> list[str]:
    """The columns of a flat records export (``docs/data-layout.md``).

    With ``survey_forms``, REDCap's survey columns as ``exportSurveyFields`` writes them:
    ``redcap_survey_identifier`` after the key columns, and ``<form>_timestamp`` before each
    survey form's fields.
    """
    columns = [layout.record_id]
    if longitudinal:
        columns.append(EVENT)
    if repeating:
        columns.extend([INSTRUMENT, INSTANCE])
    if dags:
        columns.append(DAG)
    if not survey_forms:
        return columns + layout.export_columns()
    columns.append(SURVEY_IDENTIFIER)
    for form in layout.forms:
        if form in survey_forms:
            columns.append(survey_timestamp(form))
        columns.extend(layout.form_columns(form))
    return columns


def redcap_study_oid(title: str) -> str:
    """REDCap's study OID: the title's letters and digits, words capitalised, 30 characters at most."""
    words = re.sub(r"[^a-zA-Z0-9 ]", "", title).split(" ")
    return "".join(word[:1].upper() + word[1:] for word in words)[:30] or "Project"


def form_label(form: str) -> str:
    """A form's menu label when the project has none (``info["instrument_labels"]``): from its name."""
    return form.replace("_", " ").capitalize()


def unique_group_name(name: str) -> str:
    """The unique name REDCap derives from a data access group's name."""
    unique = re.sub(r"[^a-z0-9_]", "", name.strip().lower().replace(" ", "_"))[:18]
    return unique.strip("_") or "dag"


def frame_rows(frame: pd.DataFrame | None) -> list[dict[str, str]]:
    if frame is None or frame.empty:
        return []
    return [
        {str(key): "" if pd.isna(value) else str(value) for key, value in row.items()}
        for row in frame.to_dict("records")
    ]


# =============================================================================================
# Writing

"""REDCap's project XML, read: the project settings (``GlobalVariables``) and its metadata.

The metadata (``MetaDataVersion``) gives the events, arms, form–event mapping and the data
dictionary (one ``ItemDef`` per field, one per checkbox choice).
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from proximite.cohort.redcap.dictionary import normalise_metadata
from proximite.cohort.redcap.xml_layout import (
    CHOICE_TYPES,
    INTEGER_SETTINGS,
    ODM_NS,
    PROJECT_SETTINGS,
    REDCAP_NS,
    TYPE_FROM_XML,
    VALIDATION_FROM_XML,
    unique_group_name,
)
from proximite.errors import InputError

__all__ = ["ParsedProject", "odm_tag", "read_global_variables", "read_metadata_version", "redcap_tag"]

log = logging.getLogger(__name__)


def odm_tag(name: str, namespace: str = ODM_NS) -> str:
    return f"{{{namespace}}}{name}"


def redcap_tag(name: str) -> str:
    """A ``redcap:`` attribute or element name in ElementTree's notation."""
    return odm_tag(name, REDCAP_NS)


@dataclass
class ParsedProject:
    """What the reader has gathered so far."""

    info: dict[str, Any] = field(default_factory=dict)
    repeating: list[dict[str, str]] = field(default_factory=list)
    dags: list[dict[str, str]] = field(default_factory=list)
    metadata: pd.DataFrame | None = None
    events: list[dict[str, str]] = field(default_factory=list)
    arms: list[dict[str, str]] = field(default_factory=list)
    mapping: list[dict[str, str]] = field(default_factory=list)
    #: Forms enabled as surveys (``redcap:SurveysGroup``), in file order.
    surveys: list[str] = field(default_factory=list)


def _child_text(element: ET.Element, tag: str) -> str | None:
    child = element.find(tag)
    return None if child is None else (child.text or "")


def read_global_variables(element: ET.Element, parsed: ParsedProject) -> None:
    info = parsed.info
    title = _child_text(element, odm_tag("StudyName"))
    info["project_title"] = title if title is not None else ""
    for tag, key, _ in PROJECT_SETTINGS:
        value = _child_text(element, redcap_tag(tag))
        if value is None:
            continue
        info[key] = int(value) if key in INTEGER_SETTINGS and value.strip().lstrip("-").isdigit() else value
    for item in element.iter():
        if item.tag == redcap_tag("RepeatingInstrument"):
            parsed.repeating.append(
                {
                    "event_name": item.get(redcap_tag("UniqueEventName"), ""),
                    "form_name": item.get(redcap_tag("RepeatInstrument"), ""),
                    "custom_form_label": item.get(redcap_tag("CustomLabel"), ""),
                }
            )
        elif item.tag == redcap_tag("RepeatingEvent"):
            parsed.repeating.append(
                {"event_name": item.get(redcap_tag("UniqueEventName"), ""), "form_name": "", "custom_form_label": ""}
            )
    for item in element.iter(redcap_tag("Surveys")):
        form = item.get("form_name", "")
        if form and form not in parsed.surveys:
            parsed.surveys.append(form)
    for number, item in enumerate(element.iter(redcap_tag("DataAccessGroups")), start=1):
        name = item.get("group_name", "")
        parsed.dags.append(
            {
                "data_access_group_name": name,
                "unique_group_name": item.get("unique_group_name") or unique_group_name(name),
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


def read_metadata_version(element: ET.Element, parsed: ParsedProject, label: str) -> None:
    variable = redcap_tag("Variable")
    record_id = element.get(redcap_tag("RecordIdField"), "")
    # Events: Protocol order, each with its forms (FormRef) and arm.
    definitions = {item.get("OID", ""): item for item in element.findall(odm_tag("StudyEventDef"))}
    arms: dict[str, str] = {}
    for reference in element.iterfind(f"{odm_tag('Protocol')}/{odm_tag('StudyEventRef')}"):
        definition = definitions.get(reference.get("StudyEventOID", ""))
        if definition is None:
            raise InputError(
                label,
                "missing element <StudyEventDef>",
                detail=f"<StudyEventRef> names {reference.get('StudyEventOID', '')!r}, which no <StudyEventDef> defines",
            )
        unique = definition.get(redcap_tag("UniqueEventName")) or _clean_name(definition.get("OID", "").partition(".")[2])
        arm = definition.get(redcap_tag("ArmNum"), "1") or "1"
        arms.setdefault(arm, definition.get(redcap_tag("ArmName"), f"Arm {arm}"))
        parsed.events.append(
            {
                "event_name": definition.get(redcap_tag("EventName"), definition.get("Name", "")),
                "arm_num": arm,
                "unique_event_name": unique,
                "custom_event_label": definition.get(redcap_tag("CustomEventLabel"), ""),
                "day_offset": definition.get(redcap_tag("DayOffset"), ""),
                "offset_min": definition.get(redcap_tag("OffsetMin"), ""),
                "offset_max": definition.get(redcap_tag("OffsetMax"), ""),
            }
        )
        for form_ref in definition.findall(odm_tag("FormRef")):
            form = form_ref.get(redcap_tag("FormName")) or _clean_name(form_ref.get("FormOID", "").partition(".")[2])
            parsed.mapping.append({"arm_num": arm, "unique_event_name": unique, "form": form})
    parsed.arms = [{"arm_num": number, "name": name} for number, name in arms.items()]

    groups = {item.get("OID", ""): item for item in element.findall(odm_tag("ItemGroupDef"))}
    item_defs = {item.get("OID", ""): item for item in element.findall(odm_tag("ItemDef"))}
    code_lists = {item.get("OID", ""): item for item in element.findall(odm_tag("CodeList"))}
    form_defs = element.findall(odm_tag("FormDef"))
    if not form_defs:
        raise InputError(label, "missing element <FormDef>", detail="<MetaDataVersion> defines no form")
    forms = [
        form_def.get(redcap_tag("FormName")) or _clean_name(form_def.get("OID", "").partition(".")[2])
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
        for group_ref in form_def.findall(odm_tag("ItemGroupRef")):
            group = groups.get(group_ref.get("ItemGroupOID", ""))
            if group is None:
                raise InputError(
                    label,
                    "missing element <ItemGroupDef>",
                    detail=f"<FormDef> {form!r} names item group {group_ref.get('ItemGroupOID', '')!r}, which is not defined",
                )
            for item_ref in group.findall(odm_tag("ItemRef")):
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
    xml_type = get(redcap_tag("FieldType"))
    if xml_type is None:
        field_type, validation = _TYPE_FROM_DATA_TYPE.get(get("DataType", "text"), ("text", ""))
    else:
        field_type = TYPE_FROM_XML.get(xml_type, xml_type)
        validation = get(redcap_tag("TextValidationType"), "")
        if field_type == "text":
            validation = VALIDATION_FROM_XML.get(validation, validation)
    question = item_def.find(odm_tag("Question"))
    label = ""
    if question is not None:
        formatted = question.find(redcap_tag("FormattedTranslatedText"))
        plain = question.find(odm_tag("TranslatedText"))
        label = (formatted.text if formatted is not None else plain.text if plain is not None else "") or ""
    choices = ""
    code_list_ref = item_def.find(odm_tag("CodeListRef"))
    code_list = code_lists.get(code_list_ref.get("CodeListOID", "")) if code_list_ref is not None else None
    if code_list is not None and code_list.get(redcap_tag("CheckboxChoices")) is not None:
        choices = code_list.get(redcap_tag("CheckboxChoices"), "")
        field_type = "checkbox" if xml_type is None else field_type
    elif code_list is not None and field_type not in {"yesno", "truefalse"}:
        decode = f"{odm_tag('Decode')}/{odm_tag('TranslatedText')}"
        choices = " | ".join(
            f"{item.get('CodedValue', '')}, {item.findtext(decode, '')}"
            for item in code_list.findall(odm_tag("CodeListItem"))
        )
        if field_type not in CHOICE_TYPES:
            field_type = "dropdown"
    for attribute in ("Calculation", "SliderLabels", "OntologySearch"):
        if get(redcap_tag(attribute)):
            choices = get(redcap_tag(attribute), "")
    minimum = maximum = ""
    for check in item_def.findall(odm_tag("RangeCheck")):
        value = check.findtext(odm_tag("CheckValue"), "") or ""
        if check.get("Comparator") in {"GE", "GT"}:
            minimum = value
        elif check.get("Comparator") in {"LE", "LT"}:
            maximum = value
    required = get(redcap_tag("RequiredField"), "y" if item_ref.get("Mandatory", "").lower() == "yes" else "")
    return {
        "field_name": name,
        "form_name": form,
        "section_header": get(redcap_tag("SectionHeader"), ""),
        "field_type": field_type,
        "field_label": label,
        "select_choices_or_calculations": choices,
        "field_note": get(redcap_tag("FieldNote"), ""),
        "text_validation_type_or_show_slider_number": validation,
        "text_validation_min": minimum,
        "text_validation_max": maximum,
        "identifier": get(redcap_tag("Identifier"), ""),
        "branching_logic": get(redcap_tag("BranchingLogic"), ""),
        "required_field": required,
        "custom_alignment": get(redcap_tag("CustomAlignment"), ""),
        "question_number": get(redcap_tag("QuestionNumber"), ""),
        "matrix_group_name": get(redcap_tag("MatrixGroupName"), ""),
        "matrix_ranking": get(redcap_tag("MatrixRanking"), ""),
        "field_annotation": get(redcap_tag("FieldAnnotation"), ""),
    }


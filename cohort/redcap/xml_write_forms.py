"""REDCap's project XML, written: the forms (``FormDef``), their sections, fields and choices."""

from __future__ import annotations

import re
from typing import Any

from proximite.cohort.redcap.dictionary import parse_choices
from proximite.cohort.redcap.xml_layout import (
    CHOICE_TYPES,
    FORM_STATUS,
    FORM_STATUS_CHOICES,
    ITEM_ATTRIBUTES,
    ITEM_FLAGS,
    ITEM_OPTIONAL,
    TYPE_TO_XML,
    VALIDATION_TO_XML,
    LayoutField,
    ProjectLayout,
    xml_attr,
    xml_attributes,
    xml_text,
)

__all__ = ["write_forms"]


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


def write_forms(write: Any, layout: ProjectLayout, labels: dict[str, str]) -> None:
    groups = layout.item_groups(descriptive=True)
    by_column = {column: item for item in layout.fields for column in (item.columns or [item.name])}
    for form in layout.forms:
        write(
            f'\t<FormDef OID="Form.{xml_attr(form)}" Name="{xml_attr(labels[form])}" Repeating="No" redcap:FormName="{xml_attr(form)}">\n'
        )
        for oid, _ in groups[form]:
            write(f'\t\t<ItemGroupRef ItemGroupOID="{xml_attr(oid)}" Mandatory="No"/>\n')
        write("\t</FormDef>\n")
    for form in layout.forms:
        for oid, columns in groups[form]:
            # A group is named after its section header, else after its form; "Form Status" for <form>_complete.
            first = by_column.get(columns[0])
            if first is None:
                name = FORM_STATUS
            else:
                name = first.section or labels[form]
            write(f'\t<ItemGroupDef OID="{xml_attr(oid)}" Name="{xml_attr(name)}" Repeating="No">\n')
            for column in columns:
                item = by_column.get(column)
                variable = item.name if item is not None else column
                mandatory = "Yes" if item is not None and item.spec["required_field"] == "y" else "No"
                write(
                    f'\t\t<ItemRef ItemOID="{xml_attr(column)}" Mandatory="{mandatory}" redcap:Variable="{xml_attr(variable)}"/>\n'
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


def _write_item_def(write: Any, code_lists: list[str], item: LayoutField, column: str) -> None:
    spec = item.spec
    field_type = item.field_type
    validation = spec["text_validation_type_or_show_slider_number"]
    choices = spec["select_choices_or_calculations"]
    codes = parse_choices(choices) if field_type in CHOICE_TYPES else []
    # REDCap's Length: 1 for a checkbox choice, the longest code for other choice fields, else 999.
    if field_type == "checkbox":
        length = 1
    elif field_type in CHOICE_TYPES | {"yesno", "truefalse"}:
        length = max([1, *map(len, codes)])
    else:
        length = 999
    pairs: list[tuple[str, Any]] = [
        ("OID", column),
        ("Name", column),
        ("DataType", _odm_data_type(field_type, validation)),
        ("Length", length),
        ("redcap:Variable", item.name),
        ("redcap:FieldType", TYPE_TO_XML.get(field_type, field_type)),
    ]
    if validation:
        pairs.append(
            (
                "redcap:TextValidationType",
                VALIDATION_TO_XML.get(validation, validation) if field_type == "text" else validation,
            )
        )
    if field_type == "slider" and choices:
        pairs.append(("redcap:SliderLabels", choices))
    pairs.extend((f"redcap:{tag}", spec[key]) for key, tag in ITEM_ATTRIBUTES if spec[key])
    if field_type == "calc":
        pairs.append(("redcap:Calculation", choices))
    pairs.extend((f"redcap:{tag}", "y") for key, tag in ITEM_FLAGS if spec[key] == "y")
    if field_type == "text" and choices:  # BioPortal ontology search
        pairs.append(("redcap:OntologySearch", choices))
    pairs.extend((f"redcap:{tag}", spec[key]) for key, tag in ITEM_OPTIONAL if spec[key])
    write("\t<ItemDef" + xml_attributes(pairs) + ">\n")
    label = spec["field_label"]
    plain = re.sub(r"<[^>]*>", "", label)
    formatted = (
        f"<redcap:FormattedTranslatedText>{xml_text(label)}</redcap:FormattedTranslatedText>" if plain != label else ""
    )
    write(f"\t\t<Question><TranslatedText>{xml_text(plain)}</TranslatedText>{formatted}</Question>\n")
    code_list = _code_list(item, column)
    if code_list:
        write(f'\t\t<CodeListRef CodeListOID="{xml_attr(column)}.choices"/>\n')
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
                    f'\t\t<RangeCheck Comparator="{comparator}" SoftHard="Soft">\n\t\t\t<CheckValue>{xml_text(value)}</CheckValue>\n'
                    f"\t\t\t<ErrorMessage><TranslatedText>{xml_text(message)}</TranslatedText></ErrorMessage>\n\t\t</RangeCheck>\n"
                )
    write("\t</ItemDef>\n")


def _code_list(item: LayoutField, column: str) -> str:
    """The CodeList of one item ("" when it has none), as REDCap writes it."""
    field_type = item.field_type
    extra = ""
    if field_type == "checkbox":
        pairs = [("1", "Checked"), ("0", "Unchecked")]
        extra = f' redcap:CheckboxChoices="{xml_attr(item.spec["select_choices_or_calculations"])}"'
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
        f'\t<CodeList OID="{xml_attr(column)}.choices" Name="{xml_attr(column)}" DataType="{data_type}" redcap:Variable="{xml_attr(item.name)}"{extra}>\n'
    ]
    for code, label in pairs:
        lines.append(
            f'\t\t<CodeListItem CodedValue="{xml_attr(code)}"><Decode><TranslatedText>{xml_text(label)}</TranslatedText></Decode></CodeListItem>\n'
        )
    lines.append("\t</CodeList>\n")
    return "".join(lines)


def _write_form_status(write: Any, code_lists: list[str], form: str) -> None:
    name = f"{form}_complete"
    write(
        f'\t<ItemDef OID="{xml_attr(name)}" Name="{xml_attr(name)}" DataType="text" Length="1" redcap:Variable="{xml_attr(name)}"'
        f' redcap:FieldType="select" redcap:SectionHeader="{FORM_STATUS}">\n'
        f"\t\t<Question><TranslatedText>Complete?</TranslatedText></Question>\n"
        f'\t\t<CodeListRef CodeListOID="{xml_attr(name)}.choices"/>\n\t</ItemDef>\n'
    )
    items = "".join(
        f'\t\t<CodeListItem CodedValue="{code}"><Decode><TranslatedText>{label}</TranslatedText></Decode></CodeListItem>\n'
        for code, label in FORM_STATUS_CHOICES
    )
    code_lists.append(
        f'\t<CodeList OID="{xml_attr(name)}.choices" Name="{xml_attr(name)}" DataType="text" redcap:Variable="{xml_attr(name)}">\n{items}\t</CodeList>\n'
    )



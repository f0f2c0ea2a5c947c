"""The codebook in REDCap's layouts: metadata columns, data dictionary, events, project, DAGs.

The frames are those REDCap's API exports; :class:`~proximite.cohort.codebook.Codebook` gives them
as properties (``cb.data_dictionary``, ``cb.events`` ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = [
    "REDCAP_DICTIONARY_HEADERS",
    "REDCAP_METADATA_COLUMNS",
    "arms_frame",
    "dags_frame",
    "data_dictionary_frame",
    "events_frame",
    "fields_frame",
    "form_event_mapping_frame",
    "project_info",
    "repeating_forms_frame",
    "form_export_columns",
]

#: The 18 columns of REDCap's metadata, as the API exports them.
REDCAP_METADATA_COLUMNS = [
    "field_name",
    "form_name",
    "section_header",
    "field_type",
    "field_label",
    "select_choices_or_calculations",
    "field_note",
    "text_validation_type_or_show_slider_number",
    "text_validation_min",
    "text_validation_max",
    "identifier",
    "branching_logic",
    "required_field",
    "custom_alignment",
    "question_number",
    "matrix_group_name",
    "matrix_ranking",
    "field_annotation",
]

#: The same 18 columns as headed in a data dictionary CSV downloaded from REDCap's UI.
REDCAP_DICTIONARY_HEADERS = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
]


def fields_frame(forms: dict[str, dict[str, dict[str, Any]]]) -> pd.DataFrame:
    """One row per REDCap field of ``forms`` (``forms.yaml``), with the codebook's extra keys.

    Columns: field_name, form_name, field_type, label (French), label_en, enum, validation,
    identifier, required, target_table, target_column, branching.
    """
    rows = []
    for form, fields in forms.items():
        for name, spec in fields.items():
            target = spec.get("target", "")
            table, _, column = target.partition(".")
            rows.append(
                {
                    "field_name": name,
                    "form_name": form,
                    "field_type": spec["type"],
                    "label": spec["label"],
                    "label_en": spec.get("label_en", ""),
                    "enum": spec.get("enum", "yesno" if spec["type"] == "yesno" else ""),
                    "validation": spec.get("validation", ""),
                    "identifier": bool(spec.get("identifier", False)),
                    "required": bool(spec.get("required", False)),
                    "target_table": table,
                    "target_column": column,
                    "branching": spec.get("branching", ""),
                }
            )
    return pd.DataFrame(rows)


def form_export_columns(codebook: Codebook, form: str) -> list[str]:
    """Columns a REDCap flat export gives for a form: checkboxes expanded, then ``<form>_complete``.

    ``codebook`` is the cohort's codebook or a questionnaire
    (:class:`~proximite.cohort.codebook.survey_projects.SurveyProject`): anything with ``forms`` and
    ``enumeration``.
    """
    columns: list[str] = []
    for name, spec in codebook.forms[form].items():
        if spec["type"] == "checkbox":
            columns.extend(f"{name}___{code}" for code in codebook.enumeration(spec["enum"]))
        else:
            columns.append(name)
    columns.append(f"{form}_complete")
    return columns


def data_dictionary_frame(codebook: Codebook) -> pd.DataFrame:
    """The REDCap data dictionary (metadata) with the API's 18 column names."""
    rows = []
    for form, fields in codebook.forms.items():
        for name, spec in fields.items():
            choices = ""
            if spec["type"] in {"dropdown", "radio", "checkbox"}:
                choices = " | ".join(
                    f"{code}, {label.fr}" for code, label in codebook.enumeration(spec["enum"]).items()
                )
            annotation = f"harmonise: {spec['target']}" if "target" in spec else ""
            if spec.get("identifier"):
                annotation = "@IDENTIFIER reste dans REDCap (couche 01)"
            rows.append(
                {
                    "field_name": name,
                    "form_name": form,
                    "section_header": spec.get("section", ""),
                    "field_type": spec["type"],
                    "field_label": spec["label"],
                    "select_choices_or_calculations": choices,
                    "field_note": spec.get("note", ""),
                    "text_validation_type_or_show_slider_number": spec.get("validation", ""),
                    "text_validation_min": str(spec.get("min", "")),
                    "text_validation_max": str(spec.get("max", "")),
                    "identifier": "y" if spec.get("identifier") else "",
                    "branching_logic": spec.get("branching", ""),
                    "required_field": "y" if spec.get("required") else "",
                    "custom_alignment": "",
                    "question_number": "",
                    "matrix_group_name": spec.get("matrix", ""),
                    "matrix_ranking": "",
                    "field_annotation": annotation,
                }
            )
    return pd.DataFrame(rows, columns=REDCAP_METADATA_COLUMNS)


def events_frame(project: dict[str, Any]) -> pd.DataFrame:
    """Events as REDCap's API exports them (plus the day offsets used to create them)."""
    arm = project["arm"]["arm_num"]
    rows = [
        {
            "event_name": event["name"],
            "arm_num": arm,
            "unique_event_name": event["unique"],
            "custom_event_label": "",
            "day_offset": event.get("day_offset", 0),
            "offset_min": event.get("offset_min", 0),
            "offset_max": event.get("offset_max", 0),
        }
        for event in project["events"]
    ]
    return pd.DataFrame(rows)


def arms_frame(project: dict[str, Any]) -> pd.DataFrame:
    """The project's arm as REDCap's API exports it."""
    arm = project["arm"]
    return pd.DataFrame([{"arm_num": arm["arm_num"], "name": arm["name"]}])


def form_event_mapping_frame(project: dict[str, Any]) -> pd.DataFrame:
    """Which form is collected at which event, as REDCap's API exports it."""
    arm = project["arm"]["arm_num"]
    rows = [
        {"arm_num": arm, "unique_event_name": event["unique"], "form": form}
        for event in project["events"]
        for form in event["forms"]
    ]
    return pd.DataFrame(rows)


def repeating_forms_frame(project: dict[str, Any]) -> pd.DataFrame:
    """The repeating instruments, as REDCap's API exports them."""
    rows = [
        {"event_name": item["event"], "form_name": item["form"], "custom_form_label": item.get("label", "")}
        for item in project["repeating"]
    ]
    return pd.DataFrame(rows)


def project_info(project: dict[str, Any], *, notes: str = "", surveys: bool = False) -> dict[str, Any]:
    """The project's information as REDCap's ``content=project`` exports it.

    Parameters
    ----------
    project : dict
        The ``project`` section of ``forms.yaml`` (or of a questionnaire of ``surveys.yaml``).
    notes : str, keyword-only
        The ``project_notes`` text (who made this copy of the project, and how).
    surveys : bool, keyword-only
        Whether the project's forms are surveys (the yearly questionnaires).
    """
    return {
        "project_id": 1,
        "project_title": project["title"],
        "creation_time": "2023-11-15 09:00:00",
        "production_time": "2024-01-01 00:00:00",
        "in_production": 1,
        "project_language": "French",
        "purpose": 2,
        "purpose_other": project["purpose_other"],
        "project_notes": notes,
        "custom_record_label": "",
        "secondary_unique_field": "",
        "is_longitudinal": 1,
        "has_repeating_instruments_or_events": int(bool(project.get("repeating"))),
        "surveys_enabled": int(surveys),
        "scheduling_enabled": 0,
        "record_autonumbering_enabled": 1,
        "randomization_enabled": 0,
        "ddp_enabled": 0,
        "project_irb_number": "",
        "project_grant_number": "",
        "project_pi_firstname": "",
        "project_pi_lastname": "",
        "display_today_now_button": 1,
        "missing_data_codes": project["missing_data_codes"],
        "external_modules": "",
        "bypass_branching_erase_field_prompt": 0,
    }


def dags_frame(territories: pd.DataFrame) -> pd.DataFrame:
    """Data access groups, one per territory, as REDCap's API exports them.

    Each group is named by its territory's ``redcap_dag`` code: REDCap derives a group's
    unique name from its name, so a project created from these files (or from the project
    XML) gets exactly the unique names that map back to territories.
    """
    return pd.DataFrame(
        {
            "data_access_group_name": territories["redcap_dag"].to_numpy(),
            "unique_group_name": territories["redcap_dag"].to_numpy(),
            "data_access_group_id": range(1, len(territories) + 1),
        }
    )

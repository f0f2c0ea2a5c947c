"""The yearly questionnaires (``surveys.yaml``): two REDCap survey projects beside the cohort's.

A :class:`SurveyProject` gives a questionnaire's REDCap layout with the same names the
:class:`~proximite.cohort.codebook.Codebook` gives the cohort's (``fields``, ``data_dictionary``,
``events``, ``arms``, ``form_event_mapping``, ``repeating_forms_events``, ``dags()``,
``project_info()``, ``export_columns()``), so the REDCap code (project model, project XML,
staging, validation rules) reads either one. Codes and the harmonised tables stay the
codebook's: :meth:`SurveyProject.enumeration`, :meth:`SurveyProject.columns`.

Each project is longitudinal with one event per survey year: ``years: [2024, 2025]`` becomes
the events ``Annee 2024`` (``annee_2024_arm_1``) and ``Annee 2025``, each collecting
``forms_each_year``; the forms of ``repeating`` repeat at every year's event.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

from proximite.cohort.codebook.labels import CodebookError, Label
from proximite.cohort.codebook.redcap_layout import (
    arms_frame,
    dags_frame,
    data_dictionary_frame,
    events_frame,
    fields_frame,
    form_event_mapping_frame,
    form_export_columns,
    project_info,
    repeating_forms_frame,
)

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = ["SURVEY_SOURCES", "SurveyProject", "expand_years", "load_surveys", "year_event"]

#: The questionnaires, by data-layer source name (also their input folder).
SURVEY_SOURCES = ("partner_survey", "staff_survey")


def year_event(year: int, arm: int = 1) -> str:
    """The unique event name of a survey year (``annee_2024_arm_1``), as REDCap derives it."""
    return f"annee_{int(year)}_arm_{int(arm)}"


def expand_years(project: dict[str, Any]) -> dict[str, Any]:
    """A questionnaire's ``project`` section with its years expanded into events and repeating forms.

    Parameters
    ----------
    project : dict
        The ``project`` section of ``surveys.yaml`` (``years``, ``forms_each_year``, ``repeating``).

    Returns
    -------
    dict
        A new dict whose ``events`` (name, unique, year, day_offset, forms) and ``repeating``
        (event, form, label) are those of ``forms.yaml``'s cohort project.
    """
    arm = int(project["arm"]["arm_num"])
    years = [int(year) for year in project["years"]]
    events = [
        {"name": f"Annee {year}", "unique": year_event(year, arm), "year": year, "day_offset": 365 * (year - years[0]),
         "forms": list(project["forms_each_year"])}
        for year in years
    ]
    repeating = [
        {"event": event["unique"], "form": item["form"], "label": item.get("label", "")}
        for event in events
        for item in project.get("repeating") or []
    ]
    return {**project, "events": events, "repeating": repeating}


class SurveyProject:
    """One yearly questionnaire: its REDCap project, read from ``surveys.yaml``.

    Parameters
    ----------
    name : str
        Its source name (``partner_survey``, ``staff_survey``): the input folder and data layer.
    spec : dict
        Its entry in ``surveys.yaml`` (``project`` and ``forms``).
    codebook : Codebook
        For the enumerations, the harmonised tables and the default territories.
    """

    def __init__(self, name: str, spec: dict[str, Any], codebook: Codebook) -> None:
        self.name = name
        self.codebook = codebook
        self.project: dict[str, Any] = expand_years(spec["project"])
        self.forms: dict[str, dict[str, dict[str, Any]]] = spec["forms"]

    def __repr__(self) -> str:
        return f"SurveyProject({self.name!r}, forms={list(self.forms)})"

    # ------------------------------------------------------------------ codes and tables
    def enumeration(self, name: str) -> dict[str, Label]:
        """Codes of an enumeration with their labels (the codebook's)."""
        return self.codebook.enumeration(name)

    def columns(self, table: str) -> dict[str, dict[str, Any]]:
        """Column specs of a harmonised table (the codebook's)."""
        return self.codebook.columns(table)

    def key_columns(self, table: str) -> list[str]:
        return self.codebook.key_columns(table)

    # ------------------------------------------------------------------ REDCap fields
    @cached_property
    def fields(self) -> pd.DataFrame:
        """One row per REDCap field, as :attr:`Codebook.fields` (target table and column, ...)."""
        return fields_frame(self.forms)

    @property
    def record_id_field(self) -> str:
        return str(self.project["record_id"])

    @property
    def identifier_fields(self) -> list[str]:
        """Fields flagged ``identifier = y`` (names, e-mails, free-text comments): never beyond layer 01."""
        return self.fields.loc[self.fields["identifier"], "field_name"].tolist()

    def export_columns(self, form: str) -> list[str]:
        """Columns a REDCap flat export gives for a form (``<form>_complete`` last)."""
        return form_export_columns(self, form)

    @cached_property
    def data_dictionary(self) -> pd.DataFrame:
        """The REDCap data dictionary (metadata) with the API's 18 column names."""
        return data_dictionary_frame(self)

    # ------------------------------------------------------------------ events
    @cached_property
    def events(self) -> pd.DataFrame:
        return events_frame(self.project)

    @cached_property
    def arms(self) -> pd.DataFrame:
        return arms_frame(self.project)

    @cached_property
    def form_event_mapping(self) -> pd.DataFrame:
        return form_event_mapping_frame(self.project)

    @cached_property
    def repeating_forms_events(self) -> pd.DataFrame:
        frame = repeating_forms_frame(self.project)
        return frame if len(frame) else pd.DataFrame(columns=["event_name", "form_name", "custom_form_label"])

    @property
    def event_names(self) -> list[str]:
        return [event["unique"] for event in self.project["events"]]

    @property
    def event_years(self) -> dict[str, int]:
        """``{unique event name: survey year}``."""
        return {event["unique"]: int(event["year"]) for event in self.project["events"]}

    @property
    def years(self) -> list[int]:
        return [int(event["year"]) for event in self.project["events"]]

    def events_of_form(self, form: str) -> list[str]:
        mapping = self.form_event_mapping
        return mapping.loc[mapping["form"] == form, "unique_event_name"].tolist()

    @property
    def repeating_forms(self) -> set[str]:
        return {item["form"] for item in self.project["repeating"]}

    def dags(self, territories: pd.DataFrame | None = None) -> pd.DataFrame:
        """One data access group per territory (the cohort's groups: a territory is one group in every project)."""
        return dags_frame(self.codebook.territories if territories is None else territories)

    def project_info(self, *, notes: str = "") -> dict[str, Any]:
        """The project's information as REDCap's ``content=project`` exports it (surveys enabled)."""
        return project_info(self.project, notes=notes, surveys=True)

    # ------------------------------------------------------------------ checks
    def consistency_problems(self) -> list[str]:
        """Fields naming unknown enumerations or harmonised columns or without ``label_en``, forms without events.

        One line each; empty when none.
        """
        problems = []
        for form, fields in self.forms.items():
            if form not in self.project["forms_each_year"]:
                problems.append(f"surveys.yaml: {self.name} form {form} is collected at no event")
            for field, spec in fields.items():
                enum = spec.get("enum")
                if enum and enum not in self.codebook.enumerations:
                    problems.append(f"surveys.yaml: {self.name} {form}.{field} names unknown enumeration {enum!r}")
                label_en = spec.get("label_en")
                if not (isinstance(label_en, str) and label_en.strip()):
                    problems.append(f"surveys.yaml: {self.name} {form}.{field} lacks its label_en (non-empty text)")
                table, _, column = str(spec.get("target", "")).partition(".")
                if table and (table not in self.codebook.model or column not in self.codebook.model[table]["columns"]):
                    problems.append(f"surveys.yaml: {self.name} {form}.{field} targets unknown column {spec['target']!r}")
        first_form = next(iter(self.forms.values()), {})
        if next(iter(first_form), None) != self.record_id_field:
            problems.append(f"surveys.yaml: {self.name}: the first form must start with the record id")
        return problems


def load_surveys(raw: dict[str, Any], codebook: Codebook) -> dict[str, SurveyProject]:
    """Every questionnaire of ``surveys.yaml``, by source name.

    Raises
    ------
    CodebookError
        The file names a questionnaire the platform does not know (:data:`SURVEY_SOURCES`).
    """
    unknown = sorted(set(raw) - set(SURVEY_SOURCES))
    if unknown:
        raise CodebookError(f"surveys.yaml: unknown questionnaire(s) {', '.join(unknown)} (known: {', '.join(SURVEY_SOURCES)})")
    return {name: SurveyProject(name, raw[name], codebook) for name in SURVEY_SOURCES if name in raw}

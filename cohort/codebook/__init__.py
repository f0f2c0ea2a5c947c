"""The codebook: one Python API over every code, field, event and table of the platform.

The files beside this module are the single source of truth:

- ``enumerations.yaml``: every coded value with its French and English labels;
- ``forms.yaml``: the cohort's REDCap project (forms, fields, events, repeating instruments);
- ``model.yaml``: the harmonised tables (layer 03), every table and column described in French and
  English;
- ``registry.yaml``: the activity-registry template and the action-type → component map;
- ``indicators.yaml``: every indicator id with its family, unit, timing and French/English labels;
- ``surveys.yaml``: the yearly questionnaires' REDCap projects (partners; PTP and managers), read as
  :class:`~proximite.cohort.codebook.survey_projects.SurveyProject` (:attr:`Codebook.surveys`);
- ``reference/``: regions, and the default territories and organisations;
- ``redcap/``: the REDCap files generated from the above (data dictionary in REDCap's 18-column
  format, events, arms, form–event mapping, repeating instruments, data access groups);
- ``registry/``: the registry template as CSV and XLSX;
- ``surveys/<name>/``: each questionnaire's REDCap files (as ``redcap/``).

Harmonisation, validation, the synthetic cohort and the docs page all read these through
:func:`load_codebook`.
"""

from __future__ import annotations

from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from proximite.cohort.codebook.consistency import consistency_problems
from proximite.cohort.codebook.labels import YESNO_CHOICES, CodebookError, Label
from proximite.cohort.codebook.redcap_layout import (
    REDCAP_DICTIONARY_HEADERS,
    REDCAP_METADATA_COLUMNS,
    arms_frame,
    dags_frame,
    data_dictionary_frame,
    events_frame,
    fields_frame,
    form_event_mapping_frame,
    form_export_columns,
    repeating_forms_frame,
)
from proximite.cohort.codebook.redcap_layout import project_info as redcap_project_info
from proximite.cohort.codebook.survey_projects import SurveyProject, load_surveys

__all__ = [
    "Codebook",
    "Label",
    "SurveyProject",
    "load_codebook",
    "REDCAP_METADATA_COLUMNS",
    "REDCAP_DICTIONARY_HEADERS",
    "CodebookError",
    "package_dir",
]


def package_dir() -> Path:
    """The codebook directory shipped with the package (the default of :class:`Codebook`)."""
    return Path(str(resources.files("proximite.cohort.codebook")))


def _read_yaml(directory: Path, name: str) -> Any:
    with (directory / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class Codebook:
    """The platform's codebook.

    Use :func:`load_codebook` rather than building one: the files are read once.

    Parameters
    ----------
    directory : Path, optional
        The folder holding the YAML files and ``reference/``; default :func:`package_dir`.

    Examples
    --------
    >>> cb = load_codebook()
    >>> cb.codes("action_type")[:3]
    ['demarchage', 'reperage', 'lien_confiance']
    >>> cb.label("need_status", "aucune_ressource", lang="en")
    'No resource available or reachable'
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else package_dir()
        raw_enums = _read_yaml(self.directory, "enumerations.yaml")
        self.enumerations: dict[str, dict[str, Label]] = {
            name: {str(code): Label(*labels) for code, labels in codes.items()}
            for name, codes in raw_enums.items()
        }
        forms_spec = _read_yaml(self.directory, "forms.yaml")
        self.project: dict[str, Any] = forms_spec["project"]
        self.forms: dict[str, dict[str, dict[str, Any]]] = forms_spec["forms"]
        self.model: dict[str, dict[str, Any]] = _read_yaml(self.directory, "model.yaml")
        registry = _read_yaml(self.directory, "registry.yaml")
        self.action_component: dict[str, str] = registry.pop("action_component")
        self.registry: dict[str, dict[str, dict[str, Any]]] = registry
        indicators = _read_yaml(self.directory, "indicators.yaml")
        self.indicator_families: dict[str, Label] = {
            name: Label(*labels) for name, labels in indicators["families"].items()
        }
        self.indicators: dict[str, dict[str, Any]] = indicators["indicators"]
        self.surveys: dict[str, SurveyProject] = load_surveys(_read_yaml(self.directory, "surveys.yaml") or {}, self)
        self._check_consistency()

    # ------------------------------------------------------------------ enumerations
    def codes(self, enumeration: str) -> list[str]:
        """Codes of an enumeration, in codebook order."""
        return list(self.enumeration(enumeration))

    def label(self, enumeration: str, code: str, *, lang: str = "fr") -> str:
        """Label of one code in French (default) or English."""
        labels = self.enumeration(enumeration)
        if code not in labels:
            raise CodebookError(f"'{code}' is not a code of {enumeration} (allowed: {', '.join(labels)})")
        return labels[code].in_language(lang)

    def labels(self, enumeration: str, *, lang: str = "fr") -> dict[str, str]:
        """Mapping code → label of an enumeration."""
        return {code: label.in_language(lang) for code, label in self.enumeration(enumeration).items()}

    def enumeration(self, name: str) -> dict[str, Label]:
        """Codes of an enumeration with their labels, in codebook order.

        Raises
        ------
        CodebookError
            No enumeration of that name.
        """
        try:
            return self.enumerations[name]
        except KeyError:
            raise CodebookError(f"no enumeration named {name!r}") from None

    # ------------------------------------------------------------------ REDCap fields
    @cached_property
    def fields(self) -> pd.DataFrame:
        """One row per REDCap field, with the codebook's extra keys.

        Columns: field_name, form_name, field_type, label (French), label_en, enum, validation,
        identifier, required, target_table, target_column, branching.
        """
        return fields_frame(self.forms)

    @property
    def record_id_field(self) -> str:
        return str(self.project["record_id"])

    @property
    def identifier_fields(self) -> list[str]:
        """Fields flagged ``identifier = y``: they never leave layer 01."""
        return self.fields.loc[self.fields["identifier"], "field_name"].tolist()

    def field_choices(self, field_name: str) -> dict[str, Label]:
        """Choices of a dropdown, radio, checkbox or yesno field."""
        row = self.fields.loc[self.fields["field_name"] == field_name]
        if row.empty:
            raise CodebookError(f"no REDCap field named {field_name!r}")
        enum = row.iloc[0]["enum"]
        if enum == "yesno":
            return {code: Label(*labels) for code, labels in YESNO_CHOICES.items()}
        return self.enumeration(enum) if enum else {}

    def export_columns(self, form: str) -> list[str]:
        """Columns a REDCap flat export gives for a form: checkboxes expanded, then ``<form>_complete``."""
        return form_export_columns(self, form)

    # ------------------------------------------------------------------ questionnaires
    def survey(self, name: str) -> SurveyProject:
        """One yearly questionnaire's REDCap project (``partner_survey``, ``staff_survey``).

        Raises
        ------
        CodebookError
            No questionnaire of that name.
        """
        try:
            return self.surveys[name]
        except KeyError:
            raise CodebookError(f"no questionnaire named {name!r} (questionnaires: {', '.join(self.surveys)})") from None

    @cached_property
    def data_dictionary(self) -> pd.DataFrame:
        """The REDCap data dictionary (metadata) with the API's 18 column names."""
        return data_dictionary_frame(self)

    # ------------------------------------------------------------------ events
    @cached_property
    def events(self) -> pd.DataFrame:
        """Events as REDCap's API exports them (plus the day offsets used to create them)."""
        return events_frame(self.project)

    @cached_property
    def arms(self) -> pd.DataFrame:
        """The project's arm as REDCap's API exports it."""
        return arms_frame(self.project)

    @cached_property
    def form_event_mapping(self) -> pd.DataFrame:
        """Which form is collected at which event, as REDCap's API exports it."""
        return form_event_mapping_frame(self.project)

    @cached_property
    def repeating_forms_events(self) -> pd.DataFrame:
        """The repeating instruments, as REDCap's API exports them."""
        return repeating_forms_frame(self.project)

    def project_info(self, *, notes: str = "") -> dict[str, Any]:
        """The project's information as REDCap's ``content=project`` exports it.

        Parameters
        ----------
        notes : str, keyword-only
            The ``project_notes`` text (who made this copy of the project, and how).
        """
        return redcap_project_info(self.project, notes=notes)

    @property
    def event_names(self) -> list[str]:
        return [event["unique"] for event in self.project["events"]]

    def events_of_form(self, form: str) -> list[str]:
        """Unique event names in which a form is collected."""
        mapping = self.form_event_mapping
        return mapping.loc[mapping["form"] == form, "unique_event_name"].tolist()

    @property
    def repeating_forms(self) -> set[str]:
        return {item["form"] for item in self.project["repeating"]}

    def dags(self, territories: pd.DataFrame | None = None) -> pd.DataFrame:
        """Data access groups, one per territory, as REDCap's API exports them.

        Each group is named by its territory's ``redcap_dag`` code: REDCap derives a group's
        unique name from its name, so a project created from these files (or from the project
        XML) gets exactly the unique names that map back to territories.
        """
        return dags_frame(self.territories if territories is None else territories)

    # ------------------------------------------------------------------ reference
    def _reference(self, name: str) -> pd.DataFrame:
        path = self.directory / "reference" / f"{name}.csv"
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")

    @cached_property
    def regions(self) -> pd.DataFrame:
        """The 17 administrative regions of Québec (code, French and English names, children 0–5)."""
        frame = self._reference("regions")
        frame["children_0_5"] = frame["children_0_5"].astype("int64")
        return frame

    @cached_property
    def territories(self) -> pd.DataFrame:
        """The default territories (the pilot's calibration: 50 in 13 regions)."""
        return self._reference("territories")

    @cached_property
    def organisations(self) -> pd.DataFrame:
        """The default host and partner organisations."""
        frame = self._reference("organisations")
        frame["is_host"] = frame["is_host"].map({"1": True, "0": False, "True": True, "False": False})
        return frame

    # ------------------------------------------------------------------ harmonised model
    @property
    def tables(self) -> list[str]:
        """Names of the harmonised tables, in model order."""
        return list(self.model)

    def columns(self, table: str) -> dict[str, dict[str, Any]]:
        """Column specs of a harmonised table (type, enum, key, required, min, max, description, description_en)."""
        try:
            return self.model[table]["columns"]
        except KeyError:
            raise CodebookError(f"no harmonised table named {table!r} (tables: {', '.join(self.model)})") from None

    def key_columns(self, table: str) -> list[str]:
        return [name for name, spec in self.columns(table).items() if spec.get("key")]

    def description(self, table: str, column: str, *, lang: str = "fr") -> str:
        """Description of a harmonised column in French (default) or English.

        Examples
        --------
        >>> load_codebook().description("assessment", "wave", lang="en")
        'Wave (months after T0)'
        """
        columns = self.columns(table)
        if column not in columns:
            raise CodebookError(f"no column {column!r} in table {table!r} (columns: {', '.join(columns)})")
        return str(columns[column]["description_en" if lang == "en" else "description"])

    def grain(self, table: str, *, lang: str = "fr") -> str:
        """What one row of a harmonised table is, in French (default) or English."""
        self.columns(table)  # refuses an unknown table, naming the tables
        return str(self.model[table]["grain_en" if lang == "en" else "grain"])

    def component_of(self, action_type: str) -> str:
        """Component (proximite, soutien, concertation) of an action type."""
        try:
            return self.action_component[action_type]
        except KeyError:
            raise CodebookError(
                f"'{action_type}' is not an action type (allowed: {', '.join(self.action_component)})"
            ) from None

    # ------------------------------------------------------------------ indicators
    def indicator(self, indicator_id: str) -> dict[str, Any]:
        """Definition of one indicator (family, unit, timing, people, additive, fr, en, method)."""
        try:
            return self.indicators[indicator_id]
        except KeyError:
            raise CodebookError(
                f"no indicator named {indicator_id!r} (indicators: {', '.join(self.indicators)})"
            ) from None

    def indicator_label(self, indicator_id: str, *, lang: str = "fr") -> str:
        """Label of an indicator in French (default) or English."""
        spec = self.indicator(indicator_id)
        return spec["en"] if lang == "en" else spec["fr"]

    def indicator_family_label(self, family: str, *, lang: str = "fr") -> str:
        """Label of an indicator family (reach, isolation, needs_offer, concertation, implementation)."""
        try:
            return self.indicator_families[family].in_language(lang)
        except KeyError:
            raise CodebookError(f"no indicator family named {family!r}") from None

    # ------------------------------------------------------------------ snapshot text
    @cached_property
    def snapshot_strings(self) -> dict[str, Label]:
        """Every UI string of the decision-makers' snapshot (``snapshot.yaml``), read on first use."""
        raw = _read_yaml(self.directory, "snapshot.yaml")
        return {str(key): Label(str(value["fr"]), str(value["en"])) for key, value in raw.items()}

    def snapshot_text(self, key: str, *, lang: str = "fr", **values: Any) -> str:
        """One UI string of the snapshot in French (default) or English, its ``{fields}`` filled.

        Examples
        --------
        >>> load_codebook().snapshot_text("scope_region", lang="en", code="06", name="Montréal")
        'Region 06 – Montréal'
        """
        try:
            text = self.snapshot_strings[key].in_language(lang)
        except KeyError:
            raise CodebookError(f"no snapshot text named {key!r} (see snapshot.yaml)") from None
        return text.format(**values) if values else text

    # ------------------------------------------------------------------ checks
    def _check_consistency(self) -> None:
        """Fail at load time on a codebook that contradicts itself."""
        problems = consistency_problems(self)
        if problems:
            raise CodebookError("the codebook is inconsistent:\n" + "\n".join(problems))


@cache
def load_codebook() -> Codebook:
    """Return the packaged codebook, read once per process."""
    return Codebook()

"""A REDCap project held in memory: the one model of a project, whatever it came from.

:class:`RedcapProject` is what the pull builds from the API's answers, what the file source
builds from an export folder, what the project XML reads and writes, and what the sandbox
server serves. Every table is a DataFrame of strings, as REDCap's API exports them: the data
dictionary (``metadata``), ``events``, ``arms``, ``form_event_mapping``,
``repeating_forms_events`` and ``dags``; records are in REDCap's flat layout
(``docs/data-layout.md``); the log is a list of entries with :data:`LOG_COLUMNS`.

Staging reads the project through its derived views: :attr:`~RedcapProject.event_names`,
:attr:`~RedcapProject.form_events`, :attr:`~RedcapProject.repeating`,
:attr:`~RedcapProject.dag_names` and :attr:`~RedcapProject.missing_codes`.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from proximite.cohort.redcap.dictionary import normalise_metadata, parse_missing_codes
from proximite.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = ["LOG_COLUMNS", "RedcapProject", "log_timestamp", "string_table"]

#: Columns of REDCap's logging export.
LOG_COLUMNS = ["timestamp", "username", "action", "details", "record"]

#: The columns each structure export needs, by :meth:`RedcapProject.from_frames` argument.
_NEEDED_COLUMNS = {
    "events": ("unique_event_name",),
    "form_event_mapping": ("unique_event_name", "form"),
    "repeating_forms_events": ("event_name", "form_name"),
    "dags": ("unique_group_name",),
}


@dataclass(eq=False)
class RedcapProject:
    """A REDCap project: data dictionary, structure, project information, records and log.

    Attributes
    ----------
    metadata : DataFrame
        The data dictionary with the API's 18 column names (see
        :func:`~proximite.cohort.redcap.dictionary.normalise_metadata`), strings, in dictionary
        order; the first field is the record id.
    info : dict
        Project information as ``content=project`` exports it (``project_title``,
        ``is_longitudinal``, ``has_repeating_instruments_or_events``, ``missing_data_codes`` ...).
    records : DataFrame
        Flat layout, every cell a string (``""`` when missing), ordered by record then event.
    events, arms, form_event_mapping, repeating_forms_events, dags : DataFrame
        As ``content=event``, ``arm``, ``formEventMapping``, ``repeatingFormsEvents`` and ``dag``
        export them (empty frames for a classic project or one without DAGs). A ``dags`` frame
        without a ``unique_group_name`` column means the project's groups are unknown.
    log : list of dict
        Entries with :data:`LOG_COLUMNS`, oldest first; timestamps ``YYYY-MM-DD HH:MM``.
    modified : dict
        Record id → last change (``YYYY-MM-DD HH:MM:SS``), what ``dateRangeBegin``/``dateRangeEnd``
        filter on; records absent from it count as created when the project was loaded.
    origins : dict
        Where the structure came from (``{"events": "events.csv"}``), named in staging errors.
    survey_forms : list of str
        Forms enabled as surveys: a flat export with ``exportSurveyFields`` gives
        ``redcap_survey_identifier`` and their ``<form>_timestamp`` columns.
    """

    metadata: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    records: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    arms: pd.DataFrame = field(default_factory=pd.DataFrame)
    form_event_mapping: pd.DataFrame = field(default_factory=pd.DataFrame)
    repeating_forms_events: pd.DataFrame = field(default_factory=pd.DataFrame)
    dags: pd.DataFrame = field(default_factory=pd.DataFrame)
    log: list[dict[str, str]] = field(default_factory=list)
    modified: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    survey_forms: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------------- derived views
    @property
    def record_id_field(self) -> str:
        """The first field of the data dictionary, as in REDCap."""
        return str(self.metadata["field_name"].iloc[0])

    @property
    def forms(self) -> list[str]:
        """Forms in dictionary order."""
        return list(dict.fromkeys(self.metadata["form_name"].tolist()))

    @property
    def is_longitudinal(self) -> bool:
        """Whether the project information says so and the project has events."""
        return bool(int(self.info.get("is_longitudinal", 0))) and not self.events.empty

    @property
    def has_repeating(self) -> bool:
        """Whether the project information says so and the project has repeating instruments."""
        flag = self.info.get("has_repeating_instruments_or_events", 0)
        return bool(int(flag)) and not self.repeating_forms_events.empty

    @property
    def event_names(self) -> tuple[str, ...]:
        """Unique event names of the project, in order."""
        if "unique_event_name" not in self.events.columns:
            return ()
        return tuple(self.events["unique_event_name"].astype(str))

    @property
    def form_events(self) -> dict[str, tuple[str, ...]]:
        """``{form: (unique event names where the form is collected)}``."""
        mapping = self.form_event_mapping
        if "form" not in mapping.columns:
            return {}
        return {
            str(form): tuple(group["unique_event_name"].astype(str)) for form, group in mapping.groupby("form", sort=False)
        }

    @property
    def repeating(self) -> dict[str, frozenset[str]]:
        """``{form: {unique event names where the form repeats}}``."""
        frame = self.repeating_forms_events
        if "form_name" not in frame.columns or "event_name" not in frame.columns:
            return {}
        collected: dict[str, set[str]] = {}
        for event, form in zip(frame["event_name"].astype(str), frame["form_name"].astype(str), strict=True):
            collected.setdefault(form, set()).add(event)
        return {form: frozenset(names) for form, names in collected.items()}

    @property
    def dag_names(self) -> frozenset[str] | None:
        """Unique data access group names; None when the project's groups are unknown (not checked)."""
        if "unique_group_name" not in self.dags.columns:
            return None
        return frozenset(self.dags["unique_group_name"].astype(str))

    @property
    def missing_codes(self) -> dict[str, str]:
        """The project's missing-data codes, ``{code: label}``, from its information."""
        return parse_missing_codes(str(self.info.get("missing_data_codes") or ""))

    # ------------------------------------------------------------------------- copies
    def copy(self) -> RedcapProject:
        """A deep copy (the sandbox server mutates its project on import and delete)."""
        return RedcapProject(
            metadata=self.metadata.copy(),
            info=copy.deepcopy(self.info),
            records=self.records.copy(),
            events=self.events.copy(),
            arms=self.arms.copy(),
            form_event_mapping=self.form_event_mapping.copy(),
            repeating_forms_events=self.repeating_forms_events.copy(),
            dags=self.dags.copy(),
            log=[dict(entry) for entry in self.log],
            modified=dict(self.modified),
            origins=dict(self.origins),
            survey_forms=list(self.survey_forms),
        )

    # ------------------------------------------------------------------------- constructors
    @classmethod
    def from_codebook(cls, codebook: Codebook) -> RedcapProject:
        """The platform's own cohort project's structure, as the codebook defines it.

        The data dictionary, events, arms, form–event mapping and repeating instruments; no
        project information, records or data access groups (DAGs are then not checked).
        """
        origin = "the codebook"
        return cls(
            metadata=codebook.data_dictionary.astype(str),
            events=string_table(codebook.events),
            arms=string_table(codebook.arms),
            form_event_mapping=string_table(codebook.form_event_mapping),
            repeating_forms_events=string_table(codebook.repeating_forms_events),
            origins={"events": origin, "form_events": origin, "repeating": origin},
        )

    @classmethod
    def from_frames(
        cls,
        metadata: pd.DataFrame,
        *,
        events: pd.DataFrame | None = None,
        form_event_mapping: pd.DataFrame | None = None,
        repeating_forms_events: pd.DataFrame | None = None,
        dags: pd.DataFrame | None = None,
        codebook: Codebook | None = None,
        paths: Mapping[str, str | Path] | None = None,
        missing_data_codes: str | None = None,
    ) -> RedcapProject:
        """A project from REDCap's exports as frames (CSV files or API responses alike).

        Parameters
        ----------
        metadata : DataFrame
            The data dictionary, UI headers or API names.
        events, form_event_mapping, repeating_forms_events, dags : DataFrame, optional
            REDCap's exports with the API's column names (``unique_event_name``; ``form`` and
            ``unique_event_name``; ``event_name`` and ``form_name``; ``unique_group_name``).
            Missing ones fall back to the codebook's cohort project, except ``dags`` (then DAGs
            are not checked).
        codebook : Codebook, optional
            For the fallbacks (default: the packaged codebook).
        paths : mapping, optional
            ``{"metadata"|"events"|"form_event_mapping"|"repeating_forms_events"|"dags"|"info": path}``,
            named in errors.
        missing_data_codes : str, optional
            The project information's ``missing_data_codes`` (``"NSP, Ne sait pas | REF, Refus"``);
            empty or None when the project declares none.

        Raises
        ------
        InputError
            A frame lacks a column it needs, the dictionary is malformed, or a missing-data code
            is declared twice.
        """
        from proximite.cohort.codebook import load_codebook

        paths = dict(paths or {})
        project = cls.from_codebook(codebook or load_codebook())
        given = {"events": events, "form_event_mapping": form_event_mapping, "repeating_forms_events": repeating_forms_events}
        # The origin keys are the names staging's messages use.
        origin_keys = {"events": "events", "form_event_mapping": "form_events", "repeating_forms_events": "repeating"}
        tables: dict[str, pd.DataFrame] = {}
        for name, frame in [*given.items(), ("dags", dags)]:
            if frame is None:
                continue
            where = paths.get(name, f"{name}.csv")
            tables[name] = _with_columns(frame, _NEEDED_COLUMNS[name], path=where)
            project.origins[origin_keys.get(name, name)] = Path(where).name
        dictionary = normalise_metadata(metadata, path=paths.get("metadata", "metadata.csv"))
        codes = missing_data_codes or ""
        parse_missing_codes(codes, path=paths.get("info", "project.json"))  # a code declared twice fails here
        return dataclasses.replace(project, metadata=dictionary, info={"missing_data_codes": codes}, **tables)


def _with_columns(frame: pd.DataFrame, columns: tuple[str, ...], *, path: str | Path) -> pd.DataFrame:
    """``frame`` with its headers trimmed and ``columns`` as trimmed strings.

    Raises
    ------
    InputError
        A column is missing.
    """
    frame = frame.rename(columns=lambda column: str(column).strip())
    for column in columns:
        if column not in frame.columns:
            raise InputError(
                path, "required column missing", column=column,
                detail="Export this file from REDCap (API names) or take it from the codebook",
            )
    return frame.assign(**{column: frame[column].fillna("").astype(str).str.strip() for column in columns})


def string_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame with every cell a string, as the project's tables are."""
    return frame.astype(str).astype(object).reset_index(drop=True)


def log_timestamp(moment: dt.datetime | None = None) -> str:
    """A log timestamp as REDCap writes it (``YYYY-MM-DD HH:MM``, server local time)."""
    return (moment or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")

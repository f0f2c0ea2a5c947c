"""A REDCap project held in memory: what the sandbox server serves and what loaders produce.

:class:`SandboxProject` is the one structure shared by the project loaders (a folder of CSV files
as ``proximite synth`` writes it, or REDCap's project XML) and the sandbox server. Every table is
a DataFrame of strings, as REDCap's API exports them; records are in REDCap's flat layout
(``docs/data-layout.md``); the log is a list of entries with REDCap's columns.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from proximite.errors import InputError
from proximite.cohort.sources.redcap_records import normalise_metadata

#: Columns of REDCap's logging export.
LOG_COLUMNS = ["timestamp", "username", "action", "details", "record"]

#: The files of a project folder (``<folder>/redcap/`` of an input directory, or the folder itself).
PROJECT_FILES = {
    "metadata": "data_dictionary.csv",
    "records": "records.csv",
    "events": "events.csv",
    "arms": "arms.csv",
    "form_event_mapping": "form_event_mapping.csv",
    "repeating": "repeating_forms_events.csv",
    "dags": "dags.csv",
    "info": "project.json",
}


@dataclass
class SandboxProject:
    """A REDCap project: metadata, structure, records and log.

    Attributes
    ----------
    info : dict
        Project information as ``content=project`` exports it (``project_title``,
        ``is_longitudinal``, ``has_repeating_instruments_or_events``, ``missing_data_codes`` ...).
    metadata : DataFrame
        The data dictionary with the API's 18 column names, strings.
    events, arms, form_event_mapping, repeating, dags : DataFrame
        As ``content=event``, ``arm``, ``formEventMapping``, ``repeatingFormsEvents`` and ``dag``
        export them (empty frames for a classic project or one without DAGs).
    records : DataFrame
        Flat layout, every cell a string (``""`` when missing), ordered by record then event.
    log : list of dict
        Entries with :data:`LOG_COLUMNS`, oldest first; timestamps ``YYYY-MM-DD HH:MM``.
    modified : dict
        Record id → last change (``YYYY-MM-DD HH:MM:SS``), what ``dateRangeBegin``/``dateRangeEnd``
        filter on; records absent from it count as created when the project was loaded.
    """

    info: dict[str, Any]
    metadata: pd.DataFrame
    records: pd.DataFrame
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    arms: pd.DataFrame = field(default_factory=pd.DataFrame)
    form_event_mapping: pd.DataFrame = field(default_factory=pd.DataFrame)
    repeating: pd.DataFrame = field(default_factory=pd.DataFrame)
    dags: pd.DataFrame = field(default_factory=pd.DataFrame)
    log: list[dict[str, str]] = field(default_factory=list)
    modified: dict[str, str] = field(default_factory=dict)

    @property
    def record_id_field(self) -> str:
        """The first field of the data dictionary, as in REDCap."""
        return str(self.metadata["field_name"].iloc[0])

    @property
    def is_longitudinal(self) -> bool:
        return bool(int(self.info.get("is_longitudinal", 0))) and not self.events.empty

    @property
    def has_repeating(self) -> bool:
        return bool(int(self.info.get("has_repeating_instruments_or_events", 0))) and not self.repeating.empty

    def copy(self) -> SandboxProject:
        """A deep copy (the server mutates its project on import and delete)."""
        return SandboxProject(
            info=copy.deepcopy(self.info),
            metadata=self.metadata.copy(),
            records=self.records.copy(),
            events=self.events.copy(),
            arms=self.arms.copy(),
            form_event_mapping=self.form_event_mapping.copy(),
            repeating=self.repeating.copy(),
            dags=self.dags.copy(),
            log=[dict(entry) for entry in self.log],
            modified=dict(self.modified),
        )

    @classmethod
    def from_directory(cls, directory: str | Path, *, records: bool = True) -> SandboxProject:
        """Load a project from a folder of CSV files (``redcap/`` of an input directory).

        Parameters
        ----------
        directory : str or Path
            The folder with ``data_dictionary.csv`` and ``records.csv``, and optionally
            ``events.csv``, ``arms.csv``, ``form_event_mapping.csv``,
            ``repeating_forms_events.csv``, ``dags.csv`` and ``project.json``; or an input
            directory whose ``redcap/`` folder holds them.
        records : bool, keyword-only
            Read ``records.csv`` (an empty project otherwise).

        Raises
        ------
        InputError
            A required file is missing or unreadable.
        """
        folder = Path(directory)
        if not (folder / PROJECT_FILES["metadata"]).is_file() and (folder / "redcap").is_dir():
            folder = folder / "redcap"
        dictionary = folder / PROJECT_FILES["metadata"]
        if not dictionary.is_file():
            raise InputError(dictionary, "required file missing", detail="A project needs its data dictionary")
        metadata = normalise_metadata(_read_strings(dictionary), path=dictionary)
        tables = {
            name: _read_strings(folder / filename) if (folder / filename).is_file() else pd.DataFrame()
            for name, filename in PROJECT_FILES.items()
            if name not in {"metadata", "info", "records"}
        }
        info_path = folder / PROJECT_FILES["info"]
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
        info.setdefault("project_title", folder.resolve().parent.name)
        info.setdefault("is_longitudinal", int(not tables["events"].empty))
        info.setdefault("has_repeating_instruments_or_events", int(not tables["repeating"].empty))
        info.setdefault("missing_data_codes", "")
        records_path = folder / PROJECT_FILES["records"]
        if records and not records_path.is_file():
            raise InputError(records_path, "required file missing", detail="A project folder needs records.csv")
        frame = _read_strings(records_path) if records else pd.DataFrame(columns=[metadata["field_name"].iloc[0]])
        return cls(info=info, metadata=metadata, records=frame, log=[], **tables)


def _read_strings(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(path, "unreadable CSV", detail=type(error).__name__) from None


def log_timestamp(moment: dt.datetime | None = None) -> str:
    """A log timestamp as REDCap writes it (``YYYY-MM-DD HH:MM``, server local time)."""
    return (moment or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")


def load_project(path: str | Path) -> SandboxProject:
    """Load a project from REDCap's project XML (``.xml``) or from a folder of CSV files.

    Parameters
    ----------
    path : str or Path
        A project XML file (CDISC ODM with REDCap's extensions) or a folder (see
        :meth:`SandboxProject.from_directory`).

    Raises
    ------
    InputError
        The path does not exist or the project cannot be read.
    """
    location = Path(path)
    if location.is_file() and location.suffix.lower() == ".xml":
        from proximite.cohort.codebook.redcap_xml import project_from_xml

        return project_from_xml(location)
    if location.is_dir():
        return SandboxProject.from_directory(location)
    raise InputError(location, "no such project", detail="Give a REDCap project XML file or a folder of CSV files")

"""Where a project comes from: a folder of CSV files, a project XML, or the codebook.

:func:`load_project` reads a project XML (``.xml``) or a folder of CSV files as ``proximite
synth`` writes it (:func:`project_from_directory`); :func:`codebook_project` is the cohort's own
project from the codebook, and :func:`write_codebook_project_xml` writes it for upload into REDCap.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from proximite.cohort.redcap.dictionary import normalise_metadata
from proximite.cohort.redcap.folder_check import check_structure_files, read_project_info
from proximite.cohort.redcap.project import RedcapProject, string_table
from proximite.cohort.redcap.xml_layout import ProjectLayout, records_columns
from proximite.cohort.redcap.xml_read import project_from_xml
from proximite.cohort.redcap.xml_write import project_to_xml
from proximite.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook

__all__ = [
    "CODEBOOK_PROJECTS",
    "PROJECT_FILES",
    "codebook_project",
    "load_project",
    "project_from_directory",
    "write_codebook_project_xml",
]

#: The files of a project folder (``<folder>/redcap/`` of an input directory, or the folder itself).
PROJECT_FILES = {
    "metadata": "data_dictionary.csv",
    "records": "records.csv",
    "events": "events.csv",
    "arms": "arms.csv",
    "form_event_mapping": "form_event_mapping.csv",
    "repeating_forms_events": "repeating_forms_events.csv",
    "dags": "dags.csv",
    "info": "project.json",
}


def project_from_directory(directory: str | Path, *, records: bool = True) -> RedcapProject:
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
        A required file is missing or unreadable, or the records need structure files the folder
        lacks (:func:`~proximite.cohort.redcap.folder_check.check_structure_files`: a longitudinal
        project without its events or form–event mapping, repeat columns without the repeating
        setup); every missing file is named at once.
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
    info = read_project_info(folder / PROJECT_FILES["info"])
    records_path = folder / PROJECT_FILES["records"]
    if records and not records_path.is_file():
        raise InputError(records_path, "required file missing", detail="A project folder needs records.csv")
    frame = _read_strings(records_path) if records else pd.DataFrame(columns=[metadata["field_name"].iloc[0]])
    present = {
        filename: len(tables[name]) for name, filename in PROJECT_FILES.items()
        if name in tables and (folder / filename).is_file()
    }
    check_structure_files(folder, present, [str(column) for column in frame.columns] if records else [], declared=info)
    info.setdefault("project_title", folder.resolve().parent.name)
    info.setdefault("is_longitudinal", int(not tables["events"].empty))
    info.setdefault("has_repeating_instruments_or_events", int(not tables["repeating_forms_events"].empty))
    info.setdefault("missing_data_codes", "")
    return RedcapProject(metadata=metadata, info=info, records=frame, log=[], **tables)


def _read_strings(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(path, "unreadable CSV", detail=type(error).__name__) from None


def load_project(path: str | Path) -> RedcapProject:
    """Load a project from REDCap's project XML (``.xml``) or from a folder of CSV files.

    Parameters
    ----------
    path : str or Path
        A project XML file (CDISC ODM with REDCap's extensions) or a folder (see
        :func:`project_from_directory`).

    Raises
    ------
    InputError
        The path does not exist or the project cannot be read.
    """
    location = Path(path)
    if location.is_file() and location.suffix.lower() == ".xml":
        return project_from_xml(location)
    if location.is_dir():
        return project_from_directory(location)
    raise InputError(location, "no such project", detail="Give a REDCap project XML file or a folder of CSV files")


#: The projects the codebook ships: the cohort's and the yearly questionnaires'.
CODEBOOK_PROJECTS = ("cohort", "partner_survey", "staff_survey")


def codebook_project(codebook: Codebook | None = None, *, project: str = "cohort") -> RedcapProject:
    """A REDCap project of the codebook, without records: the cohort's or a yearly questionnaire's.

    Parameters
    ----------
    codebook : Codebook, optional
        The codebook (default: :func:`~proximite.cohort.codebook.load_codebook`).
    project : {"cohort", "partner_survey", "staff_survey"}, keyword-only
        Which project (:data:`CODEBOOK_PROJECTS`); a questionnaire's forms are surveys.

    Returns
    -------
    RedcapProject
        :meth:`RedcapProject.from_codebook` (metadata from ``data_dictionary``; events, arms,
        form–event mapping and repeating instruments from the codebook) with the project
        information, one data access group per default territory, and an empty records frame
        with the flat export's columns; every table as strings.

    Raises
    ------
    ValueError
        An unknown project.
    """
    from proximite.cohort.codebook import load_codebook

    if project not in CODEBOOK_PROJECTS:
        raise ValueError(f"unknown project {project!r} (projects: {', '.join(CODEBOOK_PROJECTS)})")
    cb = codebook or load_codebook()
    spec = cb if project == "cohort" else cb.survey(project)
    structure = RedcapProject.from_codebook(spec)
    dags = string_table(spec.dags())
    layout = ProjectLayout.from_metadata(structure.metadata)
    repeating = not structure.repeating_forms_events.empty
    columns = records_columns(layout, longitudinal=True, repeating=repeating, dags=not dags.empty)
    info = spec.project_info(
        notes=f"Projet {spec.project['title']}, généré depuis le codebook (proximite codebook export --project {project})."
    )
    return dataclasses.replace(
        structure,
        info=info,
        records=pd.DataFrame({column: pd.Series([], dtype=object) for column in columns}),
        dags=dags,
        origins={},
        survey_forms=[] if project == "cohort" else list(spec.forms),
    )


def write_codebook_project_xml(out: str | Path, *, project: str = "cohort") -> Path:
    """Write a project of the codebook (no data) as a REDCap project XML.

    Upload it in REDCap (New project → "Upload a REDCap project XML file") to create the
    project, its events, form–event mapping, repeating instruments and data access groups in
    one step (and, for a questionnaire, its forms enabled as surveys).

    Parameters
    ----------
    out : str or Path
        The file to write (its folder is created).
    project : {"cohort", "partner_survey", "staff_survey"}, keyword-only
        Which project (:func:`codebook_project`).

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
    path.write_bytes(project_to_xml(codebook_project(project=project), include_data=False))
    return path

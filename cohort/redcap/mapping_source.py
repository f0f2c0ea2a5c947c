"""A team's project structure for drafting its mapping: from the API through PyCap, or a dictionary file."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from proximite.cohort.redcap.dictionary import normalise_metadata
from proximite.cohort.redcap.errors import RedcapPullError, redact
from proximite.cohort.redcap.project import RedcapProject
from proximite.errors import InputError

__all__ = ["fetch_project_structure", "project_from_dictionary"]


def _frame(text: str) -> pd.DataFrame:
    if not str(text).strip():
        return pd.DataFrame()
    return pd.read_csv(io.StringIO(str(text)), dtype=str, keep_default_na=False)


def project_from_dictionary(path: str | Path) -> RedcapProject:
    """A project holding only a data dictionary CSV (REDCap's download, UI or API headers).

    Raises
    ------
    InputError
        The file is missing or not a data dictionary.
    """
    location = Path(path)
    if not location.is_file():
        raise InputError(location, "file not found", detail="Give the data dictionary CSV downloaded from REDCap")
    try:
        frame = pd.read_csv(location, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(location, "unreadable CSV", detail=type(error).__name__) from None
    return RedcapProject(metadata=normalise_metadata(frame, path=location))


def fetch_project_structure(url: str, *, token: str, timeout: float = 60) -> RedcapProject:
    """The project's data dictionary, events and DAGs through PyCap (``redcap.Project``), no records.

    Raises
    ------
    RedcapPullError
        REDCap refused a request or could not be reached (the token is never shown).
    """
    from proximite.cohort.redcap.client import open_project

    project = open_project(url, token, timeout=timeout)
    try:
        metadata = _frame(project.export_metadata(format_type="csv"))
        events = _frame(project.export_events(format_type="csv"))
        dags = _frame(project.export_dags(format_type="csv"))
    except Exception as error:  # PyCap raises RedcapError, requests its own: one message, token redacted
        raise RedcapPullError(f"could not read the project's structure: {redact(str(error), token)}") from None
    return RedcapProject(metadata=normalise_metadata(metadata, path="metadata (API)"), events=events, dags=dags)

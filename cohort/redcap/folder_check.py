"""The structure files a REDCap export folder needs, from what its records file shows.

A folder of CSV files (``redcap/`` of an input directory, or a project folder served by the
sandbox) describes its project with ``events.csv``, ``form_event_mapping.csv`` and
``repeating_forms_events.csv``. The records file tells which of them the project needs:

- a ``redcap_event_name`` column, an ``events.csv``, or project information saying
  ``is_longitudinal = 1`` means a longitudinal project: it needs its events and its form–event
  mapping (which forms are collected at which event);
- a ``redcap_repeat_instrument`` or ``redcap_repeat_instance`` column, or project information
  saying ``has_repeating_instruments_or_events = 1``, means repeating instruments: it needs its
  repeating setup (which forms repeat at which event).

Without them a pull of the folder gets an empty answer where REDCap gives the mapping, or loses
the repeat keys. :func:`check_structure_files` refuses such a folder at once, naming every file
to add and where REDCap gives it. The file source may instead take the cohort project's whole
structure from the codebook when the folder has none of the three files (``codebook_fallback``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from proximite.cohort.redcap.dictionary import EVENT, INSTANCE, INSTRUMENT
from proximite.errors import InputError

__all__ = ["STRUCTURE_FILES", "check_structure_files", "read_project_info", "structure_problems"]

#: The structure files, and where REDCap gives each (API content, then the web page).
STRUCTURE_FILES = {
    "events.csv": "API content=event (or Project Setup → Define my events → Download events)",
    "form_event_mapping.csv": (
        "API content=formEventMapping (or Project Setup → Designate instruments for my events → Download)"
    ),
    "repeating_forms_events.csv": (
        "API content=repeatingFormsEvents (or Project Setup → Repeating instruments and events)"
    ),
}


def structure_problems(
    rows: Mapping[str, int],
    header: Collection[str],
    *,
    records: str = "records.csv",
    declared: Mapping[str, object] | None = None,
) -> list[tuple[str, str]]:
    """The structure files a folder lacks, each with why it is needed.

    Parameters
    ----------
    rows : mapping
        ``{file name: data rows}`` of the structure files present in the folder (absent files
        are left out).
    header : collection of str
        The records file's columns (empty when there is no records file).
    records : str, keyword-only
        The records file's name, as the reasons say it.
    declared : mapping, optional, keyword-only
        The project information (``project.json``), when the folder has one: its
        ``is_longitudinal`` and ``has_repeating_instruments_or_events`` count as evidence too.

    Returns
    -------
    list of (str, str)
        ``(file, reason)`` for every structure file that is missing or has no row although the
        project needs it; empty when the folder is complete.
    """
    problems: list[tuple[str, str]] = []

    def lacks(name: str) -> bool:
        return rows.get(name, 0) == 0

    info = declared or {}
    says_longitudinal = _flag(info.get("is_longitudinal"))
    longitudinal = EVENT in header or "events.csv" in rows or says_longitudinal
    if longitudinal and lacks("events.csv"):
        evidence = f"{records} has {EVENT}" if EVENT in header else "project.json says is_longitudinal = 1"
        problems.append(("events.csv", f"{evidence}: the project is longitudinal and needs its events"))
    if longitudinal and lacks("form_event_mapping.csv"):
        problems.append(
            ("form_event_mapping.csv", "the project is longitudinal: it needs the forms collected at each event")
        )
    repeat_columns = [column for column in (INSTRUMENT, INSTANCE) if column in header]
    says_repeating = _flag(info.get("has_repeating_instruments_or_events"))
    if (repeat_columns or says_repeating) and lacks("repeating_forms_events.csv"):
        evidence = (
            f"{records} has {' and '.join(repeat_columns)}" if repeat_columns
            else "project.json says has_repeating_instruments_or_events = 1"
        )
        problems.append(
            (
                "repeating_forms_events.csv",
                f"{evidence}: the project has repeating instruments and needs its repeating setup, "
                "or every repeat key would be lost",
            )
        )
    return problems


def _flag(value: object) -> bool:
    """A project information flag (``1``, ``"1"``, ``true``) as a boolean; absent is false."""
    return str(value).strip().lower() in {"1", "true"}


def check_structure_files(
    folder: Path,
    rows: Mapping[str, int],
    header: Collection[str],
    *,
    codebook_fallback: bool = False,
    records: str = "records.csv",
    declared: Mapping[str, object] | None = None,
) -> None:
    """Refuse a folder whose records need structure files it lacks, naming every one at once.

    Parameters
    ----------
    folder : Path
        The folder, named in the error with the first file to add.
    rows, header, records, declared
        As for :func:`structure_problems`.
    codebook_fallback : bool, keyword-only
        Whether a folder with no structure file at all takes the cohort project's whole structure
        from the codebook (the file source), rather than being checked (the sandbox).

    Raises
    ------
    InputError
        A structure file the project needs is missing or has no row; the message names the
        files to add and where REDCap gives each.
    """
    if codebook_fallback and not any(name in rows for name in STRUCTURE_FILES):
        return
    problems = structure_problems(rows, header, records=records, declared=declared)
    if not problems:
        return
    parts = [f"add {name} ({why}; REDCap gives it by {STRUCTURE_FILES[name]})" for name, why in problems]
    rule = "required file missing" if problems[0][0] not in rows else "required file empty"
    count = f"{len(problems)} structure files are missing: " if len(problems) > 1 else ""
    raise InputError(folder / problems[0][0], rule, detail=count + "; ".join(parts))


def read_project_info(path: Path) -> dict[str, Any]:
    """REDCap's project information saved as ``project.json`` (an object, or the API's one-item list).

    Parameters
    ----------
    path : Path
        The file; absent means no information (``{}``).

    Raises
    ------
    InputError
        The file is not readable JSON, or not a project information object.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(path, "not a readable JSON file", detail="Export the project information again from REDCap") from None
    if isinstance(info, list):  # the API's JSON export may be a one-item list
        info = info[0] if info else {}
    if not isinstance(info, dict):
        raise InputError(path, "not a project information export", detail="Expected a JSON object")
    return info

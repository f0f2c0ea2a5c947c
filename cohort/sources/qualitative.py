"""The qualitative strand's two sources, both in the input directory's ``qualitative/`` folder.

- :class:`QualRegisterSource` (``qual_register``): the register of interviews and focus groups,
  a CSV or XLSX file (``register.csv``; a team's own columns and codes through
  ``<stem>.mapping.yaml``, as the registry's partner files), staged as ``qual_session``: one row
  per session, with its pseudonymous id, territory, date, wave, participant type, kind, modality
  and consent. No transcript, no name: a column outside the model is never staged.
- :class:`QualCodingSource` (``qual_coding``): the team's coding, exported from its QDA software as
  REFI-QDA project files (``*.qdpx``, read by :func:`~proximite.cohort.sources.qdpx.read_qdpx`),
  and ``themes.yaml`` (:mod:`~proximite.cohort.sources.qual_themes`: codes → themes → axes).
  Staged tables: ``qual_code`` (the codebook, each code with its theme and axis),
  ``qual_coding`` (per session and code, the coded segments) and ``qual_document`` (every source
  of every project, so that harmonisation can check each against the register).

A ``.qdpx`` holds the transcripts themselves: it is copied into layer 01 as received and stays
there; nothing of a source's content is staged. Other files of ``qualitative/`` (a transcript
left there by mistake) belong to neither source and are never copied.

A QDA source is a session of the register by name: the source's name, less a document
extension (``ENT-T06-01-007.docx`` → ``ENT-T06-01-007``), is the register's ``session_id``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from proximite.cohort.sources.base import DATA_SUFFIXES, Source, Staged
from proximite.cohort.sources.canonical import TableSpec, model_spec
from proximite.cohort.sources.files import TabularFilesSource
from proximite.cohort.sources.mappings import MAPPING_SUFFIXES
from proximite.cohort.sources.qdpx import QdaProject, read_qdpx
from proximite.cohort.sources.qual_themes import PATH_SEPARATOR, THEMES_FILE, Theme, assign_themes, load_themes
from proximite.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = [
    "DOCUMENT_EXTENSIONS",
    "QDPX_SUFFIX",
    "QUALITATIVE_FOLDER",
    "QualCodingSource",
    "QualRegisterSource",
    "coding_tables",
    "session_of",
]

log = logging.getLogger(__name__)

#: The input directory's folder of both qualitative sources.
QUALITATIVE_FOLDER = "qualitative"
QDPX_SUFFIX = ".qdpx"
#: Extensions a QDA source's name may carry beside the session id (documents and recordings).
DOCUMENT_EXTENSIONS = frozenset(
    {".txt", ".doc", ".docx", ".rtf", ".odt", ".pdf", ".html", ".htm", ".mp3", ".m4a", ".wav", ".ogg", ".mp4", ".mov",
     ".avi", ".jpg", ".jpeg", ".png"}
)
_SPREADSHEETS = (*DATA_SUFFIXES, ".xls", ".xlsm", ".ods")


def session_of(source_name: str) -> str:
    """The register's session id of a QDA source: its name without a document extension."""
    name = " ".join(str(source_name).split())
    stem, dot, extension = name.rpartition(".")
    return stem.strip() if dot and stem.strip() and f".{extension.lower()}" in DOCUMENT_EXTENSIONS else name


def _top_level_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith(("~$", ".")))


class QualRegisterSource(TabularFilesSource):
    """The register of interviews and focus groups: the CSV/XLSX files of ``qualitative/`` (``qual_session``)."""

    name = "qual_register"
    folder = QUALITATIVE_FOLDER
    tables = ("qual_session",)
    required_tables = ("qual_session",)

    def discover(self, input_dir: Path) -> list[Path]:
        """The register's files: spreadsheets of ``qualitative/`` and their ``.mapping.yaml``."""
        return [
            path for path in _top_level_files(self.source_dir(input_dir))
            if path.suffix.lower() in _SPREADSHEETS or path.name.lower().endswith(MAPPING_SUFFIXES)
        ]

    def table_of(self, relative: Path) -> str | None:
        return "qual_session"

    def expected_file(self, table: str) -> str:
        return "register.csv"

    def spec(self, table: str, codebook: Codebook) -> TableSpec:
        return model_spec(codebook, table)

    def stage(self, raw_dir: Path, *, codebook: Codebook, settings: Settings) -> Staged:
        """The typed register; a session id entered twice stops the ingest (both rows named)."""
        staged = super().stage(raw_dir, codebook=codebook, settings=settings)
        _check_unique_sessions(staged["qual_session"], Path(raw_dir))
        return staged


def _check_unique_sessions(sessions: pd.DataFrame, raw_dir: Path) -> None:
    ids = sessions["session_id"]
    repeated = ids.notna() & ids.duplicated(keep="first")
    if not repeated.any():
        return
    position = int(repeated.to_numpy(dtype=bool).argmax())
    session = str(ids.iloc[position])
    first = int((ids == session).fillna(False).to_numpy(dtype=bool).argmax())
    where = f"row {int(sessions['source_row'].iloc[first])} of {sessions['source_file'].iloc[first]}"
    raise InputError(
        raw_dir / str(sessions["source_file"].iloc[position]), "duplicate register entry",
        row=int(sessions["source_row"].iloc[position]), column="session_id", count=int(repeated.sum()),
        detail=f"Session '{session}' is already on {where}: a session is registered once",
    )


class QualCodingSource(Source):
    """The team's coding: ``qualitative/*.qdpx`` and ``qualitative/themes.yaml``."""

    name = "qual_coding"
    folder = QUALITATIVE_FOLDER

    def discover(self, input_dir: Path) -> list[Path]:
        """The ``.qdpx`` files of ``qualitative/`` and ``themes.yaml`` (only when a ``.qdpx`` is there)."""
        files = _top_level_files(self.source_dir(input_dir))
        projects = [path for path in files if path.suffix.lower() == QDPX_SUFFIX]
        themes = [path for path in files if path.name == THEMES_FILE]
        return sorted(projects + themes) if projects else []

    def stage(self, raw_dir: Path, *, codebook: Codebook, settings: Settings) -> Staged:
        """Read every project, check ``themes.yaml`` against their codebooks, stage the counts.

        Raises
        ------
        InputError
            No ``.qdpx``, no ``themes.yaml``, a malformed project (:func:`read_qdpx`), a theme
            mapping that does not fit the codebooks (:func:`load_themes`, :func:`assign_themes`),
            one session in two projects.
        """
        raw_dir = Path(raw_dir)
        paths = sorted(path for path in raw_dir.iterdir() if path.suffix.lower() == QDPX_SUFFIX)
        if not paths:
            raise InputError(raw_dir, "no .qdpx file", detail="Export the coding as REFI-QDA projects (.qdpx) into qualitative/")
        themes_path = raw_dir / THEMES_FILE
        if not themes_path.is_file():
            raise InputError(
                themes_path, "required file missing",
                detail="Beside the .qdpx files, themes.yaml says which codes make each theme and its axis (docs/qualitative.md)",
            )
        projects = [read_qdpx(path) for path in paths]
        mapping = load_themes(themes_path, axes=codebook.codes("qual_axis"))
        assigned = assign_themes(mapping, projects)
        tables = coding_tables(projects, assigned)
        log.info(
            "qualitative coding: %d project(s), %d code(s) (%d in a theme), %d session(s)",
            len(projects), len(tables["qual_code"]), int(tables["qual_code"]["theme"].notna().sum()),
            tables["qual_document"]["session_id"].nunique(),
        )
        rows = {path.name: len(project.sources) for path, project in zip(paths, projects)}
        return Staged(tables, file_rows=rows)


def coding_tables(projects: Sequence[QdaProject], assigned: dict[tuple[str, str], Theme]) -> dict[str, pd.DataFrame]:
    """``qual_code``, ``qual_coding`` and ``qual_document`` of read projects (new frames).

    Parameters
    ----------
    projects : sequence of QdaProject
    assigned : dict
        ``{(project file name, code GUID): theme}`` (:func:`assign_themes`).

    Raises
    ------
    InputError
        A session appears in two projects (its segments would be counted twice).
    """
    codes, coding, documents = [], [], []
    home: dict[str, str] = {}
    for project in projects:
        file = project.path.name
        for code in project.codes:
            theme = assigned.get((file, code.code_id))
            codes.append((file, code.code_id, code.name, f" {PATH_SEPARATOR} ".join(code.path), code.parent_id,
                          theme.name if theme else None, theme.axis if theme else None))
        per_session: dict[str, Counter[str]] = {}
        for source in project.sources:
            session = session_of(source.name)
            if home.setdefault(session, file) != file:
                raise InputError(
                    project.path, "session coded in two projects",
                    detail=f"Session '{session}' is also in {home[session]}: code each session in one project",
                )
            per_session.setdefault(session, Counter()).update(source.segments)
            documents.append((file, session, source.kind, int(sum(source.segments.values()))))
        coding += [(session, file, code_id, n) for session, counts in per_session.items() for code_id, n in counts.items()]
    return {
        "qual_code": _frame(codes, ["project", "code_id", "name", "path", "parent_id", "theme", "axis"]),
        "qual_coding": _frame(coding, ["session_id", "project", "code_id", "segments"], ints=("segments",)),
        "qual_document": _frame(documents, ["project", "session_id", "source_kind", "segments"], ints=("segments",)),
    }


def _frame(rows: list[tuple], columns: list[str], *, ints: tuple[str, ...] = ()) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({column: "Int64" if column in ints else "string" for column in columns})

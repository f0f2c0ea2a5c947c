"""File sources: REDCap exports, the activity registry (CSV, XLSX, SPSS, Stata), reference and costs.

Reading happens in two steps for every format:

1. the file becomes a pyarrow table of **strings** (``""`` for an empty cell), with the 1-based
   data row of each row: :func:`read_csv_strings`, :func:`read_xlsx_strings`,
   :func:`read_stat_strings` (SPSS ``.sav``/Stata ``.dta``: value labels applied, user-missing
   values blanked with their reason kept);
2. a partner's own columns and codes are mapped to the canonical ones (:class:`FileMapping`, the
   ``<stem>.mapping.yaml`` beside the file), then every column is typed from the codebook with the
   vectorised functions of :mod:`proximite.cohort.sources.coerce`.

User-missing values (SPSS missing values, Stata ``.a``–``.z``) become missing in the staged column
and their reason lands in a companion string column ``<column>__missing_reason``: the value label of
the missing code when there is one (``"Refus de répondre"``), else ``"code 99"`` or ``".a"``.

Encodings: a CSV is read as UTF-8 (with or without BOM) unless its mapping declares ``encoding:``.
A file that is not UTF-8 is accepted as Windows-1252 (cp1252) only when the decoded text holds
nothing but ASCII and the accented letters and punctuation of French; anything else (UTF-16,
Mac-Roman, ...) stops the ingest and asks for ``encoding:`` in the mapping.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
import pyarrow as pa

from proximite.errors import InputError
from proximite.cohort.sources.base import DATA_SUFFIXES, Source, Staged
from proximite.cohort.sources.canonical import (
    TableSpec,
    canonical_strings,
    empty_strings,
    model_spec,
    read_table_file,
    registry_spec,
    type_table,
)
from proximite.cohort.redcap.folder_check import check_structure_files, read_project_info
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.redcap.records import stage_records
from proximite.cohort.sources.mappings import MAPPING_SUFFIXES, load_mapping, mapping_path_for
from proximite.cohort.sources.rows import RowLocator
from proximite.cohort.sources.tabular import read_csv_strings

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook, SurveyProject
    from proximite.config import Settings

__all__ = [
    "CostFilesSource",
    "RedcapExportSource",
    "ReferenceFilesSource",
    "RegistryFilesSource",
    "TabularFilesSource",
    "read_redcap_project",
]

log = logging.getLogger(__name__)
_UNSUPPORTED_SUFFIXES = {".xls": "save it as .xlsx", ".ods": "save it as .xlsx", ".xlsm": "save it as .xlsx"}


@dataclass
class _Gathered:
    tables: list[pa.Table] = field(default_factory=list)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)


def _is_ignored(path: Path) -> bool:
    """Editor droppings (``~$book.xlsx`` lock files, ``.DS_Store``): copied, never read."""
    return path.name.startswith(("~$", "."))


class TabularFilesSource(Source):
    """A folder of tabular files (CSV, XLSX, SPSS, Stata), each with an optional mapping YAML.

    Subclasses list their :attr:`tables`, say which table a file holds by default
    (:meth:`table_of`) and where each table's canonical columns come from (:meth:`spec`).
    """

    #: The tables this source stages.
    tables: ClassVar[tuple[str, ...]]
    #: Tables that must come from at least one file.
    required_tables: ClassVar[tuple[str, ...]] = ()

    def table_of(self, relative: Path) -> str | None:
        """The table a data file holds when its mapping does not say (None: cannot tell)."""
        raise NotImplementedError

    def spec(self, table: str, codebook: Codebook) -> TableSpec:
        raise NotImplementedError

    def expected_file(self, table: str) -> str:
        """The file name a required table is expected in (for the missing-file message)."""
        return f"{table}.csv"

    def _data_files(self, raw_dir: Path) -> tuple[list[Path], list[Path]]:
        files = sorted(path for path in raw_dir.rglob("*") if path.is_file() and path.name != "manifest.json")
        data, mappings = [], []
        for path in files:
            if _is_ignored(path):
                continue
            lower = path.name.lower()
            if lower.endswith(MAPPING_SUFFIXES):
                mappings.append(path)
            elif path.suffix.lower() in DATA_SUFFIXES:
                data.append(path)
            elif path.suffix.lower() in _UNSUPPORTED_SUFFIXES:
                raise InputError(path, "unsupported file format", detail=_UNSUPPORTED_SUFFIXES[path.suffix.lower()])
        return data, mappings

    def stage(self, raw_dir: Path, *, codebook: Codebook, settings: Settings) -> Staged:
        raw_dir = Path(raw_dir)
        data_files, mapping_files = self._data_files(raw_dir)
        gathered: dict[str, _Gathered] = {table: _Gathered() for table in self.tables}
        file_rows: dict[str, int] = {}
        if not data_files:
            raise InputError(raw_dir, "no data file", detail=f"The {self.folder}/ folder holds no CSV, XLSX, .sav or .dta file")
        mapping_of = {path: mapping_path_for(path) for path in data_files}
        used_mappings = {mapping for mapping in mapping_of.values() if mapping is not None}
        orphans = [path for path in mapping_files if path not in used_mappings]
        if orphans:  # checked first: its data file was probably renamed, and would be misread
            raise InputError(
                orphans[0], "mapping without its data file",
                detail="A mapping applies to the data file with the same stem (T13-02.xlsx ↔ T13-02.mapping.yaml)",
            )
        for path in data_files:
            relative = path.relative_to(raw_dir).as_posix()
            mapping_path = mapping_of[path]
            mapping = load_mapping(mapping_path) if mapping_path is not None else None
            table = (mapping.table if mapping is not None else None) or self.table_of(Path(relative))
            if table is None:
                raise InputError(
                    path, "cannot tell which table the file holds",
                    detail=f"Name it as the template does or add {path.stem}.mapping.yaml with `table:` "
                    f"({', '.join(self.tables)})",
                )
            if table not in self.tables:
                raise InputError(
                    mapping.path if mapping is not None else path, "unknown table", column="table",
                    detail=f"'{table}' is not a table of {self.folder}/ ({', '.join(self.tables)})",
                )
            spec = self.spec(table, codebook)
            hint = f"Save it as UTF-8, or declare `encoding:` in {path.stem}.mapping.yaml"
            raw = read_table_file(path, mapping=mapping, rows_required=spec.rows_required, hint=hint)
            canonical, aliases = canonical_strings(raw, spec, mapping, relative=relative)
            gathered[table].tables.append(canonical)
            gathered[table].aliases[relative] = aliases
            file_rows[relative] = raw.num_rows
            log.info("%s: %d rows read for table %s", relative, raw.num_rows, table)
        staged = Staged(file_rows=file_rows)
        for table in self.tables:
            spec = self.spec(table, codebook)
            parts = gathered[table].tables
            if not parts and table in self.required_tables:
                raise InputError(raw_dir / self.expected_file(table), "required file missing", detail=f"The {self.folder}/ folder needs it")
            combined = pa.concat_tables(parts, promote_options="default") if parts else empty_strings(spec)
            locator = RowLocator(
                path=raw_dir, rows=_as_int_array(combined["source_row"]), files=_as_string_array(combined["source_file"]),
                aliases=gathered[table].aliases,
            )
            staged[table] = type_table(combined, spec, codebook=codebook, locator=locator)
        return staged


def _as_int_array(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _as_string_array(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


class RegistryFilesSource(TabularFilesSource):
    """The PTP activity registry: ``workers.csv``, ``supervision.csv``, ``activities/*``.

    Staged tables ``activity``, ``worker`` and ``supervision`` (registry.yaml columns, typed, plus
    ``source_file`` and ``source_row``); a table without files is staged empty.
    """

    name = "registry"
    folder = "registry"
    tables = ("activity", "worker", "supervision")

    def table_of(self, relative: Path) -> str | None:
        if relative.parts[0] == "activities" and len(relative.parts) > 1:
            return "activity"
        stem = relative.stem.lower()
        if stem.startswith(("worker", "ptp")):
            return "worker"
        if stem.startswith("supervision"):
            return "supervision"
        if stem.startswith(("activit", "registre")):
            return "activity"
        return None

    def spec(self, table: str, codebook: Codebook) -> TableSpec:
        return registry_spec(codebook, table)


class CostFilesSource(TabularFilesSource):
    """Program costs: ``costs/costs.csv`` (and any other file of the folder, with a mapping)."""

    name = "cost"
    folder = "costs"
    tables = ("cost",)
    required_tables = ("cost",)

    def table_of(self, relative: Path) -> str | None:
        return "cost"

    def expected_file(self, table: str) -> str:
        return "costs.csv"

    def spec(self, table: str, codebook: Codebook) -> TableSpec:
        return model_spec(codebook, table)


class ReferenceFilesSource(TabularFilesSource):
    """Reference tables: ``regions.csv``, ``territories.csv``, ``organisations.csv`` (all required).

    Staged tables ``region``, ``territory``, ``organisation`` with exactly the model's columns.
    """

    name = "reference"
    folder = "reference"
    tables = ("region", "territory", "organisation")
    required_tables = ("region", "territory", "organisation")
    _files: ClassVar[dict[str, str]] = {"regions": "region", "territories": "territory", "organisations": "organisation"}

    def table_of(self, relative: Path) -> str | None:
        return self._files.get(relative.stem.lower())

    def expected_file(self, table: str) -> str:
        return {value: key for key, value in self._files.items()}[table] + ".csv"

    def spec(self, table: str, codebook: Codebook) -> TableSpec:
        return model_spec(codebook, table, provenance=False)


# ---------------------------------------------------------------------------------- REDCap export
_REDCAP_HINT = "REDCap exports UTF-8: export the file again from REDCap and do not re-save it in Excel"


def _read_redcap_csv(path: Path, *, rows_required: bool = True) -> pd.DataFrame:
    raw = read_csv_strings(path, hint=_REDCAP_HINT, rows_required=rows_required)
    return raw.table.to_pandas()


#: The project files of a REDCap export folder, by :meth:`RedcapProject.from_frames` argument.
_PROJECT_FILES = {
    "events": "events.csv",
    "form_event_mapping": "form_event_mapping.csv",
    "repeating_forms_events": "repeating_forms_events.csv",
    "dags": "dags.csv",
}


def read_redcap_project(
    raw_dir: Path, *, codebook: Codebook | SurveyProject, records_header: Sequence[str] | None = None
) -> tuple[RedcapProject, dict[str, int]]:
    """The project of a REDCap export folder: its data dictionary and the optional project files.

    A folder with none of ``events.csv``, ``form_event_mapping.csv`` and
    ``repeating_forms_events.csv`` takes the whole structure of the codebook's project (the
    cohort's, or a yearly questionnaire's when ``codebook`` is its
    :class:`~proximite.cohort.codebook.survey_projects.SurveyProject`).
    A folder that gives its own structure must give what its records need
    (:func:`~proximite.cohort.redcap.folder_check.check_structure_files`: the events and the
    form–event mapping of a longitudinal project, the repeating setup when the records have repeat
    columns); without ``repeating_forms_events.csv`` it has no repeating instrument. Without
    ``dags.csv`` the DAG column is not checked; ``project.json`` (REDCap's project information),
    when present, gives the missing-data codes.

    Parameters
    ----------
    raw_dir : Path
        The folder.
    codebook : Codebook, keyword-only
    records_header : sequence of str, optional, keyword-only
        The records file's columns, to check the structure files against.

    Returns
    -------
    project : RedcapProject
    file_rows : dict
        Rows read per file.

    Raises
    ------
    InputError
        The dictionary is missing, a file is unreadable, or structure files the records need are
        missing (every one named at once).
    """
    raw_dir = Path(raw_dir)
    rows: dict[str, int] = {}
    dictionary_path = raw_dir / "data_dictionary.csv"
    if not dictionary_path.is_file():
        raise InputError(dictionary_path, "required file missing", detail="Export the data dictionary with the records")
    dictionary = _read_redcap_csv(dictionary_path)
    rows[dictionary_path.name] = len(dictionary)
    frames: dict[str, pd.DataFrame] = {}
    paths: dict[str, str | Path] = {"metadata": dictionary_path}
    for argument, name in _PROJECT_FILES.items():
        path = raw_dir / name
        if path.is_file():
            frames[argument] = _read_redcap_csv(path, rows_required=False)
            rows[name] = len(frames[argument])
            paths[argument] = path
    info_path = raw_dir / "project.json"
    info = read_project_info(info_path)
    check_structure_files(raw_dir, rows, records_header or (), codebook_fallback=True, declared=info)
    if "events" in frames and "repeating_forms_events" not in frames:
        # The folder gives its own structure: no repeating file means no repeating instrument.
        frames["repeating_forms_events"] = pd.DataFrame({"event_name": [], "form_name": []}, dtype=object)
    if "dags" not in frames:
        log.warning("REDCap export without dags.csv: data access groups are not checked")
    if (raw_dir / "arms.csv").is_file():
        rows["arms.csv"] = len(_read_redcap_csv(raw_dir / "arms.csv", rows_required=False))
    if info_path.is_file():
        paths["info"] = info_path
    missing_data_codes = str(info.get("missing_data_codes") or "") if info_path.is_file() else None
    project = RedcapProject.from_frames(
        dictionary, codebook=codebook, paths=paths, missing_data_codes=missing_data_codes, **frames
    )
    return project, rows


class RedcapExportSource(Source):
    """A REDCap project exported to files (``redcap/``): data dictionary, records and project files.

    Staged tables: one per form (famille, enfant, suivi, besoin, reference, sortie for the cohort
    project); see :func:`proximite.cohort.redcap.records.stage_records`. The yearly
    questionnaires' exports are read the same way (:mod:`proximite.cohort.sources.surveys`).
    """

    name = "redcap"
    folder = "redcap"

    def project_spec(self, codebook: Codebook) -> Any:
        """The project a folder without structure files takes its structure from (the cohort's)."""
        return codebook

    def event_waves(self, settings: Settings) -> Mapping[str, int] | None:
        """``{event: wave}``: a record has one row per wave of a non-repeating form."""
        return settings.event_waves

    def stage(self, raw_dir: Path, *, codebook: Codebook, settings: Settings) -> Staged:
        raw_dir = Path(raw_dir)
        records_path = raw_dir / "records.csv"
        if not records_path.is_file():
            raise InputError(records_path, "required file missing", detail="Export the records (type=flat, rawOrLabel=raw)")
        records = read_csv_strings(records_path, hint=_REDCAP_HINT, rows_required=True)
        project, file_rows = read_redcap_project(
            raw_dir, codebook=self.project_spec(codebook), records_header=records.table.column_names
        )
        file_rows["records.csv"] = records.num_rows
        tables = stage_records(
            records.table, project, event_waves=self.event_waves(settings), path=records_path,
            source_rows=records.source_rows,
        )
        log.info("%s export: %d records rows staged into %d forms", self.folder, records.num_rows, len(tables))
        return Staged(tables, file_rows=file_rows)

"""Ingest an input directory: layer 01 raw (files as received) and layer 02 staged (typed tables).

For every source present in the input directory (``reference/``, ``redcap/``, ``registry/``,
``costs/``; see ``docs/data-layout.md``):

1. every file is copied as received into ``data/01_raw/<source>/<pull_id>/``, encrypted at rest
   with the project's current key (:mod:`proximite.cohort.privacy.storage`; in clear when
   ``[privacy] encrypt_raw`` is false), and made read-only; a ``manifest.json`` (in clear)
   records the source, pull id, reception time (UTC), parameters, each file's relative path,
   size, SHA-256 (of the file as received) and rows read, and the code version;
2. the raw copy (never the input) is read and typed by the source (:mod:`proximite.cohort.sources`),
   from a private temporary folder of decrypted copies removed right after
   (:func:`~proximite.cohort.privacy.storage.plain_view`), and written as Parquet into a hidden
   temporary directory beside the staged pulls;
3. each source's staged tables pass the staged validation gate
   (:func:`proximite.expectations.gates.gate_staged`): a source whose error rules fail is moved
   to ``data/quarantine/<pull_id>/<source>/`` with its report;
4. only when **every** source has staged and passed its gate, the temporary directories are
   renamed to ``data/02_staged/<source>/<pull_id>/`` and each source's ``LATEST`` is pointed at
   the pull.

Before step 1, what a killed ingest or pull left (hidden ``.<pull_id>.partial`` staging folders,
raw folders whose manifest still says "in progress" while their process is gone) is removed
(:func:`proximite.cohort.leftovers.clean_leftovers`; a finished pull's raw folder never is). Step
1 writes each raw folder's manifest first, as "in progress" with this process's id, so that a run
killed outright can be recognised by the next one.

On any error the raw copies stay (they are the evidence, and their manifest says why the pull was
not staged), the temporary directories are removed and every ``LATEST`` keeps pointing at the last
good pull. Errors on input are :class:`~proximite.errors.InputError`: file, row or column,
rule, never a person's values; a refused gate is :class:`~proximite.expectations.gates.GateFailed`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proximite.cohort.leftovers import IN_PROGRESS, clean_leftovers
from proximite.cohort.privacy.storage import plain_view, writing_key
from proximite.cohort.layers import STAGED, StagedGate, mark_latest, new_pull_id, raw_dir, staged_dir
from proximite.cohort.raw import MANIFEST_NAME, as_received, copy_as_received, utc_now, write_manifest
from proximite.cohort.sources import SOURCES, Source, get_source
from proximite.cohort.redcap.refusal import StagingRefused, quarantine_refusal
from proximite.errors import InputError, ProximiteError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.cohort.privacy.encryption import RawKey
    from proximite.config import Settings

__all__ = [
    "ingest",
    "IngestResult",
    "SourceIngest",
    "MANIFEST_NAME",
]

log = logging.getLogger(__name__)

_PULL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

#: ``progress(step, done, total)``: step is :data:`STEP_COPY`, :data:`STEP_STAGE`,
#: :data:`STEP_VALIDATE` or :data:`STEP_COMMIT`.
Progress = Callable[[str, int, int], None]
STEP_COPY = "copy to 01 raw"  # done/total: files
STEP_STAGE = "stage to 02"  # done/total: sources
STEP_VALIDATE = "validate 02"  # done/total: sources
STEP_COMMIT = "commit"  # once, when every source is staged and marked LATEST


@dataclass(frozen=True)
class SourceIngest:
    """What one source's pull produced.

    Attributes
    ----------
    source : str
    pull_id : str
    raw_dir : Path
        ``data/01_raw/<source>/<pull_id>/`` (the files as received and ``manifest.json``).
    staged_dir : Path
        ``data/02_staged/<source>/<pull_id>/`` (one Parquet file per table).
    rows : dict
        Rows per staged table.
    files : int
        Files copied.
    """

    source: str
    pull_id: str
    raw_dir: Path
    staged_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0


@dataclass(frozen=True)
class IngestResult:
    """The outcome of :func:`ingest`: one :class:`SourceIngest` per source ingested."""

    pull_id: str
    sources: dict[str, SourceIngest]

    def __getitem__(self, source: str) -> SourceIngest:
        return self.sources[source]

    def summary(self) -> dict[str, dict[str, Any]]:
        """``{source: {"pull_id", "raw_dir", "staged_dir", "files", "rows": {table: rows}}}`` (JSON-ready; counts only)."""
        return {
            name: {
                "pull_id": result.pull_id,
                "raw_dir": str(result.raw_dir),
                "staged_dir": str(result.staged_dir),
                "files": result.files,
                "rows": dict(result.rows),
            }
            for name, result in self.sources.items()
        }


def _select_sources(input_dir: Path, names: Iterable[str] | None) -> dict[str, tuple[Source, list[Path]]]:
    explicit = names is not None
    if isinstance(names, str):  # sources="registry" means ["registry"], not its letters
        names = [names]
    chosen = list(names) if names is not None else list(SOURCES)
    unknown = [name for name in chosen if name not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source {unknown[0]!r} (sources: {', '.join(SOURCES)})")
    found: dict[str, tuple[Source, list[Path]]] = {}
    for name in chosen:
        source = get_source(name)
        files = source.discover(input_dir)
        if files:
            found[name] = (source, files)
        elif explicit:
            raise InputError(source.source_dir(input_dir), "source folder missing or empty", detail=f"Source '{name}' was asked for")
    if not found:
        folders = ", ".join(f"{get_source(name).folder}/" for name in chosen)
        raise InputError(input_dir, "no source folder", detail=f"Expected one of {folders} (see docs/data-layout.md)")
    return found


def _write_manifest(
    target: Path,
    *,
    source: Source,
    pull_id: str,
    received_at: str,
    input_dir: Path,
    entries: list[dict[str, Any]],
    file_rows: dict[str, int],
    staged: bool,
    error: str | None,
    in_progress: bool = False,
) -> None:
    files = [{**entry, "rows": file_rows.get(entry["path"])} for entry in entries]
    write_manifest(
        target,
        source=source.name,
        pull_id=pull_id,
        received_at=received_at,
        parameters={"input_dir": str(input_dir), "folder": f"{source.folder}/", "reader": type(source).__name__},
        files=files,
        staged=staged,
        error=error,
        in_progress=in_progress,
    )


def ingest(
    input_dir: str | Path,
    *,
    settings: Settings,
    sources: Iterable[str] | None = None,
    pull_id: str | None = None,
    progress: Progress | None = None,
    codebook: Codebook | None = None,
    gate: StagedGate | None = None,
) -> IngestResult:
    """Copy an input directory into layer 01 raw and stage typed tables into layer 02.

    Parameters
    ----------
    input_dir : str or Path
        An input directory laid out as ``docs/data-layout.md`` says.
    settings : Settings, keyword-only
        Where the project's ``data/`` lives, and the event → wave map.
    sources : iterable of str, optional
        Source names to ingest (default: every registered source whose folder is present).
    pull_id : str, optional
        Default: a new sortable id (``20260121T060000Z-1a2b3c``); one id for all sources.
    progress : callable, optional
        ``progress(step, done, total)`` with step ``"copy to 01 raw"`` (files), ``"stage to 02"``
        (sources), ``"validate 02"`` (sources) or ``"commit"``.
    codebook : Codebook, optional
        Default: the packaged codebook.
    gate : callable, optional, keyword-only
        The staged validation gate (:data:`~proximite.cohort.layers.StagedGate`), run on every
        source's candidate before the commit. :func:`proximite.pipeline.stage.ingest` passes the
        project's gate; without one nothing is validated (tests that stage data the gate would
        refuse).

    Returns
    -------
    IngestResult
        Per source: pull id, raw and staged directories, rows per table.

    Raises
    ------
    InputError
        A file breaks a rule (named with its row or column and the rule). The raw copies stay;
        no staged pull is left behind and every ``LATEST`` is unchanged.
    ConfigError
        The project encrypts its raw layer (``[privacy] encrypt_raw``) and has no key; nothing
        is written.
    GateFailed
        An error rule of the staged validation failed for one source or more: each refused
        source is in ``data/quarantine/<pull_id>/<source>/`` with its report; nothing is staged
        and every ``LATEST`` is unchanged.
    ProximiteError
        The pull id is already used.

    Notes
    -----
    All sources of one call are committed together: a bad registry file also keeps the REDCap
    and reference pulls of the same call out of 02 staged, so ``LATEST`` never mixes a new pull
    of one source with a refused pull of another. Every source is validated before the call
    fails, so one run reports every refused source.
    """
    from proximite.cohort.codebook import load_codebook

    input_dir = Path(input_dir).resolve()
    if not input_dir.is_dir():
        raise InputError(input_dir, "input directory not found")
    codebook = codebook or load_codebook()
    pull_id = pull_id or new_pull_id()
    if not _PULL_ID.match(pull_id):
        raise ValueError(f"pull id {pull_id!r} must be letters, digits, '.', '_' or '-'")
    chosen = _select_sources(input_dir, sources)
    key = writing_key(settings)  # no key, no ingest: checked before anything is written
    # What a killed run left (its staging folders, its unfinished raw copies) goes first.
    clean_leftovers(settings, current_pull=pull_id)
    _check_new_pull(chosen, settings=settings, input_dir=input_dir, pull_id=pull_id)
    received_at = utc_now()
    report = progress or (lambda step, done, total: None)
    entries: dict[str, list[dict[str, Any]]] = {}  # a source is here once its raw folder exists
    file_rows: dict[str, dict[str, int]] = {name: {} for name in chosen}
    table_rows: dict[str, dict[str, int]] = {}
    error_text: str | None = None
    try:
        # 1. Layer 01: every file as received, under a manifest that says "in progress".
        _copy_to_raw(
            chosen, settings=settings, input_dir=input_dir, pull_id=pull_id, report=report,
            received_at=received_at, entries=entries, key=key,
        )
        # 2. Layer 02 into temporary directories; 3. commit all at once.
        _stage_and_commit(
            chosen, settings=settings, input_dir=input_dir, pull_id=pull_id, codebook=codebook, gate=gate,
            report=report, file_rows=file_rows, table_rows=table_rows,
        )
    except BaseException as error:
        error_text = str(error) if isinstance(error, ProximiteError) else f"{type(error).__name__} while staging"
        log.warning("pull %s not staged; the raw copies are kept and LATEST is unchanged", pull_id)
        raise
    finally:
        for name, (source, _) in chosen.items():
            if name not in entries:
                continue
            _write_manifest(
                raw_dir(settings, name, pull_id), source=source, pull_id=pull_id, received_at=received_at,
                input_dir=input_dir, entries=entries[name], file_rows=file_rows[name],
                staged=error_text is None, error=error_text,
            )
    return IngestResult(
        pull_id=pull_id,
        sources={
            name: SourceIngest(
                source=name, pull_id=pull_id, raw_dir=raw_dir(settings, name, pull_id),
                staged_dir=staged_dir(settings, name, pull_id), rows=table_rows[name], files=len(entries[name]),
            )
            for name in chosen
        },
    )


def _check_new_pull(chosen: Mapping[str, tuple[Source, list[Path]]], *, settings: Settings, input_dir: Path, pull_id: str) -> None:
    """Refuse a reserved file name or a pull id already used, before anything is written."""
    for name, (source, files) in chosen.items():
        for path in files:
            if path.relative_to(source.source_dir(input_dir)).as_posix() == MANIFEST_NAME:
                raise InputError(path, "reserved file name", detail=f"Ingest writes {MANIFEST_NAME} itself; rename the file")
        target = raw_dir(settings, name, pull_id)
        if target.exists():
            raise ProximiteError(f"{target} already exists: a pull id is used once (01 raw is never edited)")


def _copy_to_raw(
    chosen: Mapping[str, tuple[Source, list[Path]]],
    *,
    settings: Settings,
    input_dir: Path,
    pull_id: str,
    report: Progress,
    received_at: str,
    entries: dict[str, list[dict[str, Any]]],
    key: RawKey | None,
) -> None:
    """Copy every source's files into 01 raw (encrypted with ``key``); fill ``entries`` with their manifest entries.

    Each source's folder gets its in-progress manifest (naming this process) before any file, so
    a run killed while copying or staging leaves a folder the next run knows as abandoned.
    """
    total_files = sum(len(files) for _, files in chosen.values())
    copied = 0

    def tick() -> None:
        nonlocal copied
        copied += 1
        report(STEP_COPY, copied, total_files)

    for name, (source, files) in chosen.items():
        target = raw_dir(settings, name, pull_id)
        target.mkdir(parents=True)
        entries[name] = []
        _write_manifest(
            target, source=source, pull_id=pull_id, received_at=received_at, input_dir=input_dir, entries=[],
            file_rows={}, staged=False, error=IN_PROGRESS, in_progress=True,
        )
        entries[name] = copy_as_received(source, files, input_dir=input_dir, target=target, tick=tick, key=key)
    log.info("pull %s: %d file(s) copied into 01 raw for %s", pull_id, total_files, ", ".join(chosen))


def _stage_and_commit(
    chosen: Mapping[str, tuple[Source, list[Path]]],
    *,
    settings: Settings,
    input_dir: Path,
    pull_id: str,
    codebook: Codebook,
    gate: StagedGate | None,
    report: Progress,
    file_rows: dict[str, dict[str, int]],
    table_rows: dict[str, dict[str, int]],
) -> None:
    """Stage every source into a temporary directory, gate them, then rename all and mark LATEST.

    Fills ``file_rows`` and ``table_rows`` as it goes. On any error the temporary directories
    (and the staged pulls already renamed, unless LATEST was being marked) are removed.
    """
    partial: dict[str, Path] = {}
    committed: list[Path] = []
    marking = False
    try:
        for done, (name, (source, _)) in enumerate(chosen.items(), start=1):
            _stage_source(
                name, source, settings=settings, input_dir=input_dir, pull_id=pull_id, codebook=codebook,
                partial=partial, file_rows=file_rows, table_rows=table_rows,
            )
            report(STEP_STAGE, done, len(chosen))
            log.info("pull %s: %s staged (%s)", pull_id, name, ", ".join(f"{t} {n}" for t, n in table_rows[name].items()))
        if gate is not None:
            gate(dict(partial), pull_id)
        for name, temporary in partial.items():
            final = staged_dir(settings, name, pull_id)
            if final.exists():
                raise ProximiteError(f"{final} already exists: a pull id is used once")
            os.rename(temporary, final)
            committed.append(final)
        marking = True
        for name in chosen:
            mark_latest(settings, name, pull_id)
        report(STEP_COMMIT, len(chosen), len(chosen))
    except BaseException:
        for temporary in partial.values():
            shutil.rmtree(temporary, ignore_errors=True)
        if not marking:
            for final in committed:
                shutil.rmtree(final, ignore_errors=True)
        raise


def _stage_source(
    name: str,
    source: Source,
    *,
    settings: Settings,
    input_dir: Path,
    pull_id: str,
    codebook: Codebook,
    partial: dict[str, Path],
    file_rows: dict[str, dict[str, int]],
    table_rows: dict[str, dict[str, int]],
) -> None:
    """Type one source's raw copy and write its tables as Parquet into ``<staged>/.<pull_id>.partial``."""
    source_raw = raw_dir(settings, name, pull_id)
    received = source.source_dir(input_dir)
    # The sources read by path: decrypted copies in a private temporary folder, removed right after.
    with plain_view(source_raw, settings=settings) as view:
        try:
            tables = source.stage(view, codebook=codebook, settings=settings)
        except StagingRefused as error:  # REDCap records: every defect goes to the quarantine's report
            refused = quarantine_refusal(error, settings=settings, pull_id=pull_id, source=name)
            raise as_received(refused, raw=view, received=received, stored=source_raw) from None
        except InputError as error:
            raise as_received(error, raw=view, received=received, stored=source_raw) from None
    file_rows[name] = dict(getattr(tables, "file_rows", {}))
    temporary = settings.data_dir / STAGED / name / f".{pull_id}.partial"
    if temporary.exists():
        shutil.rmtree(temporary)
    temporary.mkdir(parents=True)
    partial[name] = temporary
    for table, frame in tables.items():
        frame.to_parquet(temporary / f"{table}.parquet", index=False)
    table_rows[name] = {table: len(frame) for table, frame in tables.items()}

"""The validation gates: after ingest (staged, per source) and before the warehouse swap (harmonised).

A gate validates a candidate batch with :func:`proximite.expectations.engine.validate_tables`
and then:

- **always** writes the gate's last result (counts per rule, no row-level data) under
  ``<project>/reporting/validation/`` (``staged-<source>.json``/``.csv``, ``harmonised.json``/``.csv``)
  and lets the engine write Great Expectations Data Docs under ``<project>/reporting/data_docs/``
  (unless ``[validation] data_docs = false``: rebuilding the site is most of a small gate's time);
- **when an error rule fails beyond its threshold** (warnings never block) quarantines the batch::

      data/quarantine/<batch id>/<source or "harmonised">/
          report/          report.html, failures.csv, summary.csv, summary.json (see expectations.report)
          tables/          the refused candidate tables (Parquet), as they would have been committed
          quarantine.json  what was refused, when, by which rules (counts only)

  Every file but ``quarantine.json`` is encrypted at rest when the project encrypts its raw
  layer (the report and the tables hold record ids; :mod:`proximite.cohort.privacy.storage`);

  and raises :class:`GateFailed`, whose message says how many rows broke which rules and where
  the report is. The candidate never becomes ``LATEST`` and the warehouse is not touched: the
  caller runs the gate *before* its commit (ingest, the REDCap pull) or its swap (the build).

Both gates return the :class:`~proximite.expectations.base.ValidationResult` (plain data), so a
flow can publish it as an artifact.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from proximite.errors import ProximiteError
from proximite.cohort.ingest import STEP_VALIDATE
from proximite.cohort.layers import HARMONISED, STAGED, StagedGate, quarantine_dir
from proximite.expectations.base import SUMMARY_COLUMNS, ValidationResult
from proximite.expectations.data_docs_batch import one_data_docs_build
from proximite.expectations.report import REPORT_HTML, ordered_summary, write_report

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = [
    "GateFailed",
    "gate_staged",
    "staged_gate",
    "gate_harmonised",
    "read_tables",
    "write_last_result",
    "validation_reporting_dir",
    "data_docs_dir",
    "QUARANTINE_MANIFEST",
    "with_record_ids",
]

log = logging.getLogger(__name__)

#: Folder names under ``<project>/reporting/``.
VALIDATION_FOLDER = "validation"
DATA_DOCS_FOLDER = "data_docs"
#: Inside a quarantined batch.
REPORT_FOLDER = "report"
TABLES_FOLDER = "tables"
QUARANTINE_MANIFEST = "quarantine.json"
HARMONISED_GATE = "harmonised"


class GateFailed(ProximiteError):
    """A gate refused a batch: an error rule failed beyond its threshold.

    Parameters
    ----------
    result : ValidationResult
        What the gate found.
    report_dir : Path
        The directory holding ``report.html`` and ``failures.csv``.
    quarantine_dir : Path, optional, keyword-only
        Where the refused batch was put.
    others : sequence of GateFailed, keyword-only
        Other sources refused in the same call (an ingest of several sources): their messages
        follow this one.
    top : int, keyword-only
        Rules named in the message (the ones with the most failing rows); the rest are counted.

    Attributes
    ----------
    result : ValidationResult
    report_dir : Path
    quarantine_dir : Path or None
    others : list of GateFailed
    results : list of ValidationResult
        This result then the others'.

    Notes
    -----
    The message holds counts, rule ids, table names and paths, never a value.
    """

    def __init__(
        self,
        result: ValidationResult,
        report_dir: str | Path,
        *,
        quarantine_dir: str | Path | None = None,
        others: Sequence[GateFailed] = (),
        top: int = 3,
    ) -> None:
        self.result = result
        self.report_dir = Path(report_dir)
        self.quarantine_dir = Path(quarantine_dir) if quarantine_dir is not None else None
        self.others = list(others)
        self.top = top
        message = _failure_message(result, self.report_dir, self.quarantine_dir, top=top)
        for other in self.others:
            message += f" Also: {other}"
        super().__init__(message)

    @property
    def results(self) -> list[ValidationResult]:
        return [self.result, *(other.result for other in self.others)]

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle as cls(*args); ours takes other arguments (Prefect pickles task errors).
        return (_restore_gate_failed, (self.result, self.report_dir, self.quarantine_dir, self.others, self.top))


def _restore_gate_failed(
    result: ValidationResult, report_dir: Path, quarantine: Path | None, others: list[GateFailed], top: int
) -> GateFailed:
    return GateFailed(result, report_dir, quarantine_dir=quarantine, others=others, top=top)


def _what(result: ValidationResult) -> str:
    if result.layer == "staged":
        return f"the staged pull {result.pull_id} of source '{result.source}'"
    return f"the harmonised tables {result.pull_id}"


def _failure_message(result: ValidationResult, report_dir: Path, quarantine: Path | None, *, top: int) -> str:
    blocking = ordered_summary(result.blocking)
    failed = pd.to_numeric(blocking["failed"], errors="coerce").fillna(0).astype(int)
    named = [
        f"{count:,} row(s) broke {rule_id} ({table})"
        for count, rule_id, table in zip(
            failed.head(top), blocking["rule_id"].head(top), blocking["table"].head(top), strict=True
        )
    ]
    if len(blocking) > top:
        rest = int(failed.iloc[top:].sum())
        named.append(f"{rest:,} more row(s) broke {len(blocking) - top} other rule(s)")
    if result.layer == "staged":
        kept, fix = "LATEST and the warehouse are unchanged", "then run the pull again"
    else:
        kept, fix = "The last good warehouse stays in place", "pull them again, then build"
    where = f"quarantined in {quarantine}; " if quarantine is not None else ""
    return (
        f"validation refused {_what(result)}: {len(blocking)} blocking rule(s) failed: {'; '.join(named)}. "
        f"The batch is {where}report: {report_dir / REPORT_HTML}. {kept}. "
        f"Fix the rows the report lists at their source (REDCap or the partner's file), {fix}."
    )


# --------------------------------------------------------------------------------------- paths
def validation_reporting_dir(settings: Settings) -> Path:
    """``<project>/reporting/validation/``: each gate's last result (counts per rule)."""
    return settings.reporting_dir / VALIDATION_FOLDER


def data_docs_dir(settings: Settings) -> Path:
    """``<project>/reporting/data_docs/``: Great Expectations Data Docs."""
    return settings.reporting_dir / DATA_DOCS_FOLDER


def _writes_data_docs(settings: Settings) -> bool:
    """``[validation] data_docs`` (default true)."""
    return bool(settings.raw.get("validation", {}).get("data_docs", True))


def read_tables(directory: str | Path) -> dict[str, pd.DataFrame]:
    """The Parquet tables of a staged pull or a layer-03 directory, as ``{table: frame}``."""
    return {path.stem: pd.read_parquet(path) for path in sorted(Path(directory).glob("*.parquet"))}


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_last_result(
    settings: Settings,
    result: ValidationResult,
    *,
    gate: str,
    report: Path | None = None,
    quarantine: Path | None = None,
) -> tuple[Path, Path]:
    """Write a gate's result under ``reporting/validation/``: ``<gate>.json`` and ``<gate>.csv``.

    Parameters
    ----------
    settings : Settings
    result : ValidationResult
    gate : str, keyword-only
        ``staged-<source>`` or ``harmonised``; the files are replaced by the gate's next run.
    report, quarantine : Path, optional, keyword-only
        The row-level report and the quarantined batch, when the gate refused it.

    Returns
    -------
    tuple of Path
        The JSON (:meth:`ValidationResult.to_dict` plus time and paths) and the CSV (one row per
        rule: counts only, never a row of data).
    """
    directory = validation_reporting_dir(settings)
    summary = ordered_summary(result.summary)[SUMMARY_COLUMNS]
    payload = {
        **result.to_dict(),
        "gate": gate,
        "checked_at": _now(),
        "report": str(report) if report is not None else None,
        "quarantine": str(quarantine) if quarantine is not None else None,
    }
    json_path, csv_path = directory / f"{gate}.json", directory / f"{gate}.csv"
    _write_atomic(csv_path, summary.to_csv(index=False, lineterminator="\n"))
    _write_atomic(json_path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return json_path, csv_path


# --------------------------------------------------------------------------------------- engine
def _validate(
    tables: Mapping[str, pd.DataFrame],
    *,
    layer: str,
    settings: Settings,
    source: str | None,
    pull_id: str | None,
    codebook: Codebook | None,
    engine: str,
) -> ValidationResult:
    """Run the validation engine (imported here: it loads Great Expectations lazily itself)."""
    from proximite.expectations.engine import validate_tables

    return validate_tables(
        tables, layer=layer, settings=settings, source=source, pull_id=pull_id, codebook=codebook,  # type: ignore[arg-type]
        engine=engine, data_docs_dir=data_docs_dir(settings) if _writes_data_docs(settings) else None,
    )


def _place_candidate(candidate: Path, target: Path, *, move: bool) -> None:
    """Put the refused tables in the quarantine: moved (a candidate) or copied (a committed pull)."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if move:
        shutil.move(str(candidate), str(target))
    else:
        shutil.copytree(candidate, target)


def _quarantine(
    settings: Settings,
    result: ValidationResult,
    *,
    batch_id: str,
    folder: str,
    candidate: Path,
    move: bool,
) -> tuple[Path, Path]:
    """Write the report and put the candidate under ``data/quarantine/<batch_id>/<folder>/``."""
    from proximite.cohort.privacy.storage import protect_tree, protected_writer

    target = quarantine_dir(settings, batch_id) / folder
    report_dir = target / REPORT_FOLDER
    write_report(result, report_dir, write=protected_writer(settings))
    if candidate.is_dir():
        _place_candidate(candidate, target / TABLES_FOLDER, move=move)
        protect_tree(target / TABLES_FOLDER, settings=settings)  # staged tables in clear until now
    manifest = {
        **result.to_dict(),
        "quarantined_at": _now(),
        "candidate": str(candidate),
        "moved": bool(move),
        "tables": f"{TABLES_FOLDER}/",
        "report": f"{REPORT_FOLDER}/{REPORT_HTML}",
    }
    _write_atomic(target / QUARANTINE_MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return target, report_dir


def _is_candidate(settings: Settings, source: str, directory: Path) -> bool:
    """A hidden directory beside the staged pulls (``.<pull_id>.partial``), not a committed pull."""
    return directory.name.startswith(".") and directory.resolve().parent == (settings.data_dir / STAGED / source).resolve()


# --------------------------------------------------------------------------------------- gates
def staged_gate(
    settings: Settings,
    *,
    codebook: Codebook | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> StagedGate:
    """The staged gate as ingest and the REDCap pull call it: every candidate source, then one refusal.

    Parameters
    ----------
    settings : Settings
    codebook : Codebook, optional, keyword-only
    progress : callable, optional, keyword-only
        ``progress("validate 02", done, total)`` after each source.

    Returns
    -------
    callable
        ``gate({source: candidate directory}, pull_id)``: runs :func:`gate_staged` on every source
        (so one run reports every refused source) and raises one :class:`GateFailed` naming all
        refusals; returns None when every source passes.
    """

    def gate(candidates: Mapping[str, Path], pull_id: str) -> None:
        refused: list[GateFailed] = []
        with one_data_docs_build():  # the sources of one ingest: one build of the site
            for done, (name, directory) in enumerate(candidates.items(), start=1):
                try:
                    gate_staged(settings, source=name, pull_id=pull_id, staged_dir=directory, codebook=codebook)
                except GateFailed as error:  # keep going: the coordinator sees every refused source at once
                    refused.append(error)
                if progress is not None:
                    progress(STEP_VALIDATE, done, len(candidates))
        if refused:
            first, *others = refused
            raise GateFailed(first.result, first.report_dir, quarantine_dir=first.quarantine_dir, others=others)

    return gate


def gate_staged(
    settings: Settings,
    *,
    source: str,
    pull_id: str,
    staged_dir: str | Path,
    codebook: Codebook | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    engine: str = "great_expectations",
) -> ValidationResult:
    """Validate the freshly staged tables of one source before they are committed and marked LATEST.

    Parameters
    ----------
    settings : Settings
    source : str, keyword-only
        ``reference``, ``redcap``, ``registry``, ``cost``, ``partner_survey`` or ``staff_survey``.
    pull_id : str, keyword-only
    staged_dir : str or Path, keyword-only
        The candidate (ingest's and the REDCap pull's hidden ``.<pull_id>.partial`` directory).
        On refusal a candidate is *moved* into the quarantine; a committed pull directory (when
        re-validating) is copied, so ``LATEST`` never points at a missing pull.
    codebook : Codebook, optional, keyword-only
        Default: the engine's (the packaged codebook).
    tables : mapping, optional, keyword-only
        The staged tables already in memory (default: read from ``staged_dir``).
    engine : str, keyword-only
        Passed to :func:`~proximite.expectations.engine.validate_tables`.

    Returns
    -------
    ValidationResult
        When no error rule failed beyond its threshold (warnings never block).

    Raises
    ------
    GateFailed
        An error rule failed: the report and the candidate are in
        ``data/quarantine/<pull_id>/<source>/``; nothing was committed.
    """
    directory = Path(staged_dir)
    frames = dict(tables) if tables is not None else read_tables(directory)
    result = _validate(
        frames, layer="staged", settings=settings, source=source, pull_id=pull_id, codebook=codebook, engine=engine
    )
    return _settle(
        settings, result, gate=f"staged-{source}", batch_id=pull_id, folder=source, candidate=directory,
        move=_is_candidate(settings, source, directory),
    )


def gate_harmonised(
    settings: Settings,
    *,
    harmonised_dir: str | Path,
    codebook: Codebook | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    engine: str = "great_expectations",
) -> ValidationResult:
    """Validate layer 03 as a whole before the warehouse is built from it.

    Parameters
    ----------
    settings : Settings
    harmonised_dir : str or Path, keyword-only
        ``data/03_harmonised/<id>/`` (:func:`~proximite.cohort.pipeline.harmonise_staged`); its name
        is the batch id. On refusal a directory of the project's layer 03 is *moved* into the
        quarantine (it is rebuilt from the staged pulls by the next harmonise); any other
        directory is copied.
    codebook : Codebook, optional, keyword-only
    tables : mapping, optional, keyword-only
        The harmonised tables already in memory (default: read from ``harmonised_dir``).
    engine : str, keyword-only

    Returns
    -------
    ValidationResult

    Raises
    ------
    GateFailed
        An error rule failed: the report and the tables are in
        ``data/quarantine/<id>/harmonised/``; the warehouse is not touched.
    """
    directory = Path(harmonised_dir)
    batch_id = directory.name
    frames = dict(tables) if tables is not None else read_tables(directory)
    result = _validate(
        frames, layer="harmonised", settings=settings, source=None, pull_id=batch_id, codebook=codebook, engine=engine
    )
    result = with_record_ids(result, settings)
    in_layer = directory.resolve().parent == (settings.data_dir / HARMONISED).resolve()
    return _settle(
        settings, result, gate=HARMONISED_GATE, batch_id=batch_id, folder=HARMONISED_GATE, candidate=directory,
        move=in_layer,
    )


_FAMILY_KEY = r"family_id=([0-9a-fA-F]+)"


def with_record_ids(result: ValidationResult, settings: Settings) -> ValidationResult:
    """The result with each failing row's REDCap record id beside its family's pseudonym.

    Harmonised tables know families by pseudonym only; the coordinator fixing a row works in
    REDCap, so the report (theirs, kept in the quarantine) names the record id too, resolved with
    the pseudonym key over the latest staged REDCap pull
    (:func:`~proximite.cohort.record_lookup.record_ids_by_pseudonym`). Without a key or a pull, the
    result is returned as it is.
    """
    failures = result.failures
    if failures.empty or "key" not in failures.columns:
        return result
    families = failures["key"].astype("string").str.extract(_FAMILY_KEY, expand=False)
    if families.isna().all():
        return result
    from proximite.cohort.record_lookup import record_ids_by_pseudonym

    try:
        by_pseudonym = record_ids_by_pseudonym(settings)
    except (ProximiteError, ValueError) as error:  # no key (ConfigError) here: the report keeps the pseudonyms only
        log.info("harmonised report without record ids (%s)", type(error).__name__)
        return result
    found = families.map(by_pseudonym).astype("string")
    record_id = failures["record_id"].astype("string").fillna(found) if "record_id" in failures else found
    return dataclasses.replace(result, failures=failures.assign(record_id=record_id))


def _settle(
    settings: Settings,
    result: ValidationResult,
    *,
    gate: str,
    batch_id: str,
    folder: str,
    candidate: Path,
    move: bool,
) -> ValidationResult:
    """Both gates' ending: record a pass, or quarantine the batch, record the refusal and raise."""
    if result.passed:
        write_last_result(settings, result, gate=gate)
        _log_passed(result)
        return result
    target, report_dir = _quarantine(settings, result, batch_id=batch_id, folder=folder, candidate=candidate, move=move)
    write_last_result(settings, result, gate=gate, report=report_dir / REPORT_HTML, quarantine=target)
    error = GateFailed(result, report_dir, quarantine_dir=target)
    log.warning("%s", error)
    raise error


def _log_passed(result: ValidationResult) -> None:
    failed = pd.to_numeric(result.summary["failed"], errors="coerce").fillna(0) if len(result.summary) else pd.Series(dtype=float)
    warnings = int((~result.summary["passed"].astype(bool)).sum()) if len(result.summary) else 0
    log.info(
        "validation %s%s %s passed: %d rule(s), %d warning(s), %d failing row(s) tolerated or reported",
        result.layer, f" {result.source}" if result.source else "", result.pull_id, len(result.summary), warnings,
        int(failed.sum()),
    )

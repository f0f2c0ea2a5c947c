"""The steps of a pull once its raw directory exists: structure, mode, records, staging, commit.

:func:`run_pull` chains them for :func:`~proximite.cohort.redcap.pull.pull_redcap`;
:func:`choose_mode` decides between a full and an incremental pull, :func:`stage_state` types
the records and, for an incremental pull, merges them with the previous staged state.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from proximite.cohort.layers import StagedGate, staged_dir
from proximite.cohort.redcap.batches import stage_batches
from proximite.cohort.redcap.commit import commit_staged, read_staged_tables
from proximite.cohort.redcap.errors import public_url
from proximite.cohort.redcap.fetch import fetch_deletions, fetch_ids, fetch_records
from proximite.cohort.redcap.incremental import merge_incremental
from proximite.cohort.redcap.mapping import apply_to_pull, mapping_from_settings, with_mapping_fingerprint
from proximite.cohort.redcap.structure import ProjectStructure, check_cohort_project, fetch_structure, project_spec
from proximite.cohort.redcap.watermark import SOURCE, Watermark, iso_utc, server_clock, server_timezone

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.cohort.redcap.client import Client
    from proximite.cohort.redcap.project import RedcapProject
    from proximite.config import Settings

__all__ = ["STEP_STAGE", "PullOutcome", "choose_mode", "run_pull", "stage_state"]

log = logging.getLogger(__name__)

#: The progress step of staging (0/1 then 1/1).
STEP_STAGE = "stage to 02"


@dataclass(frozen=True)
class PullOutcome:
    """What the steps did: records fetched and deleted, rows per staged table, why full or incremental."""

    records: int
    deleted: int
    rows: dict[str, int]
    reason: str


def choose_mode(
    structure: ProjectStructure, previous: Watermark | None, *, url: str, full: bool, previous_pull: str | None
) -> tuple[bool, str]:
    """Whether the pull is incremental, and why (or why not).

    Incremental when ``full`` is false and a previous pull of the same URL and project left a
    watermark with the same structure fingerprint.
    """
    if full:
        return False, "asked for (--full)"
    if previous is None:
        return False, "no previous pull" if previous_pull is None else "the last staged pull has no watermark (it came from files)"
    if previous.url != public_url(url) or (previous.project_id and previous.project_id != structure.project_id):
        return False, "another project than the previous pull"
    if previous.structure != structure.fingerprint:
        return False, "the data dictionary, events or missing-data codes changed since the previous pull"
    return True, f"changes since {iso_utc(previous.server_time)}"


def run_pull(
    client: Client,
    *,
    settings: Settings,
    codebook: Codebook,
    previous: Watermark | None,
    parameters: dict[str, Any],
    batch_size: int,
    pause_seconds: float,
    report: Callable[[str, int, int], None],
    pull_id: str,
    url: str,
    full: bool,
    previous_pull: str | None,
    gate: StagedGate | None = None,
    source: str = SOURCE,
) -> PullOutcome:
    """The pull's steps once the raw directory exists; fills ``parameters`` (mode, watermark, since).

    ``source`` is the project pulled: the cohort's (``redcap``) or a yearly questionnaire's.
    """
    spec = project_spec(codebook, source)
    structure = fetch_structure(client, codebook=spec, parameters=parameters, report=report, source=source)
    # A team's own cohort project: [redcap] mapping (the questionnaires are always the codebook's).
    mapping = mapping_from_settings(settings, codebook=codebook) if source == SOURCE else None
    if mapping is not None:  # checked before any record is read; a changed mapping makes the pull full
        structure = with_mapping_fingerprint(structure, mapping)
        parameters["mapping"] = {"file": mapping.path.name, "sha256": mapping.digest}
    else:  # the codebook's own project: name the forms it lacks before any record is read
        check_cohort_project(structure.project, codebook=spec, source=source)
    incremental, reason = choose_mode(structure, previous, url=url, full=full, previous_pull=previous_pull)
    parameters["mode"] = "incremental" if incremental else "full"
    parameters["reason"] = reason
    since: dt.datetime | None = None
    if incremental:
        assert previous is not None
        parameters["since"] = iso_utc(previous.server_time)
        since = server_clock(previous.server_time - dt.timedelta(seconds=1), timezone=server_timezone(settings))
    record_field = structure.project.record_id_field
    ids = fetch_ids(client, record_field, since=since, report=report)
    deleted = fetch_deletions(client, since=since, changed=ids) if since is not None else []
    fetched, names = fetch_records(
        client, ids, record_field, batch_size=batch_size, pause_seconds=pause_seconds, report=report
    )
    log.info("REDCap pull %s: %d record(s) in %d batch(es), %d deletion(s)", pull_id, len(ids), len(names), len(deleted))

    report(STEP_STAGE, 0, 1)
    if mapping is not None:  # the cohort's names from here on; 01 raw keeps the team's answers as received
        structure, fetched = apply_to_pull(structure, fetched, mapping, codebook=codebook)
    tables, unchanged = stage_state(
        fetched, names, structure, settings=settings, raw=client.raw, previous=previous if incremental else None,
        changed=ids, deleted=deleted, record_url=lambda: record_url_of(client, url, project_id=structure.project_id),
        source=source,
    )
    watermark = Watermark(
        pull_id=pull_id, server_time=structure.server_time, url=public_url(url), project_id=structure.project_id,
        structure=structure.fingerprint, records=_records_in_state(tables),
    )
    commit_staged(
        settings, pull_id, tables, watermark.to_json(mode=parameters["mode"], previous_pull=previous_pull),
        unchanged=unchanged, gate=gate, source=source,
    )
    report(STEP_STAGE, 1, 1)
    return PullOutcome(
        records=len(ids),
        deleted=len(deleted),
        rows={table: (frame.num_rows if isinstance(frame, pa.Table) else len(frame)) for table, frame in tables.items()},
        reason=reason,
    )


def stage_state(
    fetched: Sequence[pa.Table],
    names: Sequence[str],
    structure: ProjectStructure,
    *,
    settings: Settings,
    raw: Path,
    previous: Watermark | None,
    changed: Sequence[str],
    deleted: Sequence[str],
    record_url: Callable[[], str | None] | None = None,
    source: str = SOURCE,
) -> tuple[dict[str, pd.DataFrame | pa.Table], dict[str, Path]]:
    """The new staged state, in the project's form order, and the forms whose previous file stays.

    With ``previous`` (an incremental pull), the fresh rows are merged into that pull's staged
    state; forms the changes did not touch keep the previous pull's file (staged files are never
    edited, so a hard link is as good as a copy and costs nothing).
    """
    project = structure.project
    tables: dict[str, pd.DataFrame | pa.Table]
    unchanged: dict[str, Path] = {}
    staging = {"raw": raw, "settings": settings, "token_group": structure.token_group, "record_url": record_url, "source": source}
    if previous is None:
        tables = dict(stage_batches(fetched, names, project, **staging))
        return _in_form_order(project, tables), unchanged
    fresh = stage_batches(fetched, names, project, **staging) if fetched else {}
    before = read_staged_tables(settings, previous.pull_id, source=source)
    tables = dict(
        merge_incremental(
            before,
            {form: pa.Table.from_pandas(frame, preserve_index=False) for form, frame in fresh.items()},
            changed=changed,
            deleted=deleted,
        )
    )
    unchanged = {
        form: staged_dir(settings, source, previous.pull_id) / f"{form}.parquet"
        for form, table in tables.items()
        if form in before and table is before[form]
    }
    return _in_form_order(project, tables), unchanged


def _in_form_order(project: RedcapProject, tables: Mapping[str, Any]) -> dict[str, Any]:
    """The tables in the dictionary's form order, then any other."""
    return {form: tables[form] for form in [*project.forms, *tables] if form in tables}


def _records_in_state(tables: Mapping[str, pd.DataFrame | pa.Table]) -> int:
    """Distinct record ids over every staged table."""
    distinct = [
        pc.unique(frame["record_id"] if isinstance(frame, pa.Table) else pa.array(frame["record_id"].dropna().unique().astype(object)))
        for frame in tables.values()
    ]
    if not distinct:
        return 0
    return pc.count_distinct(pa.chunked_array([values.cast(pa.string()) for values in distinct], pa.string())).as_py()


def record_url_of(client: Client, url: str, *, project_id: str) -> str | None:
    """The record home page template of this REDCap (``{record}``, ``{arm}``), or None when unknown.

    Asked only when a refusal is written (one ``exportVersion`` request, kept in 01 raw as every
    answer), so a pull that passes makes no extra request. Any failure leaves the links out: a
    report without links is still a report.
    """
    from proximite.cohort.redcap.refusal import record_home_url

    try:
        version = client.fetch(
            "version", "version.txt", lambda p: p.export_version(), parse=lambda data: data.decode("utf-8").strip()
        )
    except Exception:  # noqa: BLE001 - best effort: the refusal matters, not its links
        log.info("REDCap version not available: the refusal report has no record links")
        return None
    return record_home_url(url, version=version, project_id=project_id) if version else None


"""Access-log lines for what the pipeline's steps write or show with REDCap record ids.

Refusal reports (a REDCap export refused record by record at staging, a validation gate's
row-level report) and the follow-up lists (``proximite followups``, the internal snapshot's
follow-up page) carry REDCap record ids: the coordinator's own outputs. The step that writes one
appends a line to the project's access log
(:func:`proximite.cohort.privacy.access_log.record_access`): counts and the report's folder, never
a record id.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from proximite.cohort.privacy.access_log import AccessLogError, record_access

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = ["followup_counts", "log_followups", "log_refusal", "logging_refusals", "refusal_counts"]

log = logging.getLogger(__name__)

#: Reasons of a follow-up list whose record ids were never looked up (no key, no pull, not asked).
_NOT_LOOKED_UP = frozenset({"no_key", "no_pull", "not_asked"})


def _record_count(frame: pd.DataFrame) -> int:
    if "record_id" not in frame.columns:
        return 0
    return int(frame["record_id"].dropna().astype(str).replace("", pd.NA).dropna().nunique())


def refusal_counts(error: BaseException) -> tuple[dict[str, int], list[Path]] | None:
    """The counts of the refusal reports an error wrote, and their folders; None for another error.

    A staging refusal (:class:`~proximite.cohort.redcap.refusal.StagingRefused`) counts its
    defects and their records; a gate's refusal
    (:class:`~proximite.expectations.gates.GateFailed`, with the sources refused with it) its
    failing rows and their records.
    """
    from proximite.cohort.redcap.refusal import StagingRefused
    from proximite.expectations.gates import GateFailed

    if isinstance(error, StagingRefused):
        folders = [Path(error.report_dir)] if error.report_dir is not None else []
        return {"defects": len(error.defects), "records": _record_count(error.defects)}, folders
    if isinstance(error, GateFailed):
        failures = [result.failures for result in error.results]
        records = sum(_record_count(frame) for frame in failures)
        folders = [Path(error.report_dir)] + [Path(other.report_dir) for other in error.others]
        return {"failing_rows": sum(len(frame) for frame in failures), "records": records}, folders
    return None


def _relative(path: Path, settings: Settings) -> str:
    try:
        return path.resolve().relative_to(settings.project_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


def log_refusal(settings: Settings, error: BaseException, *, command: str) -> dict[str, Any] | None:
    """Append the line of a refusal report that names REDCap records; None when it names none.

    A log that cannot be written is reported in the process's log: the refusal itself (the
    error the coordinator acts on) goes on being raised by the caller.
    """
    found = refusal_counts(error)
    if found is None or not found[0]["records"]:
        return None
    counts, folders = found
    detail = "report " + "; ".join(_relative(folder, settings) for folder in folders)
    try:
        return record_access(settings, command, counts, detail=detail[:300])
    except AccessLogError as failure:
        log.error("refusal report not recorded in the access log: %s", failure)
        return None


@contextlib.contextmanager
def logging_refusals(settings: Settings, *, command: str) -> Iterator[None]:
    """Run a block; a refusal report with record ids it raises is logged (:func:`log_refusal`), then re-raised."""
    from proximite.cohort.redcap.refusal import StagingRefused
    from proximite.expectations.gates import GateFailed

    try:
        yield
    except (StagingRefused, GateFailed) as error:
        log_refusal(settings, error, command=command)
        raise


def followup_counts(due: pd.DataFrame) -> dict[str, int]:
    """Rows, families and record ids of a follow-up list."""
    shown = int(due["record_id"].notna().sum()) if "record_id" in due.columns else 0
    return {"rows": len(due), "families": int(due["family_id"].nunique()), "record_ids": shown}


def log_followups(
    settings: Settings, due: pd.DataFrame, *, reason: str | None, command: str, detail: str | None = None
) -> dict[str, Any] | None:
    """Append the line of a follow-up list whose record ids were looked up; None when they were not.

    Parameters
    ----------
    settings : Settings
    due : DataFrame
        The list as shown or written (``family_id``, ``record_id``).
    reason : str or None, keyword-only
        :attr:`~proximite.cohort.followups.FollowupReport.record_ids_reason`: ``no_key``,
        ``no_pull`` and ``not_asked`` mean no record id was read, and nothing is logged.
    command, detail : str, keyword-only
        As :func:`~proximite.cohort.privacy.access_log.record_access` takes them.

    Raises
    ------
    AccessLogError
        The line cannot be written: the caller shows nothing.
    """
    if reason in _NOT_LOOKED_UP or "record_id" not in due.columns:
        return None
    return record_access(settings, command, followup_counts(due), detail=detail)

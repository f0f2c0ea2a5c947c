"""The privacy steps of a run: consent withdrawals before harmonising, retention after a good build."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from proximite.cohort.privacy.access_log import record_retention, record_withdrawal
from proximite.cohort.privacy.retention import ReducedPull, apply_retention, plan_retention
from proximite.cohort.privacy.withdrawal import WithdrawalReport, apply_withdrawals
from proximite.config import Settings

__all__ = ["apply_raw_retention", "withdraw_families"]

log = logging.getLogger(__name__)


def withdraw_families(settings: Settings, *, key: bytes, record_ids: Iterable[str] = (), via: str = "redcap") -> WithdrawalReport:
    """Record the withdrawal requests (the exit form's, and ``record_ids``) and destroy the families' rows.

    Runs before harmonisation, so that the warehouse, the indicators and the snapshot that follow
    are made without them. Logs counts only, and appends them to the access log when anything
    was requested or removed.
    """
    report = apply_withdrawals(settings, key=key, record_ids=record_ids, via=via)
    if report.families or report.new_requests:
        # The raw pulls holding identifiers were read and rewritten: the access log says so (counts only).
        record_withdrawal(settings, report.to_dict(), detail=f"via {via}")
        log.info(
            "consent withdrawal: %d new request(s); %d family(ies) removed from %d raw file(s), %d staged table(s), "
            "%d quarantine file(s); %d snapshot(s) superseded",
            report.new_requests, report.families, report.raw_files, report.staged_files, report.quarantine_files,
            len(report.snapshots_superseded),
        )
    return report


def apply_raw_retention(settings: Settings, *, dry_run: bool = False) -> tuple[list[ReducedPull], dict[str, Any]]:
    """Reduce the raw pulls older than ``[privacy] raw_retention_days`` (see :mod:`~proximite.cohort.privacy.retention`).

    Returns
    -------
    plan : list of ReducedPull
        The pulls due (all of them shown by a dry run).
    counts : dict
        ``pulls``, ``files``, ``columns`` reduced (zeros for a dry run).
    """
    plan = plan_retention(settings)
    if dry_run:
        return plan, {"pulls": 0, "files": 0, "columns": 0}
    counts = apply_retention(settings, plan)
    if counts["pulls"]:
        record_retention(settings, counts)
        log.info("retention: %d raw pull(s) reduced (%d file(s), %d identifier column(s) removed)", counts["pulls"], counts["files"], counts["columns"])
    return plan, counts

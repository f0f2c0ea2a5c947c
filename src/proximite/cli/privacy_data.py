"""``proximite privacy withdraw`` and ``proximite privacy retention``: destruction and retention of families' data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from proximite.cli.common import ProjectDir, console, user_errors

__all__ = ["retention", "withdraw"]


def withdraw(
    record: Annotated[list[str], typer.Option("--record", "-r", help="REDCap record id of a family who withdrew its data (repeatable).")],
    project_dir: ProjectDir = Path("."),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts).")] = False,
) -> None:
    """Destroy the data of families who withdrew their consent and their data, on a coordinator's request.

    The same as the exit form's "participation and data" (``sortie_retrait``) for a request
    received outside REDCap: the record ids enter the project's withdrawal ledger (as keyed
    tokens, never in clear), their rows are removed now from every raw pull (the pull's manifest
    records the redaction), staged pull and quarantine report, layer 03 is cleared, and the
    snapshots written so far are listed as superseded. The next build and snapshot are made
    without them, and later pulls are cleared of them even while REDCap still holds the record.
    """
    from proximite import pipeline
    from proximite.config import load_settings, pseudonym_key

    with user_errors():
        settings = load_settings(project_dir)
        key, _origin = pseudonym_key(settings)
        if not yes:
            typer.confirm(
                f"Destroy the data of {len(set(record))} famil{'y' if len(set(record)) == 1 else 'ies'} in every layer of "
                f"{settings.project_dir}? This cannot be undone", abort=True,
            )
        report = pipeline.withdraw_families(settings, key=key, record_ids=record, via="command")
        counts = report.to_dict()
        console.print(
            f"{counts['new_requests']} new request(s) recorded; {counts['families']} family(ies) found and removed: "
            f"{counts['raw_rows']} raw row(s) in {counts['raw_files']} file(s), {counts['staged_rows']} staged row(s), "
            f"{counts['quarantine_files']} quarantine file(s); {counts['snapshots_superseded']} snapshot(s) superseded.",
            highlight=False,
        )
        if len(set(record)) > counts["families"]:
            console.print(
                "Some record ids are in no pull of this project yet: they stay in the ledger and are removed from any later pull.",
                highlight=False,
            )
        console.print("Run `proximite build` and `proximite snapshot` (or the pipeline) to rebuild the warehouse and the snapshot without them.")


def retention(
    project_dir: ProjectDir = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the raw pulls due, change nothing.")] = False,
) -> None:
    """Reduce the raw pulls older than the retention period (raw_retention_days, 90 days by default).

    What stays is what the audit trail needs. Their identifier columns (as the pull's own data dictionary flags them) and the values quoted by
    REDCap's project log leave the files; manifests, row counts and SHA-256 stay, and the
    manifest records the reduction. The scheduled pipeline applies it after every good build.
    """
    from proximite import pipeline
    from proximite.cohort.privacy.retention import raw_retention_days
    from proximite.config import load_settings

    with user_errors():
        settings = load_settings(project_dir)
        plan, counts = pipeline.apply_raw_retention(settings, dry_run=dry_run)
        days = raw_retention_days(settings)
        if not plan:
            console.print(f"No raw pull older than {days} days holds identifier columns.")
            return
        table = Table(title=f"Raw pulls older than {days} days" + (" (dry run: nothing changed)" if dry_run else " (reduced)"))
        for column in ("source", "pull id", "received", "files", "columns removed"):
            table.add_column(column)
        for item in plan:
            row = item.to_dict()
            table.add_row(row["source"], row["pull_id"], row["received_at"], str(row["files"]), ", ".join(row["columns_removed"]))
        console.print(table)
        if not dry_run:
            console.print(f"{counts['pulls']} pull(s) reduced: {counts['files']} file(s), {counts['columns']} column(s) removed.")

"""What a coordinator checks: the project's status (pulls, build, snapshot, quarantine) and the
follow-ups due per territory (``proximite status``, ``proximite followups``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from proximite.cli.common import ProjectDir, console, parse_date, user_errors

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from proximite.cohort.followups import FollowupReport

__all__ = ["followups", "status"]


def followups(
    project_dir: ProjectDir = Path("."),
    territory: Annotated[
        Optional[list[str]], typer.Option("--territory", "-t", help="Only this territory id (repeatable); default: all.")
    ] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="The day the list is for (YYYY-MM-DD); default: today.")] = None,
    status: Annotated[
        Optional[list[str]],
        typer.Option("--status", help="Only follow-ups with this status: open, closing or overdue (repeatable)."),
    ] = None,
    csv: Annotated[
        Optional[Path], typer.Option("--csv", help="Also write the list to this CSV file, and <stem>.completion.csv beside it.")
    ] = None,
) -> None:
    """List, per territory, the families whose next wave window is open, closing within 14 days, or overdue.

    Then completion and attrition by wave, and a count by status. Each family shows its
    pseudonymous id and its REDCap record id, resolved with the pseudonym key over the latest
    staged REDCap pull; without the key or the pull, or for a family not in it, the record id is
    left empty and a line says why. A list with record ids adds a line to the project's access
    log (privacy/access.log: who, when, how many rows, families and record ids) before it is shown.
    """
    from proximite.cohort.followups import FOLLOWUP_STATUSES, FollowupError, followups_from_warehouse
    from proximite.config import load_settings
    from proximite.pipeline.access import log_followups

    unknown = sorted(set(status or ()) - set(FOLLOWUP_STATUSES))
    if unknown:
        raise typer.BadParameter(f"status must be open, closing or overdue (got {', '.join(unknown)})")
    with user_errors():
        try:
            as_of_date = parse_date(as_of) if as_of else None
        except typer.BadParameter as error:
            raise FollowupError(f"--as-of: {error.message}") from None
        settings = load_settings(project_dir)
        report = followups_from_warehouse(settings, as_of=as_of_date, territories=territory or None)
        due = report.due if not status else report.due[report.due["status"].isin(status)].reset_index(drop=True)
        # Record ids are shown (and written) only once the access log has the line.
        detail = f"csv {csv.resolve()}"[:300] if csv is not None else None
        log_followups(settings, due, reason=report.record_ids_reason, command="followups", detail=detail)
    _print_followups(report, due)
    counts = due["status"].value_counts()
    summary = ", ".join(f"{int(counts.get(name, 0)):,} {name}" for name in reversed(FOLLOWUP_STATUSES) if not status or name in status)
    console.print(
        f"{len(due):,} follow-up(s) due on {report.as_of.isoformat()} ({summary}; closing = window ends within "
        f"{report.closing_days} days), warehouse build {report.build_id}.",
        highlight=False,
    )
    note = _record_ids_note(report.record_ids_reason, missing=int(due["record_id"].isna().sum()), detail=report.record_ids_detail)
    if note:
        console.print(note, highlight=False, soft_wrap=True)
    if csv is not None:
        completion_path = csv.with_name(f"{csv.stem}.completion.csv")
        with user_errors():
            _write_followup_csv(due, report.completion, due_path=csv, completion_path=completion_path)
        console.print(f"Follow-ups written to {csv} ({len(due):,} rows); completion and attrition to {completion_path}.",
                      highlight=False, soft_wrap=True)


def _record_ids_note(reason: str | None, *, missing: int, detail: str) -> str | None:
    """The one line saying why record id cells are empty (None when none is)."""
    if reason is None or missing == 0:
        return None
    if reason == "no_key":
        return f"Record ids left empty: {detail}."
    if reason == "no_pull":
        return ("Record ids left empty: the project has no staged REDCap pull to resolve pseudonyms against "
                "(`proximite pull redcap` or `proximite ingest` first).")
    return (f"{missing:,} family(ies) not found in the latest staged REDCap pull, record id left empty: a family from "
            "another source, another pseudonym key, or a record deleted in REDCap since.")


def _print_followups(report: FollowupReport, due: pd.DataFrame) -> None:
    """One table of due follow-ups per territory, then completion and attrition by wave."""
    import pandas as pd
    from rich import box

    for territory_id in report.territories:
        rows = due[due["territory_id"] == territory_id]
        name = report.territory_names.get(territory_id, "")
        title = f"{territory_id} {name}".strip()
        if rows.empty:
            console.print(f"[bold]{title}[/]: no follow-up due.", highlight=False)
            continue
        table = Table(
            title=f"{title}: {len(rows):,} follow-up(s) due",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            padding=(0, 0),  # one space between columns: fits an 80-column terminal without cutting an id
        )
        # Ids and dates are never cut: the record id is what the coordinator opens in REDCap.
        table.add_column("family id", no_wrap=True, min_width=16)
        table.add_column("record\nid", no_wrap=True)
        table.add_column("wave", no_wrap=True)
        table.add_column("due date", no_wrap=True, min_width=10)
        table.add_column("window", no_wrap=True, min_width=23)
        table.add_column("status", no_wrap=True, min_width=7)
        table.add_column("days\nleft", justify="right")
        style = {"overdue": "bold red", "closing": "yellow", "open": ""}
        for row in rows.itertuples(index=False):
            table.add_row(
                str(row.family_id),
                "" if pd.isna(row.record_id) else str(row.record_id),
                f"T{int(row.wave)}",
                f"{row.due_date:%Y-%m-%d}",
                f"{row.window_start:%Y-%m-%d} – {row.window_end:%Y-%m-%d}",
                f"[{style[row.status]}]{row.status}[/]" if style[row.status] else str(row.status),
                f"{int(row.days_left):,}",
            )
        console.print(table)
    completion = report.completion
    table = Table(
        title=f"Completion and attrition by wave, on {report.as_of.isoformat()}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("territory", "wave", "due", "completed", "missed", "exited", "completion", "attrition"):
        table.add_column(column, justify="left" if column in {"territory", "wave"} else "right", no_wrap=True)
    percent = lambda value: "–" if pd.isna(value) else f"{100 * value:.1f} %"  # noqa: E731
    # The total of the territories shown comes last.
    ordered = pd.concat([completion[completion["territory_id"] != "all"], completion[completion["territory_id"] == "all"]])
    for row in ordered.itertuples(index=False):
        table.add_row(
            str(row.territory_id),
            f"T{int(row.wave)}",
            f"{int(row.due):,}",
            f"{int(row.completed):,}",
            f"{int(row.missed):,}",
            f"{int(row.exited):,}",
            percent(row.completion_rate),
            percent(row.attrition_rate),
        )
    if completion.empty:
        console.print("Completion and attrition: no wave due yet.")
    else:
        console.print(table)


def _write_followup_csv(due: pd.DataFrame, completion: pd.DataFrame, *, due_path: Path, completion_path: Path) -> None:
    """The due list and the completion table as CSV (UTF-8 with BOM for spreadsheets, dates as YYYY-MM-DD)."""
    due_path.parent.mkdir(parents=True, exist_ok=True)
    due.to_csv(due_path, index=False, encoding="utf-8-sig", date_format="%Y-%m-%d", lineterminator="\n")
    completion.to_csv(completion_path, index=False, encoding="utf-8-sig", lineterminator="\n")


def status(
    project_dir: ProjectDir = Path("."),
    limit: Annotated[int, typer.Option(help="How many pulls to list (newest first).", min=1)] = 10,
) -> None:
    """What a coordinator checks first: the last pulls, the current warehouse build, the last snapshot.

    Read from the project's own files (the raw layer's manifests, the warehouse's build table,
    the snapshots' manifests, the quarantine folder); nothing is recomputed. Counts and ids only.
    """
    from proximite.cohort.status import interrupted_leftovers, project_status
    from proximite.config import load_settings

    with user_errors():
        settings = load_settings(project_dir)
        state = project_status(settings, limit=limit)
        leftovers = interrupted_leftovers(settings)
    _print_leftovers(leftovers)
    if not state["pulls"] and state["build"] is None and state["snapshot"] is None and not state["quarantined"] and not leftovers:
        console.print(
            f"Nothing in {settings.project_dir} yet: no pull, no warehouse, no snapshot. Start with "
            f"`proximite ingest INPUT_DIR --project-dir {project_dir}` (or `proximite pull redcap`), then `proximite build`.",
            highlight=False,
            soft_wrap=True,
        )
        return
    _print_pulls(state["pulls"])
    _print_refusals(settings, limit=limit)
    build_info = state["build"]
    if build_info is None:
        console.print("Warehouse: none built yet (`proximite build`).")
    else:
        console.print(
            f"Warehouse build {build_info['build_id']}, built {_short_time(build_info['built_at'])} UTC:", highlight=False
        )
        table = Table()
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, rows in sorted(build_info["row_counts"].items()):
            table.add_row(name, f"{int(rows):,}")
        console.print(table)
        console.print(f"Warehouse: {build_info['path']}", highlight=False, soft_wrap=True)
    snapshot_info = state["snapshot"]
    if snapshot_info is None:
        console.print("Snapshot: none written yet (`proximite snapshot`).")
    else:
        level = (snapshot_info.get("disclosure") or {}).get("level", "?")
        console.print(
            f"Last snapshot: {snapshot_info['path']} (generated {snapshot_info.get('generated_at', '?')}, level {level}, "
            f"scope {snapshot_info.get('scope', '?')}, build {snapshot_info.get('data_version', '?')})",
            highlight=False,
            soft_wrap=True,
        )
    if state["superseded"]:
        console.print(
            f"Superseded by a consent withdrawal (written before it; do not share): {', '.join(state['superseded'])}"
            + (" — including the last snapshot: run `proximite snapshot` again." if snapshot_info and snapshot_info.get("superseded") else ""),
            highlight=False,
            soft_wrap=True,
        )
    quarantined = state["quarantined"]
    if quarantined:
        from proximite.cohort import layers

        console.print(
            f"Quarantined batches: {len(quarantined)} in {settings.data_dir / layers.QUARANTINE} "
            f"(newest {quarantined[-1]}; each has report.html and failures.csv{_ENCRYPTED_NOTE}).",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print("Quarantined batches: none.")


#: The quarantine's reports name record ids: they are encrypted at rest, and this opens one.
_ENCRYPTED_NOTE = "; encrypted at rest: `proximite privacy open-report <folder>` decrypts a copy to read"


def _short_time(value: object) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM:SS`` in UTC (the raw text when it is not one)."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "?")
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _print_pulls(pulls: list[dict[str, object]]) -> None:
    if not pulls:
        console.print("Pulls: none yet.")
        return
    table = Table(title="Last pulls (newest first; * = the pull the next build uses)")
    for column in ("time (UTC)", "source", "pull id", "rows", "mode", "outcome"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for pull in pulls:
        outcome = str(pull["outcome"])
        if pull.get("error"):
            outcome = f"{outcome}: {pull['error']}"
        rows = pull.get("rows")
        table.add_row(
            _short_time(pull.get("received_at")),
            str(pull["source"]),
            f"{pull['pull_id']}{' *' if pull.get('latest') else ''}",
            f"{rows:,}" if isinstance(rows, int) else "",
            str(pull.get("mode") or ""),
            outcome,
        )
    console.print(table)


def _print_refusals(settings: object, *, limit: int) -> None:
    """The batches a gate refused, newest first, each with its quarantine folder and report."""
    from proximite.cohort.status import gate_refusals

    refusals = gate_refusals(settings, limit=limit)  # type: ignore[arg-type]
    if not refusals:
        return
    console.print(
        f"Refused by a validation gate (newest first; fix the records the report lists, then run again{_ENCRYPTED_NOTE}):",
        highlight=False,
        soft_wrap=True,
    )
    for refusal in refusals:
        what = f"{refusal['source']} pull {refusal['batch_id']}" if refusal["gate"] == "staged" else f"harmonised tables {refusal['batch_id']}"
        console.print(
            f"- {_short_time(refusal['quarantined_at'])} UTC, {refusal['gate']} gate refused {what}: "
            f"{refusal['rows']:,} failing row(s) break {refusal['rules']} rule(s) ({', '.join(refusal['rule_ids'][:3])}); "
            f"quarantine: {refusal['quarantine']}; report: {refusal['report']}",
            highlight=False,
            soft_wrap=True,
        )


def _print_leftovers(leftovers: list[dict[str, object]]) -> None:
    """What killed runs left (staging folders, unfinished raw pulls holding identifiers), one line each."""
    if not leftovers:
        return
    console.print(
        f"Left by interrupted runs: {len(leftovers)} (the next `proximite ingest` or `proximite pull redcap` "
        "removes them; one still listed after that could not be removed: remove it by hand):",
        highlight=False,
        soft_wrap=True,
    )
    for item in leftovers:
        console.print(
            f"- {item['kind']} of {item['source']} pull {item['pull_id']}: {item['path']} ({item['reason']})",
            highlight=False,
            soft_wrap=True,
        )

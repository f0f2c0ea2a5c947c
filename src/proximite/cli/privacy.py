"""``proximite privacy``: the access log (``log``), the privacy inventory (``inventory``), consent
withdrawal (``withdraw``) and retention (``retention``, both in :mod:`proximite.cli.privacy_data`),
the raw layer's keys (``rotate-key``, ``encrypt-existing``, ``open-report``: :mod:`proximite.cli.privacy_keys`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from proximite.cli.common import ProjectDir, console, user_errors

__all__ = ["privacy_app"]

privacy_app = typer.Typer(
    help="Privacy controls: consent withdrawal with data destruction, retention of raw pulls, the raw layer's encryption keys, the access log of identifying data, the privacy inventory for an impact assessment.",
    no_args_is_help=True,
    add_completion=False,
)

#: ``--lang`` of the inventory → the languages written.
_LANGS = {"fr": ("fr",), "en": ("en",), "both": ("fr", "en")}


@privacy_app.command("log")
def log_command(
    project_dir: ProjectDir = Path("."),
    last: Annotated[Optional[int], typer.Option("--last", help="Only the last N entries.", min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entries as a JSON array instead of a table.")] = False,
) -> None:
    """Show the project's access log (privacy/access.log), oldest first.

    One entry per read of identifying data or coordinator output with REDCap record ids
    (`proximite lookup`, `proximite followups`, the internal snapshot's follow-up page, refusal
    reports): the time (UTC), the operating-system user, the command and counts; never a value.
    """
    from proximite.cohort.privacy.access_log import access_log_path, read_access_log
    from proximite.config import load_settings

    with user_errors():
        settings = load_settings(project_dir)
        entries = read_access_log(settings)
    shown = entries[-last:] if last else entries
    if as_json:
        typer.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    if not entries:
        console.print(f"No access recorded yet in {access_log_path(settings)}.", highlight=False, soft_wrap=True)
        return
    table = Table(title=f"Access log ({len(shown):,} of {len(entries):,} entries)", title_justify="left")
    for column in ("time (UTC)", "user", "command", "counts", "detail"):
        table.add_column(column, no_wrap=column in {"time (UTC)", "user"}, overflow="fold")
    for entry in shown:
        # One count per line: the table fits a narrow terminal without cutting a name.
        counts = "\n".join(f"{name} {value:,}" for name, value in entry["counts"].items())
        table.add_row(
            str(entry["time"]).replace("T", " ").rstrip("Z"), str(entry["user"]), str(entry["command"]), counts,
            str(entry.get("detail") or ""),
        )
    console.print(table)
    console.print(f"Log: {access_log_path(settings)}", highlight=False, soft_wrap=True)


@privacy_app.command("inventory")
def inventory_command(
    project_dir: ProjectDir = Path("."),
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Folder to write into (default: <reporting>/privacy-inventory/).")
    ] = None,
    lang: Annotated[str, typer.Option(help="Language: fr, en or both.")] = "both",
) -> None:
    """Write the privacy inventory (Markdown and HTML) for a privacy impact assessment.

    Every field of every source (the REDCap cohort forms, the yearly questionnaires, the
    registry, costs, reference tables, the qualitative register and coding) with its identifier
    flag, the layers that hold it (01 raw to 05 reporting), who sees it and for how long; the
    raw retention, the small-cell rule, where the keys live and the access log's location.
    Built from the codebook and the sources' declared columns; it refuses to write an inventory
    that misses an identifier field or lets one leave layer 01. It holds no value.
    """
    from proximite.cohort.codebook import load_codebook
    from proximite.cohort.privacy.inventory import build_inventory, check_coverage
    from proximite.cohort.privacy.inventory_pages import inventory_documents
    from proximite.config import load_settings
    from proximite.pipeline.indicators import INDICATORS
    from proximite.version import code_version

    if lang not in _LANGS:
        raise typer.BadParameter("lang must be fr, en or both")
    with user_errors():
        settings = load_settings(project_dir)
        codebook = load_codebook()
        inventory = build_inventory(settings, indicators_folder=INDICATORS, codebook=codebook)
        check_coverage(inventory, codebook)
        documents = inventory_documents(inventory, langs=_LANGS[lang], generated=dt.date.today(), code_version=code_version())
        folder = out if out is not None else settings.reporting_dir / "privacy-inventory"
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in documents.items():
            (folder / name).write_text(text, encoding="utf-8")
    rows = inventory.rows
    identifiers = int(rows["identifier"].sum())
    console.print(
        f"Privacy inventory: {len(rows):,} rows ({identifiers:,} identifying, each held in layer 01 only), "
        f"written to {folder}: {', '.join(documents)}.",
        highlight=False,
        soft_wrap=True,
    )


from proximite.cli.privacy_data import retention, withdraw  # noqa: E402 - registered after the group exists
from proximite.cli.privacy_keys import encrypt_existing, open_report, rotate_key  # noqa: E402

privacy_app.command("withdraw")(withdraw)
privacy_app.command("retention")(retention)
privacy_app.command("rotate-key")(rotate_key)
privacy_app.command("encrypt-existing")(encrypt_existing)
privacy_app.command("open-report")(open_report)

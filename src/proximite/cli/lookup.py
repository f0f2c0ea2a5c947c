"""``proximite lookup``: a family's REDCap record id from its pseudonym (coordinators only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from proximite.cli.common import ProjectDir, console, user_errors

__all__ = ["lookup"]


def lookup(
    family_ids: Annotated[list[str], typer.Argument(help="Pseudonymous family ids (family_id), as reports show them.")],
    project_dir: ProjectDir = Path("."),
) -> None:
    """Show the REDCap record id of each pseudonymous family id, to reach the record in REDCap.

    The ids are resolved with the project's pseudonym key over the records of the latest
    staged REDCap pull; an id no record of that pull hashes to is said so (another key, another
    project, or a record deleted since). Exits with status 1 when an id is not found.

    Each lookup adds a line to the project's access log (privacy/access.log: who, when, how many
    ids asked and found; never an id) before anything is shown.
    """
    from proximite.cohort.privacy.access_log import record_access
    from proximite.cohort.record_lookup import lookup_records, record_ids_by_pseudonym
    from proximite.config import load_settings

    with user_errors():
        settings = load_settings(project_dir)
        found = lookup_records(family_ids, record_ids_by_pseudonym(settings))
        resolved = sum(record is not None for record in found.values())
        record_access(settings, "lookup", {"asked": len(found), "found": resolved, "not_found": len(found) - resolved})
    table = Table(title="Pseudonym → REDCap record")
    table.add_column("family_id")
    table.add_column("record_id")
    for family, record in found.items():
        table.add_row(family, record if record is not None else "— not found")
    console.print(table)
    missing = [family for family, record in found.items() if record is None]
    if missing:
        console.print(
            f"{len(missing)} id(s) not found in the latest staged REDCap pull: check the project directory and "
            "its pseudonym key, or the record was deleted in REDCap since.",
            highlight=False,
        )
        raise typer.Exit(1)

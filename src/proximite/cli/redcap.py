"""``proximite redcap``: bring your own REDCap project (the mapping to the cohort's names)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from proximite.cli.common import console, user_errors

__all__ = ["redcap_app"]

redcap_app = typer.Typer(help="Bring your own REDCap project: map it to the cohort's names.", no_args_is_help=True, add_completion=False)


@redcap_app.command("map")
def map_command(
    out: Annotated[Path, typer.Option("--out", help="The mapping YAML to write (with --init) or to check.")],
    init: Annotated[bool, typer.Option("--init", help="Draft a new mapping from the project's data dictionary.")] = False,
    url: Annotated[Optional[str], typer.Option(help="The REDCap API URL (ends in /api/).")] = None,
    dictionary: Annotated[
        Optional[Path], typer.Option("--dictionary", help="The project's data dictionary CSV (offline, instead of --url).")
    ] = None,
    token_env: Annotated[
        str, typer.Option("--token-env", help="Environment variable that holds the API token.")
    ] = "PROXIMITE_REDCAP_TOKEN",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing mapping file.")] = False,
) -> None:
    """Draft (--init) or check the mapping of your REDCap project to the cohort's forms, fields, events, DAGs and codes.

    With --init, fields are matched on names and labels (exact, then near: difflib ratio >= 0.8);
    every field left unmatched is listed here and as comments in the YAML. Without --init, the
    mapping in --out is checked against the cohort and the project, every defect listed.
    """
    from proximite.cohort.redcap.mapping import check_against_project, load_mapping, unmapped_required
    from proximite.cohort.redcap.mapping_draft import draft_mapping, draft_yaml

    from proximite.errors import ProximiteError

    with user_errors():
        team, source = _team_project(url=url, dictionary=dictionary, token_env=token_env)
        if not init:
            mapping = load_mapping(out)
            check_against_project(mapping, team)
            gaps = unmapped_required(mapping)
            for gap in gaps:
                console.print(f"  {gap.describe()}", highlight=False)
            console.print(f"{out}: the mapping fits {source}; {len(gaps)} required field(s) of the cohort unmapped.")
            if gaps:
                raise typer.Exit(code=1)
            return
        if out.exists() and not force:
            raise ProximiteError(f"{out} already exists: give another --out or --force")
        draft = draft_mapping(team)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(draft_yaml(draft, source=source), encoding="utf-8")
    exact = sum(match.score == 1 for match in draft.fields)
    console.print(
        f"Drafted {out}: {len(draft.fields)} field(s) matched ({exact} exact, {len(draft.fields) - exact} near), "
        f"{len(draft.forms)} form(s), {len(draft.events)} event(s), {len(draft.dags)} DAG(s)."
    )
    for name in draft.unmatched_fields:
        console.print(f"  unmatched field of yours: {name}", highlight=False)
    for name in draft.unmapped_cohort_fields:
        console.print(f"  cohort field not mapped: {name}", highlight=False)
    for name in [*draft.unmatched_events, *draft.unmatched_dags]:
        console.print(f"  unmatched event or DAG of yours: {name}", highlight=False)


def _team_project(*, url: str | None, dictionary: Path | None, token_env: str) -> tuple[object, str]:
    """The team's project from the API (PyCap) or from a data dictionary file, and how to name it."""
    if (url is None) == (dictionary is None):
        raise typer.BadParameter("give --url (with the token in the environment) or --dictionary FILE.csv")
    if dictionary is not None:
        from proximite.cohort.redcap.mapping_source import project_from_dictionary

        return project_from_dictionary(dictionary), dictionary.name
    from proximite.cohort.redcap.errors import public_url, token_from_env
    from proximite.cohort.redcap.mapping_source import fetch_project_structure

    return fetch_project_structure(url, token=token_from_env(token_env)), public_url(url)

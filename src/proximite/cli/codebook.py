"""``proximite codebook``: the codebook as a readable page, or a REDCap project (cohort, questionnaires) as XML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proximite.cli.common import console

__all__ = ["codebook_app"]

codebook_app = typer.Typer(
    help="The codebook: a readable page (default), or a REDCap project of it (cohort, questionnaires) as XML.",
    no_args_is_help=False,
    add_completion=False,
)


@codebook_app.callback(invoke_without_command=True)
def codebook(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (.md or .html).")] = Path("codebook.html"),
    lang: Annotated[str, typer.Option(help="Language of the labels: fr or en.")] = "fr",
) -> None:
    """Write the codebook as a readable page: tables, fields, enumerations, REDCap events and forms."""
    if ctx.invoked_subcommand is not None:
        return
    from proximite.cohort.codebook.docs import write_codebook_page

    if lang not in {"fr", "en"}:
        raise typer.BadParameter("lang must be fr or en")
    if out.suffix.lower() not in {".md", ".html", ".htm"}:
        raise typer.BadParameter("the output must end in .md or .html")
    path = write_codebook_page(out, lang=lang)
    console.print(f"Codebook written to [bold]{path}[/].")


@codebook_app.command("export")
def codebook_export(
    format_: Annotated[
        str, typer.Option("--format", "-f", help="redcap-xml: the project as a REDCap project XML (no data).")
    ] = "redcap-xml",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default: <project>.REDCap.xml).")] = None,
    project: Annotated[
        str, typer.Option("--project", "-p", help="cohort, partner_survey (partner questionnaire) or staff_survey (PTP and managers).")
    ] = "cohort",
) -> None:
    """Export a REDCap project of the codebook (metadata, events, arms, mapping, repeating instruments, DAGs).

    The cohort's project by default; `--project partner_survey` or `staff_survey` exports a yearly
    questionnaire's survey project. Upload the XML in REDCap (New project → "Upload a REDCap
    project XML file") to create the project in one step; `proximite sandbox --project FILE`
    serves it locally.
    """
    if format_ != "redcap-xml":
        raise typer.BadParameter(f"unknown format {format_!r}; the one format is redcap-xml")
    from proximite.cohort.redcap.loaders import CODEBOOK_PROJECTS, write_codebook_project_xml

    if project not in CODEBOOK_PROJECTS:
        raise typer.BadParameter(f"unknown project {project!r}; the projects are {', '.join(CODEBOOK_PROJECTS)}")
    default = "proximite_cohorte.REDCap.xml" if project == "cohort" else f"proximite_{project}.REDCap.xml"
    path = write_codebook_project_xml(out or Path(default), project=project)
    console.print(f"REDCap project XML written to [bold]{path}[/].")

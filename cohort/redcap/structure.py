"""The first step of a pull: the project's information and structure, each kept as received.

Project information first: the HTTP ``Date`` of its answer is the pull's watermark (server
time, taken before any record is read). Then the data dictionary, arms, events, form–event
mapping, repeating instruments, data access groups and export field names, each saved as
received (CSV) in the pull's raw directory, and read into a
:class:`~proximite.cohort.redcap.project.RedcapProject`.

Errors by cause: an answer without a field REDCap always sends (``project_id``), or an empty
structure the cohort needs (no events, no form–event mapping), stops the pull at once with what
to check; a classic project is refused before anything else is asked, and
:func:`check_cohort_project` refuses a project that is not the cohort's, naming the cohort forms
it lacks and those that do not repeat as the cohort's do.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from proximite.cohort.redcap.answers import NOT_THE_API, parse_csv_body, string_frame
from proximite.cohort.redcap.errors import UNTOUCHED, AnswerError, RedcapPullError
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.redcap.watermark import iso_utc, parse_server_date, structure_fingerprint

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook, SurveyProject
    from proximite.cohort.redcap.client import Client

__all__ = [
    "PROJECT_LABELS",
    "PROJECT_REQUESTS",
    "STEP_PROJECT",
    "ProjectStructure",
    "check_cohort_project",
    "count_rows",
    "fetch_structure",
    "project_spec",
]

log = logging.getLogger(__name__)

#: The progress step of the project's requests (done/total: requests).
STEP_PROJECT = "project (metadata, events, DAGs)"

#: The structure's requests after the project information: (content, file, PyCap call, required columns).
PROJECT_REQUESTS: tuple[tuple[str, str, Callable[[Any], Any], tuple[str, ...]], ...] = (
    ("metadata", "metadata.csv", lambda p: p.export_metadata(format_type="csv"), ("field_name", "form_name", "field_type")),
    ("arms", "arms.csv", lambda p: p.export_arms(format_type="csv"), ("arm_num",)),
    ("events", "events.csv", lambda p: p.export_events(format_type="csv"), ("unique_event_name",)),
    (
        "formEventMapping", "form_event_mapping.csv",
        lambda p: p.export_instrument_event_mappings(format_type="csv"), ("unique_event_name", "form"),
    ),
    (
        "repeatingFormsEvents", "repeating_forms_events.csv",
        lambda p: p.export_repeating_instruments_events(format_type="csv"), ("event_name", "form_name"),
    ),
    ("dag", "dags.csv", lambda p: p.export_dags(format_type="csv"), ()),
    ("exportFieldNames", "field_names.csv", lambda p: p.export_field_names(format_type="csv"), ("original_field_name",)),
)
#: What an empty answer means, for the structures a pull cannot do without (DAGs, arms and
#: repeating instruments may be empty).
_EMPTY_MEANS = {
    "metadata": "the project has no field; check that the token is the cohort project's",
    "events": "the project is longitudinal but has no event; define its events in REDCap (Project Setup → "
    "Define my events), or give the sandbox's project folder its events.csv",
    "formEventMapping": "the project designates no instrument for its events; in REDCap, Project Setup → "
    "Designate instruments for my events (a sandbox's project folder needs form_event_mapping.csv)",
    "exportFieldNames": "the project exports no field; check the token's export rights (User Rights → Data Exports)",
}
#: Project information fields the pull reads (REDCap always sends them).
_INFO_FIELDS = ("project_id", "is_longitudinal")
_TRUE = frozenset({"1", "true", "True"})


@dataclass(frozen=True)
class ProjectStructure:
    """What the first step of a pull learnt about the project.

    Attributes
    ----------
    project : RedcapProject
        Dictionary, events, mapping, repeating instruments and DAGs (no records).
    project_id : str
    server_time : datetime
        The server's time of the first answer (aware UTC): the pull's watermark.
    fingerprint : str
        :func:`~proximite.cohort.redcap.watermark.structure_fingerprint` of the structure.
    token_group : str or None
        The one data access group the token sees, when it sees exactly one.
    """

    project: RedcapProject
    project_id: str
    server_time: dt.datetime
    fingerprint: str
    token_group: str | None


def count_rows(table: pa.Table) -> int:
    """Rows of a parsed answer (recorded in the raw manifest)."""
    return table.num_rows


#: What each REDCap source pulls, in messages: the cohort's project or a yearly questionnaire's.
PROJECT_LABELS = {"redcap": "cohort", "partner_survey": "partner questionnaire", "staff_survey": "PTP and manager questionnaire"}


def project_spec(codebook: Codebook, source: str) -> Codebook | SurveyProject:
    """The codebook's project a REDCap source pulls: the cohort's (``redcap``) or a questionnaire's."""
    if source not in PROJECT_LABELS:
        raise ValueError(f"unknown REDCap source {source!r} (sources: {', '.join(PROJECT_LABELS)})")
    return codebook if source == "redcap" else codebook.survey(source)


def _export_hint(source: str) -> str:
    option = "--format redcap-xml" if source == "redcap" else f"--project {source}"
    return f"the {PROJECT_LABELS[source]} project can be created in REDCap from `proximite codebook export {option}`"


def fetch_structure(
    client: Client,
    *,
    codebook: Codebook | SurveyProject,
    parameters: dict[str, Any],
    report: Callable[[str, int, int], None],
    source: str = "redcap",
) -> ProjectStructure:
    """Fetch the project information and structure; fills ``parameters`` (watermark, DAGs seen).

    ``codebook`` is the project expected (:func:`project_spec` of ``source``): its structure
    stands in for what the answers do not give.

    Raises
    ------
    RedcapPullError
        The project is not longitudinal, or its DAGs answer lacks ``unique_group_name``.
    """
    total = 2 + len(PROJECT_REQUESTS)  # the record ids request ends the step
    info_table = client.fetch(
        "project information", "project_info.csv", lambda p: p.export_project_info(format_type="csv"),
        parse=_parse_info, rows=count_rows,
    )
    report(STEP_PROJECT, 1, total)
    info = {name: (info_table[name][0].as_py() if info_table.num_rows else "") for name in info_table.column_names}
    server_time = parse_server_date(client.first_date) or dt.datetime.now(dt.timezone.utc)
    if client.first_date is None:
        log.warning("REDCap sent no Date header: the watermark is this machine's clock")
    parameters["watermark"] = iso_utc(server_time)
    if str(info.get("is_longitudinal", "1")).strip() not in _TRUE:
        events = ", ".join(codebook.events["unique_event_name"].astype(str))
        label = PROJECT_LABELS[source]
        raise RedcapPullError(
            f"the REDCap project (project_id {info.get('project_id', '')}) is a classic project, without events; "
            f"the {label} project is longitudinal (events {events}): check the URL and that the token is the "
            f"{label} project's. {UNTOUCHED}."
        )
    has_repeating = str(info.get("has_repeating_instruments_or_events", "1")).strip() in _TRUE
    tables = _fetch_tables(client, has_repeating=has_repeating, report=report, total=total)
    dags = string_frame(tables["dag"]) if tables["dag"].num_columns else None
    # A token bound to a data access group sees only its group, and REDCap leaves the group
    # column out of its record exports: the one group it sees is every record's group.
    if dags is not None and "unique_group_name" not in dags.columns:
        raise RedcapPullError("the data access groups answer has no unique_group_name column")
    parameters["data_access_groups_visible"] = 0 if dags is None else len(dags)
    project = _project(
        tables, dags=dags, raw=client.raw, codebook=codebook, missing_data_codes=str(info.get("missing_data_codes") or "")
    )
    return ProjectStructure(
        project=project,
        project_id=str(info.get("project_id", "")),
        server_time=server_time,
        fingerprint=_fingerprint(project, client=client, has_repeating="repeatingFormsEvents" in tables),
        token_group=str(dags["unique_group_name"].iloc[0]) if dags is not None and len(dags) == 1 else None,
    )


def _fetch_tables(
    client: Client, *, has_repeating: bool, report: Callable[[str, int, int], None], total: int
) -> dict[str, pa.Table]:
    """The structure's answers by content (repeating instruments only when the project has some)."""
    tables: dict[str, pa.Table] = {}
    done = 1
    for content, filename, call, required in PROJECT_REQUESTS:
        done += 1
        if content == "repeatingFormsEvents" and not has_repeating:
            continue
        tables[content] = client.fetch(
            content, filename, call,
            parse=lambda data, required=required, content=content: _parse_structure(data, content, required),
            rows=count_rows,
        )
        report(STEP_PROJECT, done, total)
    return tables


def _parse_info(data: bytes) -> pa.Table:
    """The project information: one row with the fields the pull reads, ``project_id`` not blank.

    Raises
    ------
    AnswerError
        A field is missing or the project id is blank (the same answer would come again).
    """
    table = parse_csv_body(data, required=_INFO_FIELDS, allow_empty=False)
    if table.num_rows == 0 or not str(table["project_id"][0].as_py()).strip():
        raise AnswerError(f"the project information has no project_id value, which REDCap always sends: {NOT_THE_API}")
    return table


def _parse_structure(data: bytes, content: str, required: tuple[str, ...]) -> pa.Table:
    """A structure's answer; an empty one where the cohort needs rows says what is missing in REDCap.

    Raises
    ------
    AnswerError
        The answer is empty (or has its header only) where the cohort needs rows.
    """
    table = parse_csv_body(data, required=required, allow_empty=True)
    if table.num_rows == 0 and content in _EMPTY_MEANS:
        raise AnswerError(f"the answer is empty: {_EMPTY_MEANS[content]}")
    return table


def check_cohort_project(project: RedcapProject, *, codebook: Codebook | SurveyProject, source: str = "redcap") -> None:
    """Refuse a project that is not the expected one: forms it lacks, or that do not repeat.

    Parameters
    ----------
    project : RedcapProject
        The project as its structure answers describe it.
    codebook : Codebook or SurveyProject, keyword-only
        The expected project (its forms and repeating instruments): the cohort's, or a yearly
        questionnaire's (:func:`project_spec`).
    source : str, keyword-only
        The source pulled, named in the message (``redcap``: the cohort).

    Raises
    ------
    RedcapPullError
        The data dictionary lacks the expected forms (named, with the forms it has), or forms
        that repeat there (the cohort's enfant, besoin, reference; the partner questionnaire's
        partenaire) do not repeat in the project.
    """
    label = PROJECT_LABELS[source]
    cohort = RedcapProject.from_codebook(codebook)
    lacking = [form for form in cohort.forms if form not in project.forms]
    repeating = project.repeating
    not_repeating = [
        f"{form} (at {', '.join(sorted(events))})"
        for form, events in cohort.repeating.items()
        if form in project.forms and not events <= repeating.get(form, frozenset())
    ]
    if not lacking and not not_repeating:
        return
    problems = []
    if lacking:
        problems.append(
            f"its data dictionary lacks the {label} form(s) {', '.join(lacking)} (it has {', '.join(project.forms)})"
        )
    if not_repeating:
        problems.append(
            f"the {label} form(s) {', '.join(not_repeating)} do not repeat in it as they do in the {label} project "
            "(REDCap: Project Setup → Repeating instruments and events)"
        )
    raise RedcapPullError(
        f"the REDCap project is not the {label} project: " + "; ".join(problems) + ". Check the URL and that the "
        f"token is the {label} project's; {_export_hint(source)}. {UNTOUCHED}."
    )


def _project(
    tables: dict[str, pa.Table], *, dags: pd.DataFrame | None, raw: Path, codebook: Codebook | SurveyProject,
    missing_data_codes: str,
) -> RedcapProject:
    """The project from the structure's answers; errors name their raw files."""
    return RedcapProject.from_frames(
        string_frame(tables["metadata"]),
        events=string_frame(tables["events"]),
        form_event_mapping=string_frame(tables["formEventMapping"]),
        # A project without repeating instruments has none (never the codebook's).
        repeating_forms_events=(
            string_frame(tables["repeatingFormsEvents"]) if "repeatingFormsEvents" in tables
            else pd.DataFrame({"event_name": [], "form_name": []}, dtype=object)
        ),
        dags=dags if dags is not None and len(dags) else None,
        codebook=codebook,
        paths={
            "metadata": raw / "metadata.csv", "events": raw / "events.csv",
            "form_event_mapping": raw / "form_event_mapping.csv",
            "repeating_forms_events": raw / "repeating_forms_events.csv",
            "dags": raw / "dags.csv", "info": raw / "project_info.csv",
        },
        missing_data_codes=missing_data_codes,
    )


def _fingerprint(project: RedcapProject, *, client: Client, has_repeating: bool) -> str:
    """The structure's fingerprint from the answers as received (and the missing-data codes)."""
    return structure_fingerprint(
        {
            "metadata": client.received_bytes("metadata.csv"),
            "events": client.received_bytes("events.csv"),
            "form_event_mapping": client.received_bytes("form_event_mapping.csv"),
            "repeating": client.received_bytes("repeating_forms_events.csv") if has_repeating else b"",
            "missing_data_codes": json.dumps(dict(project.missing_codes), sort_keys=True),
        }
    )

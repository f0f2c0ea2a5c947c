"""Building a project through the API, as REDCap allows it for a project in development.

A rehearsal project can be built from nothing, as a coordinator would build a copy of the real
one: :func:`empty_project` (REDCap's "create project": one ``record_id`` field on
``my_first_instrument``), then the data dictionary (``content=metadata``), arms, events, the
form–event mapping, the repeating setup and data access groups, each imported through PyCap's
usual calls. Every function here changes a :class:`RedcapProject` in place and returns the count
REDCap answers; a refused import raises :class:`ApiError` and changes nothing.

REDCap's rules kept:

- a new event's unique name is its name in lower case, letters, digits and underscores only,
  cut to 18 characters, then ``_arm_<n>`` (``T0`` in arm 1 is ``t0_arm_1``); a DAG's unique
  name is made the same way from its label, without the arm;
- deleting an arm deletes its events; deleting an event deletes its mapping, its repeating
  setup and the data collected on it; deleting a DAG leaves its records without a group;
- importing a form–event mapping replaces the mapping of the arms it names; importing the
  repeating setup replaces all of it;
- arms and events exist only in longitudinal projects.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

import pandas as pd

from proximite.cohort.codebook import REDCAP_DICTIONARY_HEADERS, REDCAP_METADATA_COLUMNS
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.sandbox._api_records import DAG, EVENT, INSTRUMENT
from proximite.cohort.sandbox._api_wire import ApiError

__all__ = [
    "empty_project",
    "import_metadata",
    "import_arms",
    "delete_arms",
    "import_events",
    "delete_events",
    "import_form_event_mapping",
    "import_repeating",
    "import_dags",
    "delete_dags",
    "unique_name",
]

ARM_COLUMNS = ["arm_num", "name"]
EVENT_COLUMNS = ["event_name", "arm_num", "unique_event_name", "custom_event_label", "day_offset", "offset_min", "offset_max"]
MAPPING_COLUMNS = ["arm_num", "unique_event_name", "form"]
REPEATING_COLUMNS = ["event_name", "form_name", "custom_form_label"]
DAG_COLUMNS = ["data_access_group_name", "unique_group_name", "data_access_group_id"]
#: Field types a data dictionary may hold.
FIELD_TYPES = frozenset(
    {"text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc", "file", "descriptive",
     "slider", "sql"}
)
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def empty_project(
    *, title: str = "Rehearsal", project_id: int = 1, longitudinal: bool = False, missing_data_codes: str = ""
) -> RedcapProject:
    """A new project as REDCap creates it: ``record_id`` on ``my_first_instrument``, no record.

    Parameters
    ----------
    title : str, keyword-only
        The project title.
    project_id : int, keyword-only
        The project's id (``content=project`` answers it).
    longitudinal : bool, keyword-only
        Whether the project is longitudinal (REDCap's "create project" takes the same flag); arms
        and events can be imported only then.
    missing_data_codes : str, keyword-only
        The project's missing-data codes (``"NSP, Ne sait pas | REF, Refus"``), as set on
        REDCap's project setup page.
    """
    metadata = pd.DataFrame([dict.fromkeys(REDCAP_METADATA_COLUMNS, "")], dtype=object)
    metadata.loc[0, ["field_name", "form_name", "field_type", "field_label"]] = [
        "record_id", "my_first_instrument", "text", "Record ID",
    ]
    info = {
        "project_id": project_id,
        "project_title": title,
        "is_longitudinal": int(longitudinal),
        "has_repeating_instruments_or_events": 0,
        "missing_data_codes": missing_data_codes,
        "in_production": 0,
    }
    records = pd.DataFrame({"record_id": pd.Series(dtype=object)})
    return RedcapProject(metadata=metadata, info=info, records=records, dags=pd.DataFrame(columns=DAG_COLUMNS))


def unique_name(label: str, *, taken: Iterable[str], suffix: str = "") -> str:
    """REDCap's unique name for a new event or DAG: ``label`` simplified, cut to 18 characters.

    Notes
    -----
    Accents are dropped, letters lowered, anything but letters, digits, spaces and underscores
    removed, spaces become underscores; a name already taken gets ``b``, ``c`` ... appended.
    """
    ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii")
    simple = re.sub(r"[^a-z0-9_ ]", "", ascii_label.lower()).strip().replace(" ", "_")[:18].strip("_") or "group"
    used = set(taken)
    name = f"{simple}{suffix}"
    letter = ord("b")
    while name in used:
        name = f"{simple}{chr(letter)}{suffix}"
        letter += 1
    return name


def _rows(incoming: pd.DataFrame, columns: Sequence[str], *, required: Sequence[str], what: str) -> pd.DataFrame:
    """The incoming rows with ``columns`` (strings, stripped); refused when a required one is missing."""
    frame = incoming.rename(columns=lambda column: str(column).strip()).fillna("").astype(str)
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ApiError(400, f"The {what} being imported lack the column(s) {', '.join(missing)}")
    frame = frame.reindex(columns=list(columns), fill_value="")
    return frame.apply(lambda column: column.str.strip()).astype(object).reset_index(drop=True)


def _require_longitudinal(project: RedcapProject, what: str) -> None:
    if not int(project.info.get("is_longitudinal", 0) or 0):
        raise ApiError(400, f"You cannot import {what} for classic projects")


# ------------------------------------------------------------------------------------ metadata
def import_metadata(project: RedcapProject, incoming: pd.DataFrame) -> int:
    """Replace the data dictionary (``content=metadata``, import); the number of fields.

    Forms that disappear leave the form–event mapping and the repeating setup; the records keep
    the columns of the fields that remain.

    Raises
    ------
    ApiError
        A required column is missing, a field name is invalid or repeated, a field has no form or
        an unknown type, or the record id field would change while the project has records.
    """
    # A CSV data dictionary may carry REDCap's UI headers ("Variable / Field Name" ...), as the
    # Data Dictionary page downloads it; JSON carries the API's names.
    by_header = dict(zip(REDCAP_DICTIONARY_HEADERS, REDCAP_METADATA_COLUMNS, strict=True))
    incoming = incoming.rename(columns=lambda name: by_header.get(str(name).strip(), str(name).strip()))
    metadata = _rows(incoming, REDCAP_METADATA_COLUMNS, required=("field_name", "form_name", "field_type"), what="fields")
    errors = []
    seen: set[str] = set()
    for number, row in enumerate(metadata.itertuples(index=False), start=1):
        if not _FIELD_NAME.match(row.field_name):
            errors.append(f"row {number}: the variable name '{row.field_name}' is not valid (lower-case letters, digits, _)")
        elif row.field_name in seen:
            errors.append(f"row {number}: the variable name '{row.field_name}' is used twice")
        seen.add(row.field_name)
        if not _FIELD_NAME.match(row.form_name):
            errors.append(f"row {number}: the form name '{row.form_name}' is not valid")
        if row.field_type not in FIELD_TYPES:
            errors.append(f"row {number}: '{row.field_type}' is not a valid field type")
    if metadata.empty:
        errors.append("the data dictionary has no field")
    if errors:
        raise ApiError(400, "The data dictionary cannot be imported: " + "; ".join(errors))
    record_id = str(metadata["field_name"].iloc[0])
    if record_id != project.record_id_field and len(project.records):
        raise ApiError(
            400,
            f"The first field (the record id) cannot change from '{project.record_id_field}' to '{record_id}' "
            "while the project has records",
        )
    if record_id != project.record_id_field:
        project.records = project.records.rename(columns={project.record_id_field: record_id})
    project.metadata = metadata
    forms = set(metadata["form_name"])
    mapping = project.form_event_mapping
    if "form" in mapping.columns:
        project.form_event_mapping = mapping[mapping["form"].isin(forms)].reset_index(drop=True)
    repeating = project.repeating_forms_events
    if "form_name" in repeating.columns:
        kept = repeating["form_name"].isin(forms) | (repeating["form_name"] == "")
        project.repeating_forms_events = repeating[kept].reset_index(drop=True)
    return len(metadata)


# -------------------------------------------------------------------------------- arms, events
def import_arms(project: RedcapProject, incoming: pd.DataFrame, *, override: bool) -> int:
    """Add or rename arms (``override``: the import replaces every arm); the number imported."""
    _require_longitudinal(project, "arms")
    arms = _rows(incoming, ARM_COLUMNS, required=("arm_num", "name"), what="arms")
    bad = [value for value in arms["arm_num"] if not value.isdigit() or int(value) < 1]
    if bad:
        raise ApiError(400, f"The arm number(s) {', '.join(bad)} are not valid (whole numbers from 1)")
    arms["arm_num"] = arms["arm_num"].map(lambda value: str(int(value)))
    current = project.arms.reindex(columns=ARM_COLUMNS).fillna("").astype(str)
    if override:
        gone = [arm for arm in current["arm_num"] if arm not in set(arms["arm_num"])]
        if gone:
            delete_arms(project, gone)
        current = current[current["arm_num"].isin(arms["arm_num"])]
    kept = current[~current["arm_num"].isin(arms["arm_num"])]
    merged = pd.concat([kept, arms.drop_duplicates("arm_num", keep="last")], ignore_index=True)
    project.arms = merged.sort_values("arm_num", key=lambda s: s.astype(int)).reset_index(drop=True).astype(object)
    return len(arms)


def delete_arms(project: RedcapProject, arms: Sequence[str]) -> int:
    """Delete arms, their events, and everything collected on those events; the number deleted."""
    _require_longitudinal(project, "arms")
    current = project.arms.reindex(columns=ARM_COLUMNS).fillna("").astype(str)
    unknown = [arm for arm in arms if arm not in set(current["arm_num"])]
    if unknown:
        raise ApiError(400, f"The following values in the parameter arms are not valid: {', '.join(unknown)}")
    events = project.events.reindex(columns=EVENT_COLUMNS).fillna("").astype(str)
    doomed = events.loc[events["arm_num"].isin(arms), "unique_event_name"].tolist()
    if doomed:
        delete_events(project, doomed)
    project.arms = current[~current["arm_num"].isin(arms)].reset_index(drop=True).astype(object)
    return len(set(arms))


def import_events(project: RedcapProject, incoming: pd.DataFrame, *, override: bool) -> int:
    """Add events, or change those named by ``unique_event_name``; the number imported.

    A new event's unique name is made from its name and arm (REDCap's rule, see
    :func:`unique_name`); a ``unique_event_name`` that names no event must be that name.
    """
    _require_longitudinal(project, "events")
    incoming_events = _rows(incoming, EVENT_COLUMNS, required=("event_name", "arm_num"), what="events")
    arms = set(project.arms.get("arm_num", pd.Series(dtype=str)).astype(str))
    current = project.events.reindex(columns=EVENT_COLUMNS).fillna("").astype(str)
    if override and len(current):
        delete_events(project, current["unique_event_name"].tolist())
        current = current.iloc[0:0]
    errors, rows = [], current.to_dict("records")
    names = [row["unique_event_name"] for row in rows]
    for number, event in enumerate(incoming_events.to_dict("records"), start=1):
        for column, default in (("day_offset", "0"), ("offset_min", "0"), ("offset_max", "0")):
            event[column] = event[column] or default
        if event["arm_num"] not in arms:
            errors.append(f"row {number}: the arm {event['arm_num'] or '(blank)'} does not exist")
            continue
        given = event["unique_event_name"]
        if given in names:
            rows[names.index(given)] = {**rows[names.index(given)], **event}
            continue
        made = unique_name(event["event_name"], taken=names, suffix=f"_arm_{event['arm_num']}")
        if given and given != made:
            errors.append(f"row {number}: '{given}' is not an event of the project (a new '{event['event_name']}' is '{made}')")
            continue
        rows.append({**event, "unique_event_name": made})
        names.append(made)
    if errors:
        raise ApiError(400, "The events cannot be imported: " + "; ".join(errors))
    project.events = pd.DataFrame(rows, columns=EVENT_COLUMNS).astype(object)
    return len(incoming_events)


def delete_events(project: RedcapProject, events: Sequence[str]) -> int:
    """Delete events with their mapping, repeating setup and data; the number deleted."""
    _require_longitudinal(project, "events")
    known = set(project.event_names)
    unknown = [event for event in events if event not in known]
    if unknown:
        raise ApiError(400, f"The following values in the parameter events are not valid: {', '.join(unknown)}")
    doomed = set(events)
    project.events = project.events[~project.events["unique_event_name"].astype(str).isin(doomed)].reset_index(drop=True)
    mapping = project.form_event_mapping
    if "unique_event_name" in mapping.columns:
        project.form_event_mapping = mapping[~mapping["unique_event_name"].isin(doomed)].reset_index(drop=True)
    repeating = project.repeating_forms_events
    if "event_name" in repeating.columns:
        project.repeating_forms_events = repeating[~repeating["event_name"].isin(doomed)].reset_index(drop=True)
    if EVENT in project.records.columns:
        project.records = project.records[~project.records[EVENT].isin(doomed)].reset_index(drop=True)
    return len(doomed)


# ---------------------------------------------------------------------------- mapping, repeats
def import_form_event_mapping(project: RedcapProject, incoming: pd.DataFrame) -> int:
    """Replace the form–event mapping of the arms the import names; the number of rows."""
    _require_longitudinal(project, "form/event mappings")
    mapping = _rows(incoming, MAPPING_COLUMNS, required=("unique_event_name", "form"), what="form/event mappings")
    event_arm = dict(
        zip(project.events["unique_event_name"].astype(str), project.events["arm_num"].astype(str), strict=True)
    ) if "arm_num" in project.events.columns else {}
    forms = set(project.forms)
    errors = []
    for number, row in enumerate(mapping.to_dict("records"), start=1):
        if row["unique_event_name"] not in event_arm:
            errors.append(f"row {number}: '{row['unique_event_name']}' is not an event of the project")
        elif row["arm_num"] and row["arm_num"] != event_arm[row["unique_event_name"]]:
            errors.append(f"row {number}: the event '{row['unique_event_name']}' is not in arm {row['arm_num']}")
        if row["form"] not in forms:
            errors.append(f"row {number}: '{row['form']}' is not an instrument of the project")
    if errors:
        raise ApiError(400, "The form/event mapping cannot be imported: " + "; ".join(errors))
    mapping["arm_num"] = mapping["unique_event_name"].map(event_arm)
    current = project.form_event_mapping.reindex(columns=MAPPING_COLUMNS).fillna("").astype(str)
    kept = current[~current["arm_num"].isin(set(mapping["arm_num"]))]
    merged = pd.concat([kept, mapping.drop_duplicates()], ignore_index=True)
    event_rank = {name: rank for rank, name in enumerate(project.event_names)}
    form_rank = {form: rank for rank, form in enumerate(project.forms)}
    merged = merged.assign(_e=merged["unique_event_name"].map(event_rank), _f=merged["form"].map(form_rank))
    project.form_event_mapping = merged.sort_values(["_e", "_f"]).drop(columns=["_e", "_f"]).reset_index(drop=True)
    return len(mapping)


def import_repeating(project: RedcapProject, incoming: pd.DataFrame) -> int:
    """Replace the repeating instruments and events; the number of rows."""
    setup = _rows(incoming, REPEATING_COLUMNS, required=("form_name",), what="repeating instruments and events")
    longitudinal = bool(int(project.info.get("is_longitudinal", 0) or 0))
    events, forms = set(project.event_names), set(project.forms)
    errors = []
    for number, row in enumerate(setup.to_dict("records"), start=1):
        if longitudinal and row["event_name"] not in events:
            errors.append(f"row {number}: '{row['event_name'] or '(blank)'}' is not an event of the project")
        if row["form_name"] and row["form_name"] not in forms:
            errors.append(f"row {number}: '{row['form_name']}' is not an instrument of the project")
    if errors:
        raise ApiError(400, "The repeating instruments and events cannot be imported: " + "; ".join(errors))
    project.repeating_forms_events = setup.drop_duplicates(["event_name", "form_name"]).reset_index(drop=True)
    project.info["has_repeating_instruments_or_events"] = int(len(setup) > 0)
    if len(setup) == 0 and INSTRUMENT in project.records.columns:
        project.records = project.records[project.records[INSTRUMENT] == ""].reset_index(drop=True)
    return len(setup)


# ----------------------------------------------------------------------------------------- DAGs
def import_dags(project: RedcapProject, incoming: pd.DataFrame) -> int:
    """Add data access groups, or rename those named by ``unique_group_name``; the number imported."""
    dags = _rows(incoming, DAG_COLUMNS[:2], required=("data_access_group_name",), what="data access groups")
    current = project.dags.reindex(columns=DAG_COLUMNS).fillna("").astype(str)
    rows, names = current.to_dict("records"), current["unique_group_name"].tolist()
    next_id = max((int(row["data_access_group_id"]) for row in rows if row["data_access_group_id"].isdigit()), default=0)
    errors = []
    for number, dag in enumerate(dags.to_dict("records"), start=1):
        if not dag["data_access_group_name"]:
            errors.append(f"row {number}: the group has no name")
        elif dag["unique_group_name"] in names:
            rows[names.index(dag["unique_group_name"])]["data_access_group_name"] = dag["data_access_group_name"]
        elif dag["unique_group_name"]:
            errors.append(f"row {number}: '{dag['unique_group_name']}' is not a data access group of the project")
        else:
            next_id += 1
            made = unique_name(dag["data_access_group_name"], taken=names)
            rows.append({"data_access_group_name": dag["data_access_group_name"], "unique_group_name": made,
                         "data_access_group_id": str(next_id)})
            names.append(made)
    if errors:
        raise ApiError(400, "The data access groups cannot be imported: " + "; ".join(errors))
    project.dags = pd.DataFrame(rows, columns=DAG_COLUMNS).astype(object)
    return len(dags)


def delete_dags(project: RedcapProject, dags: Sequence[str]) -> int:
    """Delete data access groups; their records stay, without a group. The number deleted."""
    current = project.dags.reindex(columns=DAG_COLUMNS).fillna("").astype(str)
    unknown = [dag for dag in dags if dag not in set(current["unique_group_name"])]
    if unknown:
        raise ApiError(400, f"The following values in the parameter dags are not valid: {', '.join(unknown)}")
    project.dags = current[~current["unique_group_name"].isin(dags)].reset_index(drop=True).astype(object)
    if DAG in project.records.columns:
        records = project.records.copy()
        records.loc[records[DAG].isin(dags), DAG] = ""
        project.records = records
    return len(set(dags))

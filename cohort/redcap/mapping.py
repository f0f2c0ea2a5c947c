"""Bring your own REDCap project: a mapping YAML from a team's project to the cohort's names.

A team that already runs a longitudinal REDCap project (its own forms, fields, events, data
access groups and codes) feeds the warehouse through a mapping (``docs/redcap-mapping.md``)::

    record_id: study_id                 # your record id field (default: your first field)
    forms:    {famille: household}      # cohort form: your form
    events:   {inclusion: enrolment_arm_1, t0: [baseline_arm_1, baseline_arm_2]}
    dags:     {t02_01: site_north}      # cohort DAG (territory): your DAG(s)
    fields:   {date_premier_contact: first_contact}   # cohort field: your field
    codes:    {canal_recrutement: {"1": organisme_communautaire}}   # your code: cohort code

The cut: the pull keeps the team's records **as received** in layer 01; just before staging,
:func:`apply_to_pull` renames the records and the project to the cohort's (the codebook's
project), so layer 02 holds the cohort's forms, fields, events, DAGs and codes and everything
downstream is unchanged. :func:`map_project` does the same on a whole
:class:`~proximite.cohort.redcap.project.RedcapProject` (records included).

Every function here is pure except :func:`load_mapping` and :func:`mapping_from_settings`,
which read the YAML file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import yaml

from proximite.cohort.redcap.dictionary import DAG, EVENT, INSTANCE, INSTRUMENT, checkbox_column, parse_choices, staged_fields
from proximite.cohort.redcap.layout import as_string_table, flat_columns
from proximite.cohort.redcap.project import RedcapProject
from proximite.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.cohort.redcap.structure import ProjectStructure
    from proximite.config import Settings

__all__ = [
    "MAPPING_KEYS",
    "RedcapMapping",
    "UnmappedField",
    "apply_to_pull",
    "check_against_project",
    "cohort_event",
    "load_mapping",
    "map_project",
    "map_records",
    "mapping_from_settings",
    "parse_mapping",
    "unmapped_required",
    "with_mapping_fingerprint",
]

log = logging.getLogger(__name__)

#: The top-level keys of a mapping YAML.
MAPPING_KEYS = ("record_id", "forms", "events", "dags", "fields", "codes")

#: The cohort project's record id field (the first field of the codebook's dictionary).
COHORT_RECORD_ID = "record_id"


@dataclass(frozen=True)
class RedcapMapping:
    """A team's REDCap project mapped to the cohort's (every key a cohort name, every value the team's).

    Attributes
    ----------
    path : Path
        The YAML file (named in errors).
    record_id : str or None
        The team's record id field; None means the first field of its dictionary.
    forms : dict
        Cohort form → the team's form.
    events : dict
        Cohort unique event name → the team's unique event names (several arms may feed one event).
    dags : dict
        Cohort data access group (a territory, ``t02_01``) → the team's unique group names.
    fields : dict
        Cohort field → the team's field.
    codes : dict
        Cohort field → {the team's code → the cohort's code}; codes not listed pass unchanged.
    digest : str
        sha256 of the file's bytes (recorded with the pull; joins the structure fingerprint).
    """

    path: Path
    record_id: str | None = None
    forms: dict[str, str] = field(default_factory=dict)
    events: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    digest: str = ""


@dataclass(frozen=True)
class UnmappedField:
    """A field the cohort requires that the mapping leaves unmapped."""

    field: str
    form: str
    label: str
    team_form: str | None

    def describe(self) -> str:
        """The sentence the staged gate shows (cohort names; the team's form when mapped)."""
        yours = f" (your form `{self.team_form}`)" if self.team_form else ""
        return f"field `{self.field}` of form `{self.form}`{yours} is required by the cohort and not mapped ({self.label})"


# ------------------------------------------------------------------------------ loading
def _text(value: Any) -> str:
    """A YAML scalar as REDCap writes it (``1`` not ``1.0``, ``1``/``0`` for booleans)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _names(value: Any, *, key: str, defects: list[str]) -> tuple[str, ...]:
    """One name or a list of names (events, DAGs)."""
    items = value if isinstance(value, list) else [value]
    names = tuple(_text(item) for item in items if item is not None and _text(item))
    if not names:
        defects.append(f"`{key}`: give a name or a list of names")
    return names


def _section(document: Mapping[str, Any], key: str, defects: list[str]) -> dict[Any, Any]:
    value = document.get(key) or {}
    if not isinstance(value, dict):
        defects.append(f"`{key}`: a mapping of cohort name to your name is expected, got {type(value).__name__}")
        return {}
    return value


def parse_mapping(document: Any, *, path: str | Path, codebook: Codebook | None = None, digest: str = "") -> RedcapMapping:
    """A mapping from its parsed YAML, checked against the cohort's project (the codebook).

    Parameters
    ----------
    document : Any
        The YAML document (a dict).
    path : str or Path, keyword-only
        Named in errors.
    codebook : Codebook, optional, keyword-only
        The cohort's names (default: the packaged codebook).
    digest : str, keyword-only

    Raises
    ------
    InputError
        Every defect at once, each as ``key: rule`` (an unknown key, an unknown cohort form,
        field, event, DAG or code, a malformed value).
    """
    from proximite.cohort.codebook import load_codebook

    book = codebook or load_codebook()
    defects: list[str] = []
    if not isinstance(document, dict):
        raise InputError(path, "not a REDCap mapping", detail="The file must be a YAML mapping with " + ", ".join(MAPPING_KEYS))
    defects += [f"`{key}`: unknown key (keys: {', '.join(MAPPING_KEYS)})" for key in document if key not in MAPPING_KEYS]
    record_id = _text(document["record_id"]) if document.get("record_id") is not None else None
    forms = {_text(k): _text(v) for k, v in _section(document, "forms", defects).items()}
    fields = {_text(k): _text(v) for k, v in _section(document, "fields", defects).items() if v is not None}
    events = {
        cohort_event(_text(k), book): _names(v, key=f"events.{k}", defects=defects)
        for k, v in _section(document, "events", defects).items()
    }
    dags = {_text(k): _names(v, key=f"dags.{k}", defects=defects) for k, v in _section(document, "dags", defects).items()}
    codes: dict[str, dict[str, str]] = {}
    for name, table in _section(document, "codes", defects).items():
        if not isinstance(table, dict):
            defects.append(f"`codes.{name}`: a mapping of your code to the cohort's code is expected")
            continue
        codes[_text(name)] = {_text(k): _text(v) for k, v in table.items()}
    mapping = RedcapMapping(
        path=Path(path), record_id=record_id, forms=forms, events=events, dags=dags, fields=fields, codes=codes, digest=digest
    )
    defects += _cohort_defects(mapping, book)
    if defects:
        raise InputError(path, "invalid REDCap mapping", detail="; ".join(defects), count=len(defects))
    return mapping


def load_mapping(path: str | Path, *, codebook: Codebook | None = None) -> RedcapMapping:
    """Read and check a mapping YAML (see :func:`parse_mapping`).

    Raises
    ------
    InputError
        The file is missing, not YAML, or breaks a rule (every defect listed).
    """
    location = Path(path)
    if not location.is_file():
        raise InputError(location, "REDCap mapping not found", detail="Draft one with `proximite redcap map --init`")
    data = location.read_bytes()
    try:
        document = yaml.safe_load(data.decode("utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        raise InputError(location, "not readable YAML", row=None if line is None else line + 1, detail=type(error).__name__) from None
    return parse_mapping(document, path=location, codebook=codebook, digest=hashlib.sha256(data).hexdigest())


def mapping_from_settings(settings: Settings, *, codebook: Codebook | None = None) -> RedcapMapping | None:
    """The mapping named by ``[redcap] mapping`` (relative to the project directory), or None."""
    name = str((settings.raw.get("redcap") or {}).get("mapping") or "").strip()
    if not name:
        return None
    path = Path(name).expanduser()
    return load_mapping(path if path.is_absolute() else settings.project_dir / path, codebook=codebook)


def cohort_event(name: str, codebook: Codebook) -> str:
    """A cohort event's unique name from its unique or short name (``t0`` → ``t0_arm_1``)."""
    unique = [str(value) for value in codebook.events["unique_event_name"]]
    if name in unique:
        return name
    short = {value.rsplit("_arm_", 1)[0]: value for value in unique}
    return short.get(name, name)


def _cohort_defects(mapping: RedcapMapping, codebook: Codebook) -> list[str]:
    """Keys that are not the cohort's names, and cohort codes that are not the field's choices."""
    cohort = RedcapProject.from_codebook(codebook)
    fields = {item.name: item for item in staged_fields(cohort)}
    events = [str(value) for value in codebook.events["unique_event_name"]]
    dag_names = set(codebook.dags()["unique_group_name"].astype(str))
    defects = [f"`forms.{name}`: not a form of the cohort ({', '.join(cohort.forms)})" for name in mapping.forms if name not in cohort.forms]
    defects += [f"`events.{name}`: not an event of the cohort ({', '.join(events)})" for name in mapping.events if name not in events]
    defects += [f"`dags.{name}`: not a data access group (territory) of the cohort" for name in mapping.dags if name not in dag_names]
    defects += [
        f"`fields.{name}`: not a field of the cohort's data dictionary"
        if name not in fields else f"`fields.{name}`: the record id is mapped by `record_id:`"
        for name in mapping.fields if name not in fields or name == COHORT_RECORD_ID
    ]
    for name, table in mapping.codes.items():
        if name not in fields or not fields[name].codes:
            defects.append(f"`codes.{name}`: not a coded field of the cohort (radio, dropdown or checkbox)")
            continue
        if name not in mapping.fields:
            defects.append(f"`codes.{name}`: the field is not mapped under `fields:`")
        defects += [
            f"`codes.{name}.{yours}`: `{ours}` is not a code of the cohort's field (codes: {', '.join(fields[name].codes)})"
            for yours, ours in table.items() if ours not in fields[name].codes
        ]
    return defects


# ------------------------------------------------------------------------------ the team's project
def check_against_project(mapping: RedcapMapping, team: RedcapProject) -> None:
    """Check that every name the mapping gives as the team's is in the team's project.

    Raises
    ------
    InputError
        Every defect at once (a form, field, event or DAG that the project lacks, a code not
        among the field's choices, a DAG of the project that no territory receives, an
        identifier field mapped onto a field the cohort keeps beyond layer 01).
    """
    metadata = team.metadata.set_index("field_name", drop=False)
    defects = [f"`forms.{ours}`: your project has no form `{yours}`" for ours, yours in mapping.forms.items() if yours not in team.forms]
    if mapping.record_id and mapping.record_id != team.record_id_field:
        defects.append(f"`record_id`: your project's record id field is `{team.record_id_field}`, not `{mapping.record_id}`")
    defects += [
        f"`fields.{ours}`: your project has no field `{yours}`" for ours, yours in mapping.fields.items() if yours not in metadata.index
    ]
    events = set(team.event_names)
    defects += [
        f"`events.{ours}`: your project has no event `{name}`"
        for ours, names in mapping.events.items() for name in names if name not in events
    ]
    defects += _dag_defects(mapping, team)
    defects += _code_defects(mapping, metadata)
    defects += _identifier_defects(mapping, metadata)
    if defects:
        raise InputError(mapping.path, "the mapping does not fit your REDCap project", detail="; ".join(defects), count=len(defects))


def _dag_defects(mapping: RedcapMapping, team: RedcapProject) -> list[str]:
    names = team.dag_names
    if names is None:
        return []
    given = {name for group in mapping.dags.values() for name in group}
    defects = [f"`dags`: your project has no data access group `{name}`" for name in sorted(given - names)]
    defects += [f"`dags`: your data access group `{name}` is mapped to no territory" for name in sorted(names - given)]
    return defects


def _code_defects(mapping: RedcapMapping, metadata: pd.DataFrame) -> list[str]:
    defects = []
    for ours, table in mapping.codes.items():
        yours = mapping.fields.get(ours)
        if yours is None or yours not in metadata.index:
            continue
        choices = parse_choices(str(metadata.at[yours, "select_choices_or_calculations"]))
        if metadata.at[yours, "field_type"] in {"radio", "dropdown", "checkbox"}:
            defects += [f"`codes.{ours}.{code}`: `{code}` is not a code of your field `{yours}`" for code in table if code not in choices]
    return defects


def _identifier_defects(mapping: RedcapMapping, metadata: pd.DataFrame) -> list[str]:
    """Identifiers never leave layer 01: a team identifier may only feed a cohort identifier."""
    from proximite.cohort.codebook import load_codebook

    cohort = load_codebook().data_dictionary.set_index("field_name")
    ours_identifiers = {name for name in cohort.index if str(cohort.at[name, "identifier"]).strip().lower() == "y"}
    return [
        f"`fields.{ours}`: your field `{yours}` is flagged as an identifier and the cohort keeps `{ours}` beyond layer 01; "
        "leave it unmapped or unflag it in REDCap"
        for ours, yours in mapping.fields.items()
        if yours in metadata.index and str(metadata.at[yours, "identifier"]).strip().lower() == "y" and ours not in ours_identifiers
    ]


def unmapped_required(mapping: RedcapMapping, *, codebook: Codebook | None = None) -> list[UnmappedField]:
    """The cohort's required fields (``Required Field? = y``) the mapping leaves unmapped, in dictionary order."""
    from proximite.cohort.codebook import load_codebook

    dictionary = (codebook or load_codebook()).data_dictionary
    teams_form = {ours: yours for ours, yours in mapping.forms.items()}
    return [
        UnmappedField(str(row.field_name), str(row.form_name), str(row.field_label), teams_form.get(str(row.form_name)))
        for row in dictionary.itertuples()
        if str(row.required_field).strip().lower() == "y" and row.field_name != COHORT_RECORD_ID and row.field_name not in mapping.fields
    ]


# ------------------------------------------------------------------------------ the transformation
def _inverse(pairs: Mapping[str, Sequence[str] | str]) -> dict[str, str]:
    """Team name → cohort name."""
    inverse: dict[str, str] = {}
    for ours, yours in pairs.items():
        for name in [yours] if isinstance(yours, str) else yours:
            inverse[name] = ours
    return inverse


def cohort_project(team: RedcapProject, mapping: RedcapMapping, *, codebook: Codebook | None = None) -> RedcapProject:
    """The cohort's project (the codebook's structure) that the team's mapped records fit.

    Its DAGs are the mapping's territories when the team's project has DAGs (unknown otherwise,
    as the team's); its missing-data codes are the team's.
    """
    from proximite.cohort.codebook import load_codebook

    base = RedcapProject.from_codebook(codebook or load_codebook())
    dags = pd.DataFrame()
    if team.dag_names is not None:
        names = sorted(mapping.dags)
        dags = pd.DataFrame({"data_access_group_name": names, "unique_group_name": names}, dtype=object)
    info = {**team.info, "project_title": str(team.info.get("project_title", "")), "is_longitudinal": 1}
    info["has_repeating_instruments_or_events"] = 1
    origin = mapping.path.name
    return dataclasses.replace(
        base, info=info, dags=dags, origins={"events": origin, "form_events": origin, "repeating": origin, "dags": origin}
    )


def map_records(
    records: pa.Table | pd.DataFrame, team: RedcapProject, mapping: RedcapMapping, cohort: RedcapProject
) -> pa.Table:
    """The team's flat records (strings) with the cohort's columns, events, forms, DAGs and codes.

    Rows of an event or a repeating form the mapping does not name are left out (they are not
    part of the cohort's model); cohort fields the mapping leaves unmapped are empty. Row order
    is kept, so an error in staging names the same row as the raw file. Never mutates its input.
    """
    frame = as_string_table(records).to_pandas()
    events, forms, dags = _inverse(mapping.events), _inverse(mapping.forms), _inverse(mapping.dags)
    keep = frame[EVENT].isin(list(events)) if EVENT in frame else pd.Series(True, index=frame.index)
    if INSTRUMENT in frame:
        keep &= (frame[INSTRUMENT] == "") | frame[INSTRUMENT].isin(list(forms))
    if not keep.all():
        log.info("REDCap mapping: %d row(s) of unmapped events or repeating forms left out", int((~keep).sum()))
    frame = frame[keep].reset_index(drop=True)
    out: dict[str, pd.Series] = {COHORT_RECORD_ID: frame[mapping.record_id or team.record_id_field]}
    out[EVENT] = frame[EVENT].map(events) if EVENT in frame else pd.Series("", index=frame.index)
    out[INSTRUMENT] = frame[INSTRUMENT].map(lambda name: forms.get(name, "")) if INSTRUMENT in frame else ""
    out[INSTANCE] = frame[INSTANCE] if INSTANCE in frame else ""
    if DAG in frame:
        out[DAG] = frame[DAG].map(lambda name: dags.get(name, name))
    team_kinds = {item.name: item for item in staged_fields(team)}
    for item in staged_fields(cohort):
        if item.name == COHORT_RECORD_ID:
            continue
        yours = mapping.fields.get(item.name)
        codes = mapping.codes.get(item.name, {})
        if item.kind == "checkbox":
            out.update(_checkbox_columns(frame, item.name, item.codes, yours, team_kinds, codes))
        else:
            column = frame[yours] if yours is not None and yours in frame else pd.Series("", index=frame.index)
            out[item.name] = column.map(lambda value: codes.get(value, value)) if codes else column
    for form in cohort.forms:
        yours = mapping.forms.get(form)
        out[f"{form}_complete"] = frame[f"{yours}_complete"] if yours and f"{yours}_complete" in frame else ""
    columns = [column for column in flat_columns(cohort) if column in out]
    table = pd.DataFrame({column: out[column] for column in columns}, index=frame.index)
    return pa.Table.from_pandas(table.astype(str).astype(object), preserve_index=False)


def _checkbox_columns(
    frame: pd.DataFrame, name: str, codes: Sequence[str], yours: str | None, team_fields: Mapping[str, Any], mapped: Mapping[str, str]
) -> dict[str, pd.Series]:
    """A cohort checkbox's columns: a code is ticked when any team code mapped to it is (``1``/``0``)."""
    team_codes = team_fields[yours].codes if yours in team_fields else ()
    out = {}
    for code in codes:
        sources = [checkbox_column(yours, theirs) for theirs in team_codes if mapped.get(theirs, theirs) == code] if yours else []
        sources = [column for column in sources if column in frame]
        if not sources:
            out[checkbox_column(name, code)] = pd.Series("0" if yours else "", index=frame.index)
            continue
        ticked = frame[sources].eq("1").any(axis=1)
        blank = frame[sources].eq("").all(axis=1)
        out[checkbox_column(name, code)] = ticked.map({True: "1", False: "0"}).where(~blank, "")
    return out


def map_project(team: RedcapProject, mapping: RedcapMapping, *, codebook: Codebook | None = None) -> RedcapProject:
    """The team's whole project (records included) as the cohort's project.

    Raises
    ------
    InputError
        The mapping does not fit the team's project (:func:`check_against_project`).
    """
    check_against_project(mapping, team)
    cohort = cohort_project(team, mapping, codebook=codebook)
    records = map_records(team.records, team, mapping, cohort).to_pandas()
    return dataclasses.replace(cohort, records=records, log=list(team.log), modified=dict(team.modified))


def with_mapping_fingerprint(structure: ProjectStructure, mapping: RedcapMapping) -> ProjectStructure:
    """The pull's structure with the mapping in its fingerprint: a changed mapping makes the next pull full.

    Raises
    ------
    InputError
        The mapping does not fit the team's project (checked here, before any record is read).
    """
    check_against_project(mapping, structure.project)
    combined = hashlib.sha256(f"{structure.fingerprint}\n{mapping.digest}".encode()).hexdigest()
    return dataclasses.replace(structure, fingerprint=combined)


def apply_to_pull(
    structure: ProjectStructure, fetched: Sequence[pa.Table], mapping: RedcapMapping, *, codebook: Codebook | None = None
) -> tuple[ProjectStructure, list[pa.Table]]:
    """The pull's hook: the team's structure and record batches as the cohort's, before staging.

    The raw files (layer 01) keep the team's answers as received; only what is staged changes.
    A token bound to one of the team's DAGs sees that DAG as the territory mapped to it.

    Raises
    ------
    InputError
        The mapping does not fit the team's project (every defect listed).
    """
    team = structure.project
    check_against_project(mapping, team)
    cohort = cohort_project(team, mapping, codebook=codebook)
    batches = [map_records(batch, team, mapping, cohort) for batch in fetched]
    group = _inverse(mapping.dags).get(structure.token_group or "", structure.token_group)
    return dataclasses.replace(structure, project=cohort, token_group=group), batches

"""The privacy inventory: every field of every source, the layers that hold it, who sees it, how long.

Built from the code's own sources, never from a hand list of fields:

- **REDCap projects** (the cohort's, ``forms.yaml``; the yearly questionnaires', ``surveys.yaml``):
  each project of the codebook is staged empty by the staging code itself
  (:func:`~proximite.cohort.redcap.records.stage_records` on an export with every column the
  project has, REDCap's survey columns included), so layer 02 is exactly what staging keeps:
  identifier fields and survey columns dropped, the record id kept, a date whose target is a
  month column staged as its year-month. Layer 03 is the field's ``target`` (a checkbox becomes
  a count, several items one mean, as :func:`~proximite.cohort.harmonise.recoding.form_columns`
  does), or, for a record id, the pseudonym columns of
  :data:`~proximite.cohort.harmonise.rules.RECORD_PSEUDONYMS`.
- **File sources** (registry, costs, reference tables, the qualitative register): the columns
  their ``spec`` declares, all staged (other columns of a file stay in layer 01), each reaching
  the model column of the same name, or a pseudonym (``family_record_id``).
- **The coding** (``.qdpx``): the columns :func:`~proximite.cohort.sources.qualitative.coding_tables`
  stages; the projects themselves (transcripts) stay in layer 01.
- **Derived columns**: harmonised columns no source field feeds (the isolation index, a
  territory from its data access group).

A field whose way from layer 02 into layer 03 is unknown stops the inventory
(:class:`InventoryError`, naming it) rather than being guessed. Layers 04 and 05 hold aggregates
(by scope, with disclosure control in 05) of the harmonised columns; reference tables are shown
as they are.

:func:`check_coverage` reads every ``identifier`` flag of the codebook's YAML files and REDCap
data dictionaries, independently of how the rows were made, and fails unless each is a row of the
inventory held in layer 01 only. Nothing here reads a project's data: the inventory holds names
and labels of fields, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import yaml

from proximite.cohort.harmonise.rules import CHECK_ONLY_TABLES, RECORD_PSEUDONYMS
from proximite.cohort.privacy.access_log import ACCESS_LOG
from proximite.cohort.privacy.retention import DEFAULT_RAW_RETENTION_DAYS, raw_retention_days
from proximite.cohort.privacy.withdrawal_scan import STAGED_ONLY_FIELDS
from proximite.cohort.redcap.dictionary import DAG, EVENT, INSTANCE, INSTRUMENT, StagedField, export_columns, staged_fields
from proximite.cohort.redcap.layout import flat_columns
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.redcap.records import META_COLUMNS, stage_records
from proximite.cohort.redcap.xml_layout import SURVEY_IDENTIFIER, survey_timestamp
from proximite.cohort.sources import SOURCES, Source
from proximite.cohort.sources.files import RedcapExportSource, RegistryFilesSource, TabularFilesSource
from proximite.cohort.sources.qualitative import QDPX_SUFFIX, QualCodingSource, coding_tables
from proximite.config import ConfigError
from proximite.errors import ProximiteError

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook, SurveyProject
    from proximite.config import Settings

__all__ = [
    "DEFAULT_RAW_RETENTION_DAYS",
    "INVENTORY_COLUMNS",
    "LAYERS",
    "Inventory",
    "InventoryError",
    "build_inventory",
    "check_coverage",
    "coverage_problems",
    "identifier_flags",
    "inventory_rows",
    "privacy_facts",
    "raw_retention_days",
]

#: The data layers, in order (DESIGN: 01 raw, 02 staged, 03 harmonised, 04 indicators, 05 reporting).
LAYERS = ("01", "02", "03", "04", "05")
#: The inventory's columns. Layer cells hold codes (``received``; ``typed``, ``month``,
#: ``choices``; ``value``, ``count``, ``mean``, ``pseudonym``, ``derived``; ``aggregate``,
#: ``reference``) or ``""`` when the layer does not hold the field; the renderers put them in words.
INVENTORY_COLUMNS = [
    "source", "table", "field", "label_fr", "label_en", "identifier", "role",
    *(f"layer_{layer}" for layer in LAYERS), "harmonised", "elsewhere", "audience", "retention",
]
#: Where the raw layer's encryption key is planned when ``[privacy]`` does not say.
PLANNED_RAW_KEY = ("PROXIMITE_RAW_KEY", ".raw_key")
#: Harmonised values of these layer-03 codes are aggregated in 04 and 05.
_HARMONISED = frozenset({"value", "count", "mean", "pseudonym", "derived"})
#: Sources whose tables are public reference data (regions, territories, organisations): shown as they are.
_REFERENCE_SOURCES = frozenset({"reference"})
#: Labels (French, English) of rows that are not fields of a codebook file.
_LABELS = {
    EVENT: ("Événement REDCap (vague ou année du questionnaire)", "REDCap event (wave or questionnaire year)"),
    INSTRUMENT: ("Instrument répété de la ligne", "Repeating instrument of the row"),
    INSTANCE: ("Numéro d'instance d'un instrument répété", "Instance number of a repeating instrument"),
    DAG: ("Groupe d'accès aux données (le territoire)", "Data access group (the territory)"),
    "complete": ("Statut du formulaire dans REDCap (0, 1, 2)", "The form's status in REDCap (0, 1, 2)"),
    SURVEY_IDENTIFIER: (
        "Identifiant d'enquête REDCap (souvent le courriel ou le nom du participant)",
        "REDCap survey identifier (often the participant's e-mail or name)",
    ),
    "timestamp": ("Horodatage de la réponse à l'enquête", "Time the survey was answered"),
    "other_columns": (
        "Colonnes hors gabarit d'un fichier reçu (telles que reçues)",
        "Columns of a received file outside the template (as received)",
    ),
    "qdpx": (
        "Projets REFI-QDA tels que reçus : transcriptions, enregistrements, texte des segments codés",
        "REFI-QDA projects as received: transcripts, recordings, the text of coded segments",
    ),
}
#: What harmonisation makes of REDCap's key columns (they feed derived columns, never copied).
_STRUCTURE_03 = {EVENT: "derived", INSTRUMENT: "derived", INSTANCE: "derived", DAG: "derived"}


class InventoryError(ProximiteError):
    """The inventory cannot place a field (its way into layer 03 is unknown), or misses an identifier."""


@dataclass(frozen=True)
class Inventory:
    """The inventory: one row per field (:data:`INVENTORY_COLUMNS`) and the project's privacy facts.

    Attributes
    ----------
    rows : DataFrame
        One row per field of every source, then the derived harmonised columns.
    facts : dict
        :func:`privacy_facts`: retention, disclosure rule, keys, access log, layer folders.
    """

    rows: pd.DataFrame
    facts: dict[str, Any]


def privacy_facts(settings: Settings, *, indicators_folder: str) -> dict[str, Any]:
    """The project's privacy facts the inventory states, from its configuration (never a secret).

    Parameters
    ----------
    settings : Settings
    indicators_folder : str, keyword-only
        Layer 04's folder under the data directory (``proximite.pipeline.INDICATORS``).

    Returns
    -------
    dict
        ``project``, ``raw_retention_days``, ``disclosure`` (threshold, rounding base, level),
        ``pseudonym_key`` and ``raw_key`` (environment variable, file, ``planned``),
        ``access_log`` and ``folders`` (by layer, and ``quarantine``: the paths relative to the
        project directory).
    """
    from proximite.cohort.layers import HARMONISED, QUARANTINE, RAW, STAGED

    project = settings.raw["project"]
    privacy = settings.raw.get("privacy") or {}
    disclosure = settings.raw["disclosure"]
    data = Path(project["data_dir"])
    planned = "raw_key_env" not in privacy and "raw_key_file" not in privacy
    return {
        "project": settings.project_name,
        "raw_retention_days": raw_retention_days(settings),
        "disclosure": {
            "threshold": int(disclosure["threshold"]),
            "rounding_base": int(disclosure["rounding_base"]),
            "level": str(disclosure["level"]),
        },
        "pseudonym_key": {"env": settings["pseudonym"]["key_env"], "file": settings["pseudonym"]["key_file"]},
        "raw_key": {
            "env": privacy.get("raw_key_env", PLANNED_RAW_KEY[0]),
            "file": privacy.get("raw_key_file", PLANNED_RAW_KEY[1]),
            "planned": planned,
        },
        "access_log": ACCESS_LOG.as_posix(),
        "folders": {
            "01": [(data / RAW).as_posix()], "02": [(data / STAGED).as_posix()],
            "03": [(data / HARMONISED).as_posix(), str(project["warehouse"])],
            "04": [(data / indicators_folder).as_posix()], "05": [str(project["reporting_dir"])],
            "quarantine": [(data / QUARANTINE).as_posix()],
        },
    }


def build_inventory(settings: Settings, *, indicators_folder: str, codebook: Codebook | None = None) -> Inventory:
    """The project's privacy inventory: :func:`inventory_rows` and :func:`privacy_facts`.

    Parameters
    ----------
    settings : Settings
    indicators_folder : str, keyword-only
        Layer 04's folder name (``proximite.pipeline.INDICATORS``).
    codebook : Codebook, optional, keyword-only
        Default: the packaged codebook.

    Raises
    ------
    InventoryError
        A field whose way into layer 03 is unknown.
    """
    from proximite.cohort.codebook import load_codebook

    return Inventory(inventory_rows(codebook or load_codebook()), privacy_facts(settings, indicators_folder=indicators_folder))


def inventory_rows(codebook: Codebook) -> pd.DataFrame:
    """One row per field of every registered source (:data:`~proximite.cohort.sources.SOURCES`), then derived columns.

    Raises
    ------
    InventoryError
        A source of a kind the inventory cannot list, or a field whose way into layer 03 is unknown.
    """
    rows: list[dict[str, Any]] = []
    for name, source_class in SOURCES.items():
        rows += _source_rows(name, source_class(), codebook)
    rows += _derived_rows(rows, codebook)
    for row in rows:
        _complete(row)
    return pd.DataFrame(rows, columns=INVENTORY_COLUMNS).astype({"identifier": bool})


def _source_rows(name: str, source: Source, codebook: Codebook) -> list[dict[str, Any]]:
    if isinstance(source, RedcapExportSource):
        return _redcap_rows(name, source.project_spec(codebook), codebook)
    if isinstance(source, TabularFilesSource):
        return _tabular_rows(name, source, codebook)
    if isinstance(source, QualCodingSource):
        return _coding_rows(name, codebook)
    raise InventoryError(
        f"source {name!r} ({type(source).__name__}): the privacy inventory does not know how to list its fields; "
        "teach cohort/privacy/inventory.py its kind"
    )


def _row(source: str, table: str, field: str, labels: tuple[str, str], **cells: Any) -> dict[str, Any]:
    row = {column: "" for column in INVENTORY_COLUMNS}
    row.update(source=source, table=table, field=field, label_fr=labels[0], label_en=labels[1], identifier=False)
    row.update(cells)
    return row


# ---------------------------------------------------------------------------------- REDCap projects
def _staged_columns(project: RedcapProject) -> dict[str, set[str]]:
    """The columns staging keeps, per form, of an export holding every column REDCap may send."""
    extras = [SURVEY_IDENTIFIER] + [survey_timestamp(form) for form in project.forms]
    columns = flat_columns(project) + extras
    export = pa.table({column: pa.array([], pa.string()) for column in columns})
    return {form: set(frame.columns) for form, frame in stage_records(export, project).items()}


def _redcap_rows(source: str, spec: Codebook | SurveyProject, codebook: Codebook) -> list[dict[str, Any]]:
    """Rows of a REDCap project: its fields, then its key columns and the columns REDCap adds."""
    project = RedcapProject.from_codebook(spec)
    staged = _staged_columns(project)
    labels = spec.fields.set_index("field_name")
    flagged = set(project.metadata.loc[project.metadata["identifier"].str.lower() == "y", "field_name"])
    items = spec.fields.groupby(["form_name", "target_table", "target_column"]).size()
    rows = []
    for field in staged_fields(project):
        info = labels.loc[field.name]
        row = _row(source, field.form, field.name, (str(info["label"]), str(info["label_en"])),
                   identifier=field.name in flagged or bool(info["identifier"]), layer_01="received")
        if field.name == project.record_id_field:
            row.update(_record_id_cells(source, str(info["target_table"]), str(info["target_column"]), staged[field.form]))
        else:
            row.update(_field_cells(source, field, info, staged[field.form], items))
        if not row["layer_02"]:  # staging drops it: an identifier, or a column REDCap adds
            row["role"] = "identifier" if row["identifier"] else "raw_only"
        rows.append(row)
    return rows + _export_rows(source, project, staged)


def _record_id_cells(source: str, table: str, column: str, staged: set[str]) -> dict[str, Any]:
    pseudonyms = RECORD_PSEUDONYMS.get(source, {}).get(META_COLUMNS[0])
    if pseudonyms is None:
        raise InventoryError(f"{source}: the record id's pseudonyms are not declared (RECORD_PSEUDONYMS of cohort/harmonise/rules.py)")
    if table and f"{table}.{column}" not in pseudonyms:
        raise InventoryError(f"{source}: the record id targets {table}.{column}, which RECORD_PSEUDONYMS does not list")
    elsewhere = ["refusal_reports"] + (["followups_lookup"] if source == "redcap" else [])
    return {
        "role": "record_id", "layer_02": "typed" if META_COLUMNS[0] in staged else "",
        "layer_03": "pseudonym", "harmonised": "; ".join(pseudonyms), "elsewhere": "; ".join(elsewhere),
    }


def _field_cells(source: str, field: StagedField, info: pd.Series, staged: set[str], items: pd.Series) -> dict[str, Any]:
    """Layers 02 and 03 of one field, as staging and the field's ``target`` make them."""
    if not any(column in staged for column in export_columns(field)):
        return {}
    table, column = str(info["target_table"]), str(info["target_column"])
    if field.name in STAGED_ONLY_FIELDS.get(source, ()):
        return {"role": "data", "layer_02": "typed", "layer_03": "", "harmonised": "", "elsewhere": "withdrawal_step"}
    if not table:
        raise InventoryError(
            f"{source} {field.form}.{field.name}: staged in layer 02, but its way into layer 03 is unknown "
            "(no `target` in the codebook): give it a target, or flag it `identifier: true`"
        )
    typed = {"month": "month", "checkbox": "choices"}.get(field.kind, "typed")
    if field.kind == "checkbox":
        harmonised = "count"
    elif int(items.get((field.form, table, column), 1)) > 1:
        harmonised = "mean"
    else:
        harmonised = "value"
    return {
        "role": "data", "layer_02": typed, "layer_03": harmonised, "harmonised": f"{table}.{column}",
        "elsewhere": "" if field.kind == "text" else "refusal_value",
    }


def _export_rows(source: str, project: RedcapProject, staged: dict[str, set[str]]) -> list[dict[str, Any]]:
    """REDCap's key columns, the forms' status and the survey columns: staged or dropped as staging does."""
    kept = set().union(*staged.values()) if staged else set()
    table = "(export)"
    rows = [
        _row(source, table, column, _LABELS[column], role="structure", layer_01="received",
             layer_02="typed" if column in kept else "", layer_03=_STRUCTURE_03[column])
        for column in (EVENT, INSTRUMENT, INSTANCE, DAG)
    ]
    statuses = [f"{form}_complete" for form in project.forms]
    rows.append(_row(source, table, "<form>_complete", _LABELS["complete"], role="structure", layer_01="received",
                     layer_02="typed" if set(statuses) <= kept else ""))
    timestamps = [survey_timestamp(form) for form in project.forms]
    rows.append(_row(source, table, SURVEY_IDENTIFIER, _LABELS[SURVEY_IDENTIFIER], identifier=True, role="raw_only",
                     layer_01="received", layer_02="typed" if SURVEY_IDENTIFIER in kept else ""))
    rows.append(_row(source, table, "<form>_timestamp", _LABELS["timestamp"], role="raw_only", layer_01="received",
                     layer_02="typed" if set(timestamps) & kept else ""))
    return rows


# ---------------------------------------------------------------------------------- file sources
def _tabular_rows(source: str, instance: TabularFilesSource, codebook: Codebook) -> list[dict[str, Any]]:
    """The declared columns of each table a file source stages, then the columns it leaves in layer 01."""
    registry = isinstance(instance, RegistryFilesSource)
    rows = []
    for table in instance.tables:
        for column in instance.spec(table, codebook).names:
            spec = codebook.registry[table][column] if registry else codebook.columns(table)[column]
            labels = (
                (str(spec["explanation"]), str(spec["explanation_en"])) if registry
                else (str(spec["description"]), str(spec["description_en"]))
            )
            row = _row(source, table, column, labels, identifier=bool(spec.get("identifier")), layer_01="received", layer_02="typed")
            row.update(_staged_column_cells(source, table, column, codebook))
            rows.append(row)
    rows.append(_row(source, "*", "*", _LABELS["other_columns"], identifier=True, role="raw_only", layer_01="received"))
    return rows


def _staged_column_cells(source: str, table: str, column: str, codebook: Codebook) -> dict[str, Any]:
    """Layer 03 of a staged column: the model column of the same name, a pseudonym, or none (checks only)."""
    pseudonyms = RECORD_PSEUDONYMS.get(source, {}).get(column)
    if pseudonyms is not None:
        return {"role": "record_id", "layer_03": "pseudonym", "harmonised": "; ".join(pseudonyms)}
    if table in CHECK_ONLY_TABLES.get(source, ()):
        return {"role": "data"}
    if table in codebook.model and column in codebook.columns(table):
        return {"role": "data", "layer_03": "value", "harmonised": f"{table}.{column}"}
    raise InventoryError(
        f"{source} {table}.{column}: staged in layer 02, but no model column {table}.{column} exists and its way into "
        "layer 03 is not declared (RECORD_PSEUDONYMS or CHECK_ONLY_TABLES of cohort/harmonise/rules.py)"
    )


def _coding_rows(source: str, codebook: Codebook) -> list[dict[str, Any]]:
    """The tables the coding source stages (their columns from the staging code), then the ``.qdpx`` themselves."""
    rows = []
    for table, frame in coding_tables([], {}).items():
        model = codebook.model.get(table, {}).get("columns", {})
        for column in frame.columns:
            spec = model.get(column, {})
            row = _row(source, table, str(column), (str(spec.get("description", "")), str(spec.get("description_en", ""))),
                       layer_01="received", layer_02="typed")
            row.update(_staged_column_cells(source, table, str(column), codebook))
            rows.append(row)
    rows.append(_row(source, "*", f"*{QDPX_SUFFIX}", _LABELS["qdpx"], identifier=True, role="raw_only", layer_01="received"))
    return rows


def _derived_rows(rows: list[dict[str, Any]], codebook: Codebook) -> list[dict[str, Any]]:
    """Harmonised columns no source field feeds: computed by harmonisation."""
    fed = {target.strip() for row in rows for target in str(row["harmonised"]).split(";") if target.strip()}
    derived = []
    for table in codebook.tables:
        for column, spec in codebook.columns(table).items():
            if f"{table}.{column}" not in fed:
                derived.append(_row("harmonisation", table, column, (str(spec["description"]), str(spec["description_en"])),
                                    role="derived", layer_03="derived", harmonised=f"{table}.{column}"))
    return derived


def _complete(row: dict[str, Any]) -> None:
    """Fill layers 04 and 05, who sees the field and its retention, from its layers 01 to 03."""
    if row["layer_03"] in _HARMONISED:
        shown = "reference" if row["source"] in _REFERENCE_SOURCES else "aggregate"
        row["layer_04"], row["layer_05"] = shown, shown
    audience = []
    if row["layer_01"] or row["layer_02"]:
        audience.append("coordinator")
    if row["layer_03"] or row["layer_04"]:
        audience.append("statistician")
    if row["layer_05"]:
        audience.append("decision_maker")
    row["audience"] = ";".join(audience)
    if row["identifier"] or row["role"] in {"identifier", "raw_only"}:
        row["retention"] = "raw_removed"
    else:
        row["retention"] = "project" if row["role"] == "derived" else "raw_reduced"


# ---------------------------------------------------------------------------------- coverage
def identifier_flags(codebook: Codebook) -> list[tuple[str, str, str, str]]:
    """Every field flagged identifier in the codebook, found without the inventory's traversal.

    Every YAML file of the codebook's directory is walked for mappings with a true
    ``identifier`` key; the cohort's and the questionnaires' REDCap data dictionaries (what
    staging reads) are read for ``identifier = y``.

    Returns
    -------
    list of tuple
        ``(where, source, table, field)``: the file and key path, the source when the file says
        it (``""`` otherwise), the form or table, the field.
    """
    flags = []
    for path in sorted(Path(codebook.directory).glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            content = yaml.safe_load(handle)
        flags += [_flag(path.name, keys) for keys in _flagged_paths(content, ())]
    projects = [("redcap", codebook), *codebook.surveys.items()]
    for source, spec in projects:
        dictionary = spec.data_dictionary
        for row in dictionary.loc[dictionary["identifier"].astype(str).str.lower() == "y"].itertuples():
            flags.append((f"{source} data dictionary", source, str(row.form_name), str(row.field_name)))
    return flags


def _flagged_paths(node: Any, keys: tuple[str, ...]) -> list[tuple[str, ...]]:
    if isinstance(node, dict):
        found = [keys] if keys and node.get("identifier") in (True, "y", "yes", 1) else []
        for key, value in node.items():
            found += _flagged_paths(value, (*keys, str(key)))
        return found
    if isinstance(node, list):
        return [path for index, item in enumerate(node) for path in _flagged_paths(item, (*keys, str(index)))]
    return []


def _flag(file: str, keys: tuple[str, ...]) -> tuple[str, str, str, str]:
    """``(where, source, table, field)`` of a flagged key path (``forms.famille.fam_nom_parent``)."""
    where = f"{file} {'.'.join(keys)}"
    field = keys[-1]
    table = keys[-3] if len(keys) >= 3 and keys[-2] == "columns" else (keys[-2] if len(keys) >= 2 else "")
    source = {"forms.yaml": "redcap"}.get(file, keys[0] if file == "surveys.yaml" else "")
    return where, source, table, field


def coverage_problems(rows: pd.DataFrame, codebook: Codebook) -> list[str]:
    """What the inventory misses or gets wrong about identifiers, one line each (empty when none).

    Every flag of :func:`identifier_flags` must be an identifier row of ``rows`` (same source when
    the flag says it, same table, same field), and every identifier row must be held in layer 01
    only: identifiers never leave the raw layer.
    """
    problems = []
    marked = rows.loc[rows["identifier"].astype(bool)]
    for where, source, table, field in identifier_flags(codebook):
        match = (marked["table"] == table) & (marked["field"] == field)
        if source:
            match &= marked["source"] == source
        if not match.any():
            problems.append(f"{where}: {field} is flagged identifier but is not an identifier of the privacy inventory")
    later = [f"layer_{layer}" for layer in LAYERS[1:]]
    for row in marked.itertuples(index=False):
        held = [column.removeprefix("layer_") for column in later if getattr(row, column)]
        if held:
            problems.append(
                f"{row.source} {row.table}.{row.field}: identifier held in layer(s) {', '.join(held)}; "
                "identifiers never leave layer 01 (its staging keeps it: drop it there, or remove the flag)"
            )
    return sorted(set(problems))


def check_coverage(inventory: Inventory | pd.DataFrame, codebook: Codebook) -> None:
    """Refuse an inventory that misses an identifier field or lets one leave layer 01.

    Raises
    ------
    InventoryError
        Every problem of :func:`coverage_problems`, each naming the field.
    """
    rows = inventory.rows if isinstance(inventory, Inventory) else inventory
    problems = coverage_problems(rows, codebook)
    if problems:
        raise InventoryError("the privacy inventory does not cover the identifiers:\n- " + "\n- ".join(problems))

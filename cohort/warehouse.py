"""The DuckDB warehouse (layer 03), its atomic builds, and the long panel.

``<project>/warehouse.duckdb`` holds one table per table of ``model.yaml`` (columns and types from
the model, primary keys from its key columns) and a ``build`` table describing the build: its id,
when (UTC), from which inputs (``{source: pull id}`` and their SHA-256), by which code version,
with how many rows per table.

A build never leaves a half-written warehouse: it writes a new database beside the old one
(``.warehouse.duckdb.<build_id>.tmp`` in the same directory, so the rename stays on one file
system), checkpoints and closes it, then :func:`os.replace` swaps it in. On any error the
temporary file is removed, the previous warehouse is untouched, and
:class:`~proximite.errors.BuildError` is raised from the cause. Readers that had the old
file open keep reading the old build.

Statisticians use :func:`panel`; other code uses :func:`connect`, :func:`table` and
:func:`current_build`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from proximite.errors import BuildError, ProximiteError
from proximite.cohort.harmonise import PANDAS_DTYPES, model_dtypes

if TYPE_CHECKING:  # pragma: no cover
    from proximite.cohort.codebook import Codebook
    from proximite.config import Settings

__all__ = [
    "BuildInfo",
    "DUCKDB_TYPES",
    "WarehouseNotFoundError",
    "build_warehouse",
    "connect",
    "create_table_sql",
    "current_build",
    "inputs_sha256",
    "panel",
    "panel_codebook",
    "table",
]

#: Model type → DuckDB column type.
DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "month": "VARCHAR",
    "bool": "BOOLEAN",
}

BUILD_TABLE = "build"

#: Called after each table is written: ``progress(table, done, total)``.
Progress = Callable[[str, int, int], None]


class WarehouseNotFoundError(ProximiteError, FileNotFoundError):
    """The project has no warehouse yet (run ``proximite build``)."""


@dataclass(frozen=True)
class BuildInfo:
    """One build of the warehouse.

    Attributes
    ----------
    build_id : str
        Sortable unique id, ``20260121T060000Z-1a2b3c``.
    built_at : datetime
        When the build finished writing (timezone-aware, UTC).
    inputs : dict
        ``{source: pull_id or file hash}`` it was made from.
    inputs_sha256 : str
        SHA-256 of ``inputs`` (see :func:`inputs_sha256`).
    code_version : str
    row_counts : dict
        ``{table: rows}`` for every model table.
    path : Path
        The warehouse file.
    """

    build_id: str
    built_at: dt.datetime
    inputs: dict[str, str]
    inputs_sha256: str
    code_version: str
    row_counts: dict[str, int]
    path: Path = field(compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for run summaries and Prefect results)."""
        data = asdict(self)
        data["built_at"] = self.built_at.isoformat()
        data["path"] = str(self.path)
        return data


def _codebook(codebook: Codebook | None) -> Codebook:
    if codebook is not None:
        return codebook
    from proximite.cohort.codebook import load_codebook

    return load_codebook()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def inputs_sha256(inputs: Mapping[str, str]) -> str:
    """SHA-256 of a build's inputs.

    Notes
    -----
    .. math:: \\mathrm{sha256}\\big(\\mathrm{json}(\\mathrm{sorted}(inputs))\\big)

    with compact separators and UTF-8, so the digest does not depend on the mapping's order.
    """
    canonical = json.dumps({str(k): str(v) for k, v in sorted(inputs.items())}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def create_table_sql(table: str, *, codebook: Codebook | None = None, primary_key: bool = True) -> str:
    """``CREATE TABLE`` statement of a model table (types from the model, key from its key columns)."""
    book = _codebook(codebook)
    spec = book.columns(table)
    lines = [f"{_quote(name)} {DUCKDB_TYPES[column['type']]}" for name, column in spec.items()]
    keys = book.key_columns(table)
    if primary_key and keys:
        lines.append(f"PRIMARY KEY ({', '.join(_quote(name) for name in keys)})")
    return f"CREATE TABLE {_quote(table)} (\n  " + ",\n  ".join(lines) + "\n)"


def _check_tables(tables: Mapping[str, pd.DataFrame], codebook: Codebook) -> None:
    missing = [name for name in codebook.tables if name not in tables]
    unknown = [name for name in tables if name not in codebook.tables]
    problems = []
    if missing:
        problems.append(f"missing table(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"table(s) outside the model {', '.join(map(str, unknown))}")
    for name in codebook.tables:
        if name not in tables:
            continue
        expected = list(codebook.columns(name))
        given = list(tables[name].columns)
        extra = [column for column in given if column not in expected]
        absent = [column for column in expected if column not in given]
        if extra:
            problems.append(f"{name}: columns outside the model {', '.join(map(str, extra))}")
        if absent:
            problems.append(f"{name}: missing columns {', '.join(absent)}")
    if problems:
        raise BuildError("the tables do not match model.yaml: " + "; ".join(problems))


def _write_table(
    connection: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, *, codebook: Codebook, primary_key: bool = True
) -> int:
    """Create one model table and load a frame into it; returns the row count.

    The frame is scanned by DuckDB directly (faster here than converting to Arrow first).
    """
    connection.execute(create_table_sql(name, codebook=codebook, primary_key=primary_key))
    columns = ", ".join(_quote(column) for column in codebook.columns(name))
    connection.register("incoming_frame", frame)
    try:
        connection.execute(f"INSERT INTO {_quote(name)} ({columns}) SELECT {columns} FROM incoming_frame")
    finally:
        connection.unregister("incoming_frame")
    return int(len(frame))


def _write_build(connection: duckdb.DuckDBPyConnection, info: BuildInfo) -> None:
    connection.execute(
        f"""CREATE TABLE {BUILD_TABLE} (
  build_id VARCHAR PRIMARY KEY,
  built_at TIMESTAMP,           -- UTC
  inputs VARCHAR,               -- JSON {{source: pull id}}
  inputs_sha256 VARCHAR,
  code_version VARCHAR,
  row_counts VARCHAR            -- JSON {{table: rows}}
)"""
    )
    connection.execute(
        f"INSERT INTO {BUILD_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
        [
            info.build_id,
            info.built_at.astimezone(dt.timezone.utc).replace(tzinfo=None),
            json.dumps(info.inputs, sort_keys=True),
            info.inputs_sha256,
            info.code_version,
            json.dumps(info.row_counts),
        ],
    )


def _new_build_id(now: dt.datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_quietly(*paths: Path) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def build_warehouse(
    tables: Mapping[str, pd.DataFrame],
    *,
    settings: Settings,
    inputs: Mapping[str, str],
    code_version: str,
    progress: Progress | None = None,
    primary_keys: bool = True,
    codebook: Codebook | None = None,
) -> BuildInfo:
    """Build ``<project>/warehouse.duckdb`` from the harmonised tables, atomically.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Every table of ``model.yaml`` with exactly its columns (as :func:`harmonise` returns).
    settings : Settings, keyword-only
        Gives the warehouse path.
    inputs : mapping, keyword-only
        ``{source: pull_id or file hash}`` the tables were made from.
    code_version : str, keyword-only
    progress : callable, optional, keyword-only
        ``progress(table, done, total)`` after each table.
    primary_keys : bool, keyword-only
        Declare each table's key columns as its primary key (default). At province scale this
        costs about 2.5 s of a 5 s build and 2.4 times the file size (187 vs 78 MB, measured with
        2 million activities); :func:`harmonise` already checks the keys, so a caller pressed for
        time may turn it off.
    codebook : Codebook, optional, keyword-only

    Returns
    -------
    BuildInfo

    Raises
    ------
    BuildError
        The tables do not match the model, or writing failed (a duplicate key, a full disk ...).
        The previous warehouse is left in place and no temporary file remains.

    Notes
    -----
    ``inputs_sha256 = sha256(json(sorted(inputs)))``. The new database is written to a temporary
    file in the warehouse's directory, checkpointed, closed and fsynced, then renamed over the
    old one with :func:`os.replace` (atomic on POSIX).
    """
    book = _codebook(codebook)
    _check_tables(tables, book)
    path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.timezone.utc)
    build_id = _new_build_id(started)
    temporary = path.with_name(f".{path.name}.{build_id}.tmp")
    wal = temporary.with_name(temporary.name + ".wal")
    current = ""
    try:
        connection = duckdb.connect(str(temporary))
        try:
            row_counts: dict[str, int] = {}
            total = len(book.tables)
            for done, name in enumerate(book.tables, start=1):
                current = name
                row_counts[name] = _write_table(connection, name, tables[name], codebook=book, primary_key=primary_keys)
                if progress is not None:
                    progress(name, done, total)
            current = BUILD_TABLE
            info = BuildInfo(
                build_id=build_id,
                built_at=dt.datetime.now(dt.timezone.utc),
                inputs={str(k): str(v) for k, v in sorted(inputs.items())},
                inputs_sha256=inputs_sha256(inputs),
                code_version=str(code_version),
                row_counts=row_counts,
                path=path,
            )
            _write_build(connection, info)
            connection.execute("CHECKPOINT")
        finally:
            connection.close()
        current = "swap"
        _fsync(temporary)
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except BaseException as error:
        _remove_quietly(temporary, wal)
        if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: clean up, then let it through
            raise
        # Name the step and the error type; DuckDB's message may quote a key (never other values).
        first_line = str(error).splitlines()[0][:300] if str(error) else ""
        raise BuildError(
            f"warehouse build failed at '{current}' ({type(error).__name__}: {first_line}); "
            f"the previous warehouse at {path} is unchanged"
        ) from error
    return info


def _fsync_directory(directory: Path) -> None:
    try:
        _fsync(directory)
    except OSError:  # some file systems refuse fsync on a directory; the rename is still atomic
        pass


# ---------------------------------------------------------------------------------------- reading
def connect(settings: Settings, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (read-only by default); use it as a context manager.

    Notes
    -----
    DuckDB shares one database instance per file within a process: while a connection opened
    before a rebuild stays open, new connections in the same process still see the old build.
    Close connections when done (``with connect(settings) as connection: ...``), as
    :func:`table`, :func:`panel` and :func:`current_build` do.

    Raises
    ------
    WarehouseNotFoundError
        The project has no warehouse yet.
    """
    path = settings.warehouse_path
    if not path.is_file():
        raise WarehouseNotFoundError(f"no warehouse at {path}; run `proximite build` first")
    return duckdb.connect(str(path), read_only=read_only)


def current_build(settings: Settings) -> BuildInfo | None:
    """The build of the current warehouse, or None when there is none."""
    if not settings.warehouse_path.is_file():
        return None
    with connect(settings) as connection:
        row = connection.execute(
            f"SELECT build_id, built_at, inputs, inputs_sha256, code_version, row_counts FROM {BUILD_TABLE} "
            "ORDER BY built_at DESC LIMIT 1"
        ).fetchone()
    if row is None:
        return None
    build_id, built_at, inputs, digest, code_version, row_counts = row
    return BuildInfo(
        build_id=build_id,
        built_at=built_at.replace(tzinfo=dt.timezone.utc),
        inputs=json.loads(inputs),
        inputs_sha256=digest,
        code_version=code_version,
        row_counts={str(k): int(v) for k, v in json.loads(row_counts).items()},
        path=settings.warehouse_path,
    )


def _typed(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Give a frame read from DuckDB the harmonised dtypes (string, Int64, Float64, boolean, ns dates)."""
    return frame.astype({name: dtype for name, dtype in dtypes.items() if name in frame.columns})


def table(settings: Settings, name: str, *, codebook: Codebook | None = None) -> pd.DataFrame:
    """One harmonised table of the current warehouse, with the model's columns and dtypes.

    Raises
    ------
    CodebookError
        ``name`` is not a model table.
    WarehouseNotFoundError
        The project has no warehouse yet.
    """
    book = _codebook(codebook)
    columns = book.columns(name)  # refuses a name outside the model before it reaches SQL
    select = ", ".join(_quote(column) for column in columns)
    with connect(settings) as connection:
        frame = connection.execute(f"SELECT {select} FROM {_quote(name)}").df()
    return _typed(frame, model_dtypes(name, codebook=book))


#: Covariates the panel adds to the assessment columns: name → (type, French, English description).
PANEL_COVARIATES: dict[str, tuple[str, str, str]] = {
    "territory_id": ("string", "Territoire de la famille", "Family's territory"),
    "region_code": ("string", "Région administrative du territoire", "Administrative region of the territory"),
    "environment": ("string", "Milieu du territoire", "Territory's environment (urban, rural, mixed)"),
    "host_type": ("string", "Type d'organisme porteur du territoire", "Territory's host organisation type"),
    "isolated_at_contact": ("bool", "Isolée au premier contact (critère du projet pilote)", "Isolated at first contact (pilot's criterion)"),
    "single_parent": ("bool", "Famille monoparentale", "Single-parent family"),
    "baseline_isolation_index": ("float", "Indice d'isolement à la vague de référence (T0)", "Isolation index at baseline (T0)"),
    "n_children": ("int", "Nombre d'enfants de la famille", "Number of children in the family"),
}

#: Columns the panel derives on request (``ptp_minutes=True``, ``attrition_weight=True``):
#: name → (type, French, English description).
PANEL_DERIVED: dict[str, tuple[str, str, str]] = {
    "ptp_minutes": (
        "int",
        "Temps de PTP reçu par la famille jusqu'à la date d'évaluation de la vague (minutes d'activité liées à la famille)",
        "PTP time received by the family up to the wave's assessment date (minutes of activities linked to the family)",
    ),
    "attrition_weight": (
        "float",
        "Poids stabilisé d'attrition : inverse de la probabilité d'être encore suivie à la vague (1 à T0)",
        "Stabilised attrition weight: inverse probability of still being followed at the wave (1 at T0)",
    ),
}

_COVARIATE_SOURCE = {
    "territory_id": "family",
    "region_code": "territory",
    "environment": "territory",
    "host_type": "territory",
    "isolated_at_contact": "family",
    "single_parent": "family",
}


def panel_codebook(columns: Iterable[str], *, codebook: Codebook | None = None) -> dict[str, dict[str, Any]]:
    """Plain-dict codebook of panel columns: description (FR/EN), type, enumeration, labels and the
    REDCap fields a column comes from.

    A column without an enumeration of its own that copies one coded REDCap item (a 0–3 isolation
    score, a 1–5 Likert item) gets that item's labels.

    Only strings, lists and dicts, so it survives ``copy.deepcopy`` and pickling in ``DataFrame.attrs``.
    """
    book = _codebook(codebook)
    assessment = book.columns("assessment")
    result: dict[str, dict[str, Any]] = {}
    for column in columns:
        if column in assessment:
            spec = assessment[column]
        elif column in PANEL_COVARIATES:
            kind, fr, en = PANEL_COVARIATES[column]
            source = _COVARIATE_SOURCE.get(column)
            spec = dict(book.columns(source)[column]) if source else {"type": kind}
            spec.update({"type": kind, "description": fr, "description_en": en})
        elif column in PANEL_DERIVED:
            kind, fr, en = PANEL_DERIVED[column]
            spec = {"type": kind, "description": fr, "description_en": en}
        else:  # pragma: no cover - guarded by panel()
            continue
        fields = book.fields
        table_name = "assessment" if column in assessment else _COVARIATE_SOURCE.get(column, "")
        feeding = fields.loc[(fields["target_table"] == table_name) & (fields["target_column"] == column)]
        enum = str(spec.get("enum", ""))
        if not enum and len(feeding) == 1 and feeding["field_type"].iloc[0] in {"radio", "dropdown"}:
            # A coded REDCap item kept as is (a 0-3 score, a 1-5 Likert item): its labels apply.
            enum = str(feeding["enum"].iloc[0])
        entry: dict[str, Any] = {
            "description": str(spec.get("description", "")),
            "description_en": str(spec.get("description_en", "")),
            "type": str(spec["type"]),
            "enum": enum or None,
            "labels": {},
            "labels_en": {},
            "source_fields": [str(name) for name in feeding["field_name"] if name != book.record_id_field],
        }
        for bound in ("min", "max"):
            if bound in spec:
                entry[bound] = spec[bound]
        if entry["enum"]:
            entry["labels"] = dict(book.labels(entry["enum"], lang="fr"))
            entry["labels_en"] = dict(book.labels(entry["enum"], lang="en"))
        result[column] = entry
    return result


def panel(
    project_dir: str | Path | None = None,
    *,
    settings: Settings | None = None,
    columns: Sequence[str] | None = None,
    waves: Sequence[int] | None = None,
    codebook: Codebook | None = None,
    ptp_minutes: bool = False,
    attrition_weight: bool = False,
    attrition_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The long panel: one row per family and wave, from the current warehouse.

    Parameters
    ----------
    project_dir : str or Path, optional
        Project directory (its settings are loaded); ignored when ``settings`` is given.
        Defaults to the current directory.
    settings : Settings, optional, keyword-only
    columns : sequence of str, optional, keyword-only
        Columns to keep (default: all assessment columns, then the covariates).
    waves : sequence of int, optional, keyword-only
        Waves to keep (default: all).
    codebook : Codebook, optional, keyword-only
    ptp_minutes : bool, keyword-only
        Add ``ptp_minutes``: the PTP time the family received up to the wave's assessment date
        (also added when ``columns`` names it).
    attrition_weight : bool, keyword-only
        Add ``attrition_weight``: the stabilised inverse probability of still being followed at
        the wave (:func:`proximite.cohort.models.attrition.attrition_weights`, fitted on every
        wave whatever ``waves`` keeps; also added when ``columns`` names it).
    attrition_options : mapping, optional, keyword-only
        Options of :func:`~proximite.cohort.models.attrition.attrition_weights` (``outcome``,
        ``covariates``, ``previous``, ``numerator``).

    Returns
    -------
    DataFrame
        Indexed by ``(family_id, wave)`` (``wave`` int64, months after T0), sorted; columns are
        the assessment's (date, the six dimensions, resources used, index, isolated, scales,
        satisfaction) then the covariates ``territory_id``, ``region_code``, ``environment``,
        ``host_type``, ``isolated_at_contact``, ``single_parent``, ``baseline_isolation_index``
        (the index at the first configured wave) and ``n_children``. ``attrs["codebook"]`` maps
        every column (and index level) to ``{description, description_en, type, enum, labels,
        labels_en, source_fields}`` (plain dicts, so copies and pickles keep it); ``attrs["build_id"]`` names the build;
        ``attrs["waves_not_due"]`` maps each wave to the families whose window was still open at
        the data's horizon (the latest assessment date): the attrition model does not count them
        as lost.
        ``ptp_minutes`` (Int64) and ``attrition_weight`` (Float64) come last when asked for.

    Raises
    ------
    WarehouseNotFoundError
        The project has no warehouse yet.
    ValueError
        A requested column is not in the panel, or an unknown key of ``attrition_options``.
    ModelError
        The attrition model cannot be fitted (a covariate not in the panel).

    Notes
    -----
    Only observed assessments are rows (the panel is unbalanced; attrition shows as missing
    waves). ``n_children`` counts every child of the family, unborn ones included.

    .. math:: \\text{ptp\\_minutes}_{fw} = \\sum_{a \\in \\text{activity}:\\ a.\\text{family\\_id} = f,\\
              a.\\text{date} \\le \\text{assessment\\_date}_{fw}} a.\\text{minutes}

    (travel minutes not counted; 0 for a family without a logged activity; missing when the
    assessment date is). ``attrition_weight`` is 1 at the baseline wave and missing for rows of
    families without a baseline index (or a covariate of the attrition model); every family is
    taken as due at every wave, so restrict to families past their last wave's window before
    weighting a cohort still being followed.
    """
    from proximite.config import load_settings

    settings = settings if settings is not None else load_settings(project_dir)
    book = _codebook(codebook)
    measures = [name for name in book.columns("assessment") if name not in {"family_id", "wave"}]
    available = measures + list(PANEL_COVARIATES)
    chosen = list(available if columns is None else columns)
    unknown = [name for name in chosen if name not in available + list(PANEL_DERIVED)]
    if unknown:
        raise ValueError(
            f"not panel columns: {', '.join(unknown)} (available: {', '.join(available + list(PANEL_DERIVED))})"
        )
    asked = {"ptp_minutes": ptp_minutes, "attrition_weight": attrition_weight}
    derived = [name for name in PANEL_DERIVED if asked[name] or name in chosen]
    chosen = [name for name in chosen if name not in PANEL_DERIVED]
    baseline_wave = min(settings.wave_months) if settings.wave_months else 0
    wave_filter = ""
    parameters: list[Any] = [baseline_wave]
    if waves is not None:
        wanted = [int(wave) for wave in waves]
        wave_filter = "WHERE a.wave IN (SELECT unnest(?::BIGINT[]))"
        parameters.append(wanted)
    select = ", ".join(f"{_quote(name)}" for name in chosen)
    sql = f"""
WITH baseline AS (
  SELECT family_id, isolation_index AS baseline_isolation_index FROM assessment WHERE wave = ?
), children AS (
  SELECT family_id, count(*) AS n_children FROM child GROUP BY family_id
), joined AS (
  SELECT a.*, f.territory_id, t.region_code, t.environment, t.host_type,
         f.isolated_at_contact, f.single_parent, b.baseline_isolation_index,
         coalesce(c.n_children, 0) AS n_children
  FROM assessment a
  LEFT JOIN family f ON f.family_id = a.family_id
  LEFT JOIN territory t ON t.territory_id = f.territory_id
  LEFT JOIN baseline b ON b.family_id = a.family_id
  LEFT JOIN children c ON c.family_id = a.family_id
  {wave_filter}
)
SELECT family_id, wave{', ' + select if select else ''} FROM joined ORDER BY family_id, wave
"""
    # PTP time up to each assessment: activities of the family dated on or before the assessment.
    ptp_sql = f"""
SELECT a.family_id, a.wave,
       CASE WHEN a.assessment_date IS NULL THEN NULL
            ELSE coalesce(sum(v.minutes) FILTER (WHERE v.activity_date <= a.assessment_date), 0) END AS ptp_minutes
FROM assessment a
LEFT JOIN activity v ON v.family_id = a.family_id
{wave_filter}
GROUP BY a.family_id, a.wave, a.assessment_date
"""
    with connect(settings) as connection:
        frame = connection.execute(sql, parameters).df()
        minutes = connection.execute(ptp_sql, parameters[1:]).df() if "ptp_minutes" in derived else None
        build = connection.execute(f"SELECT build_id FROM {BUILD_TABLE} ORDER BY built_at DESC LIMIT 1").fetchone()
        not_due = _waves_not_due(settings, connection)
    dtypes = model_dtypes("assessment", codebook=book)
    dtypes.update({name: PANDAS_DTYPES[kind] for name, (kind, _, _) in PANEL_COVARIATES.items()})
    frame = _typed(frame, {name: dtypes[name] for name in ["family_id", *chosen]})
    frame["wave"] = frame["wave"].astype("int64")
    frame = frame.set_index(["family_id", "wave"])
    if minutes is not None:
        minutes = minutes.astype({"family_id": "string", "wave": "int64"}).set_index(["family_id", "wave"])
        frame["ptp_minutes"] = minutes["ptp_minutes"].reindex(frame.index).astype("Int64")
    if "attrition_weight" in derived:
        frame["attrition_weight"] = _attrition_weights(settings, book, frame.index, attrition_options or {})
    frame.attrs["codebook"] = panel_codebook(["family_id", "wave", *chosen, *derived], codebook=book)
    frame.attrs["build_id"] = build[0] if build else None
    frame.attrs["waves_not_due"] = not_due
    return frame


def _waves_not_due(settings: Settings, connection: Any) -> dict[int, list[str]]:
    """Per wave, the families whose window was still open at the data's horizon.

    The horizon is the latest assessment date of the warehouse (what the last pull could hold);
    a wave whose window ends after it cannot have been missed yet, so attrition models leave the
    family out of that wave's risk set instead of counting it as lost.
    """
    from proximite.cohort.followups import FollowupSchedule, wave_windows

    family = connection.execute("SELECT family_id, territory_id, first_contact_date, exit_date FROM family").df()
    assessment = connection.execute("SELECT family_id, wave, assessment_date FROM assessment").df()
    if family.empty or assessment["assessment_date"].isna().all():
        return {}
    horizon = pd.to_datetime(assessment["assessment_date"]).max()
    windows = wave_windows(family, assessment, schedule=FollowupSchedule.from_settings(settings))
    open_windows = windows.loc[pd.to_datetime(windows["window_end"]) > horizon]
    return {int(wave): sorted(str(family_id) for family_id in group["family_id"]) for wave, group in open_windows.groupby("wave")}


def _attrition_weights(
    settings: Settings, book: Codebook, index: pd.MultiIndex, options: Mapping[str, Any]
) -> pd.Series:
    """The attrition weights of ``index``'s rows, from the dropout model fitted on every wave."""
    from proximite.cohort.models.attrition import attrition_weights

    unknown = sorted(set(options) - {"outcome", "covariates", "previous", "numerator"})
    if unknown:
        raise ValueError(
            f"attrition_options: unknown option(s) {', '.join(unknown)}; they are outcome, covariates, previous, numerator"
        )
    outcome = str(options.get("outcome", "isolation_index"))
    covariates = list(options.get("covariates", ("baseline_isolation_index", "isolated_at_contact")))
    full = panel(settings=settings, columns=list(dict.fromkeys([outcome, *covariates])), codebook=book)
    weights = attrition_weights(full, **dict(options))
    return pd.Series(weights.reindex(index).to_numpy(dtype="float64"), index=index, dtype="Float64")

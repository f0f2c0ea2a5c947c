"""The pipeline's steps as plain functions: what the CLI and the Prefect tasks both call.

Each step reads from one named layer and writes the next, and passes on a path or an id rather
than large frames, so a Prefect task can call it and return something small.

- :func:`harmonise_staged`: 02 staged (latest good pull of every source) → 03 harmonised Parquet;
- :func:`validate_harmonised`: the harmonised gate on layer 03 (quarantines a refused batch);
- :func:`build_from_harmonised`: 03 harmonised Parquet → the DuckDB warehouse (atomic swap), after
  the harmonised gate unless told not to;
- :func:`warehouse_summary`: counts of the current warehouse, for the demo and run summaries;
- :func:`compute_indicators`: the warehouse's current build → 04 indicators Parquet (reused for
  the same build and parameters, :func:`reusable_indicators`);
- :func:`compute_indicator_part` and :func:`combine_indicator_parts`: the same layer 04 fanned out
  (one part per indicator family × scope level, on :func:`indicator_tables`), then combined;
- :func:`write_snapshot_from_warehouse`: 04 indicators → the decision-makers' snapshot in
  ``reporting/snapshot-<date>/`` (disclosure control applied).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

import proximite
from proximite.cohort import layers
from proximite.cohort.errors import ProximiteError
from proximite.config import Settings

HARMONISED = "03_harmonised"


def code_version() -> str:
    """Package version, plus the git commit when running from a checkout."""
    version = proximite.__version__
    try:
        root = Path(__file__).resolve().parent.parent
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+{commit}" if commit else version


def harmonise_staged(settings: Settings, *, key: bytes) -> Path:
    """Harmonise the latest staged pull of every source and write layer 03 as Parquet.

    Parameters
    ----------
    settings : Settings
    key : bytes, keyword-only
        The pseudonymisation key.

    Returns
    -------
    Path
        ``data/03_harmonised/<id>/``, one Parquet file per harmonised table plus ``inputs.json``
        (the staged pull ids it was made from). The id is derived from those pull ids, so the
        same staged inputs give the same directory.

    Raises
    ------
    FileNotFoundError
        A source has no staged pull yet.
    """
    from proximite.cohort.harmonise import harmonise

    inputs = layers.staged_fingerprint(settings)
    missing = [source for source in layers.SOURCES if source not in inputs]
    if missing:
        raise FileNotFoundError(
            f"no staged pull for source(s) {', '.join(missing)} under {settings.data_dir / layers.STAGED}; "
            "run `proximite ingest` on an input directory that has them"
        )
    staged = {source: layers.read_staged(settings, source, pull_id) for source, pull_id in inputs.items()}
    tables = harmonise(staged, key=key, settings=settings)
    target = harmonised_dir_for(settings, layers.staged_content(settings))
    temporary = target.with_name(target.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    for name, frame in tables.items():
        frame.to_parquet(temporary / f"{name}.parquet", index=False)
    (temporary / "inputs.json").write_text(json.dumps(inputs, indent=2, sort_keys=True), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(temporary, target)
    return target


def harmonised_dir_for(settings: Settings, content: dict[str, str]) -> Path:
    """The layer-03 directory that :func:`harmonise_staged` writes for staged tables of this content.

    Parameters
    ----------
    settings : Settings
    content : dict
        ``{source: SHA-256}`` of every source's staged tables (:func:`layers.staged_content`): the
        directory is named by what it was made from, so identical pulls share it.
    """
    harmonised_id = "-".join(content[source] for source in layers.SOURCES)
    return settings.data_dir / HARMONISED / _short_id(harmonised_id)


def _short_id(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _read_harmonised(directory: Path) -> dict[str, pd.DataFrame]:
    return {path.stem: pd.read_parquet(path) for path in sorted(directory.glob("*.parquet"))}


def validate_harmonised(settings: Settings, harmonised_dir: str | Path) -> dict[str, Any]:
    """Run the harmonised validation gate on a layer-03 directory (before the warehouse is built).

    Parameters
    ----------
    settings : Settings
    harmonised_dir : str or Path
        Written by :func:`harmonise_staged`.

    Returns
    -------
    dict
        :meth:`ValidationResult.to_dict` (counts per blocking rule, no row-level data), for a
        flow artifact; the gate's last result is also in ``reporting/validation/harmonised.*``.

    Raises
    ------
    GateFailed
        An error rule failed: the tables and the report are in
        ``data/quarantine/<harmonised id>/harmonised/``; the warehouse is untouched.
    """
    from proximite.expectations.gates import gate_harmonised

    return gate_harmonised(settings, harmonised_dir=Path(harmonised_dir)).to_dict()


def build_from_harmonised(settings: Settings, harmonised_dir: str | Path, *, validate: bool = True) -> Any:
    """Build the warehouse from a layer-03 directory written by :func:`harmonise_staged`.

    Parameters
    ----------
    settings : Settings
    harmonised_dir : str or Path
    validate : bool, keyword-only
        Run the harmonised validation gate first (default); a refused batch is quarantined and
        the warehouse is not touched. Only tests that need to build data the gate would refuse
        turn it off.

    Returns
    -------
    BuildInfo
        The new build (id, time, inputs, row counts).

    Raises
    ------
    GateFailed
        The harmonised gate refused the tables (the last good warehouse stays in place).
    """
    from proximite.cohort.warehouse import build_warehouse

    directory = Path(harmonised_dir)
    inputs = json.loads((directory / "inputs.json").read_text(encoding="utf-8"))
    tables = _read_harmonised(directory)
    if validate:
        from proximite.expectations.gates import gate_harmonised

        # The tables just read are the ones validated and the ones built: read once.
        gate_harmonised(settings, harmonised_dir=directory, tables=tables)
    return build_warehouse(tables, settings=settings, inputs=inputs, code_version=code_version())


def warehouse_summary(settings: Settings) -> dict[str, Any]:
    """Counts of the current warehouse: families, children, assessments per wave, activities, referrals.

    Only counts: nothing about one family.
    """
    from proximite.cohort.warehouse import connect

    with connect(settings, read_only=True) as connection:
        scalar = lambda sql: int(connection.execute(sql).fetchone()[0])  # noqa: E731
        per_wave = connection.execute(
            "SELECT wave, count(*) FROM assessment GROUP BY wave ORDER BY wave"
        ).fetchall()
        build = connection.execute(
            "SELECT build_id, built_at FROM build ORDER BY built_at DESC LIMIT 1"
        ).fetchone()
        return {
            "build_id": build[0] if build else None,
            "built_at": str(build[1]) if build else None,
            "territories": scalar("SELECT count(*) FROM territory"),
            "organisations": scalar("SELECT count(*) FROM organisation"),
            "workers": scalar("SELECT count(DISTINCT worker_id) FROM worker"),
            "families": scalar("SELECT count(*) FROM family"),
            "isolated_at_contact": scalar("SELECT count(*) FROM family WHERE isolated_at_contact"),
            "children": scalar("SELECT count(*) FROM child"),
            "assessments_per_wave": {int(wave): int(count) for wave, count in per_wave},
            "needs": scalar("SELECT count(*) FROM need"),
            "referrals": scalar("SELECT count(*) FROM referral"),
            "activities": scalar("SELECT count(*) FROM activity"),
            "supervision_sessions": scalar("SELECT count(*) FROM supervision"),
        }


# ------------------------------------------------------------------ layer 04 and the snapshot
INDICATORS = "04_indicators"
INDICATORS_FILE = "indicators.parquet"
INDICATORS_MANIFEST = "manifest.json"
#: Directory of layer 04 holding a build's fan-out parts until they are combined: ``.parts-<build_id>``.
INDICATOR_PARTS_PREFIX = ".parts-"

#: A build id names directories: letters, digits, ``-``, ``_`` and ``.``, not starting with a dot.
_BUILD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class StaleBuildError(ProximiteError):
    """The warehouse's current build is not the one a step was asked to work on (it was rebuilt)."""


class IndicatorPartsError(ProximiteError):
    """The fan-out's part files cannot be combined into layer 04 (one is missing or repeated)."""


# The tables of the last (warehouse, build) read by indicator_tables, shared by the fan-out's units
# that run in this process (threads of a pool, or tasks of a Dask worker): one copy at a time.
_TABLES_LOCK = threading.Lock()
_TABLES_MEMO: tuple[tuple[str, str], dict[str, pd.DataFrame]] | None = None


def _checked_build_id(build_id: str) -> str:
    """``build_id`` when it is a plain directory name (it becomes one in layer 04)."""
    if not isinstance(build_id, str) or not _BUILD_ID.fullmatch(build_id):
        raise ValueError(f"build id {build_id!r} is not a warehouse build id (letters, digits, '-', '_', '.')")
    return build_id


def _require_current_build(settings: Settings, build_id: str) -> None:
    """Raise unless ``build_id`` is the warehouse's current build."""
    from proximite.cohort.warehouse import WarehouseNotFoundError, current_build

    build = current_build(settings)
    if build is None:
        raise WarehouseNotFoundError(f"{settings.warehouse_path}: no warehouse yet; run `proximite build` first")
    if build.build_id != build_id:
        raise StaleBuildError(
            f"{settings.warehouse_path}: asked for build {build_id}, but the current build is {build.build_id} "
            "(the warehouse was rebuilt since this run started); run the indicators again for the current build"
        )


def _read_indicator_tables(settings: Settings) -> dict[str, pd.DataFrame]:
    """Every table of the codebook's model, read from the warehouse (read-only connections)."""
    from proximite.cohort.codebook import load_codebook
    from proximite.cohort.warehouse import table

    codebook = load_codebook()
    return {name: table(settings, name, codebook=codebook) for name in codebook.tables}


def indicator_tables(settings: Settings, build_id: str) -> dict[str, pd.DataFrame]:
    """The harmonised tables of a warehouse build, for the indicators' fan-out units.

    Parameters
    ----------
    settings : Settings
    build_id : str
        The build the caller works on; it must be the warehouse's current build.

    Returns
    -------
    dict of str to DataFrame
        Every table of the codebook's model, read read-only. A new dict on each call; the frames
        are shared between calls and must not be modified (indicator functions never do).

    Raises
    ------
    WarehouseNotFoundError
        The project has no warehouse.
    StaleBuildError
        The current build is another one (checked on every call, and again after reading, so a
        rebuild during the read cannot mix two builds).

    Notes
    -----
    Memoised per process for the last (warehouse path, build id) only: the units that a thread
    pool or a Dask worker runs on the same build read the warehouse once, and a new build
    replaces the old tables rather than adding a copy. A lock makes concurrent callers wait for
    one read.
    """
    global _TABLES_MEMO
    key = (str(settings.warehouse_path.resolve()), _checked_build_id(build_id))
    with _TABLES_LOCK:
        _require_current_build(settings, build_id)
        if _TABLES_MEMO is not None and _TABLES_MEMO[0] == key:
            return dict(_TABLES_MEMO[1])
        _TABLES_MEMO = None  # let the previous build's tables go before reading the next
        tables = _read_indicator_tables(settings)
        _require_current_build(settings, build_id)
        _TABLES_MEMO = (key, tables)
        return dict(tables)


def _forget_indicator_tables(settings: Settings, build_id: str) -> None:
    """Drop the memoised tables of this warehouse and build (their units are done)."""
    global _TABLES_MEMO
    key = (str(settings.warehouse_path.resolve()), build_id)
    with _TABLES_LOCK:
        if _TABLES_MEMO is not None and _TABLES_MEMO[0] == key:
            _TABLES_MEMO = None


def reusable_indicators(settings: Settings, build_id: str) -> Path | None:
    """The layer-04 directory of a build, when it was computed with the current parameters.

    Parameters
    ----------
    settings : Settings
    build_id : str

    Returns
    -------
    Path or None
        ``data/04_indicators/<build_id>/`` when it holds ``indicators.parquet`` and a manifest
        of that build whose parameters equal
        :meth:`IndicatorParameters.from_settings(settings) <proximite.indicators.base.IndicatorParameters.from_settings>`;
        None otherwise (no directory, other parameters, an unreadable manifest).
    """
    from proximite.indicators.base import IndicatorParameters

    target = settings.data_dir / INDICATORS / _checked_build_id(build_id)
    manifest_path = target / INDICATORS_MANIFEST
    if not ((target / INDICATORS_FILE).is_file() and manifest_path.is_file()):
        return None
    try:
        previous = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a damaged manifest: compute again and replace the directory
    parameters = IndicatorParameters.from_settings(settings)
    if previous.get("build_id", build_id) == build_id and previous.get("parameters") == parameters.to_dict():
        return target
    return None


def _write_indicators_layer(
    settings: Settings,
    build_id: str,
    frame: pd.DataFrame,
    *,
    parameters: Any,
    manifest_extra: dict[str, Any],
) -> Path:
    """Write ``data/04_indicators/<build_id>/`` (table and manifest) atomically; return it.

    The directory is written under a temporary name and swapped in with
    :func:`layers.replace_directory`, so a failure leaves the last good one (and no temporary).
    ``manifest_extra`` is merged into the manifest (``seconds``, ``fanout``).
    """
    import datetime as dt

    target = settings.data_dir / INDICATORS / _checked_build_id(build_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        frame.to_parquet(temporary / INDICATORS_FILE, index=False)
        manifest = {
            "build_id": build_id,
            "code_version": code_version(),
            "parameters": parameters.to_dict(),
            "computed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "rows": int(len(frame)),
            "indicators": sorted(frame["indicator"].dropna().astype(str).unique().tolist()),
            **manifest_extra,
        }
        (temporary / INDICATORS_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        layers.replace_directory(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target


def compute_indicators(settings: Settings, *, progress: Any = None, force: bool = False) -> Path:
    """Compute every indicator family on the current warehouse build and write layer 04.

    Parameters
    ----------
    settings : Settings
    progress : callable, keyword-only
        Called as ``progress("indicators", done, total)`` after each indicator family.
    force : bool, keyword-only
        Recompute even when layer 04 already holds this build with the same parameters.

    Returns
    -------
    Path
        ``data/04_indicators/<build_id>/`` with ``indicators.parquet`` (the tidy table of
        :func:`proximite.indicators.compute_all`, no disclosure control applied: it is not for
        decision-makers) and ``manifest.json`` (build id, code version, parameters, computed at,
        rows, seconds per family).

    Raises
    ------
    WarehouseNotFoundError
        The project has no warehouse yet.

    Notes
    -----
    The sequential path (the CLI's); the Prefect flow fans the same work out with
    :func:`compute_indicator_part` and :func:`combine_indicator_parts`, which give the same
    table. The directory is written under a temporary name and renamed into place, so a failure
    leaves the last good one. An existing directory for the same build id computed with the same
    parameters is reused without recomputing (:func:`reusable_indicators`); with other
    parameters (the configuration changed) it is recomputed and replaced.
    """
    from proximite.cohort.warehouse import WarehouseNotFoundError, current_build
    from proximite.indicators import compute_all
    from proximite.indicators.base import IndicatorParameters

    build = current_build(settings)
    if build is None:
        raise WarehouseNotFoundError(f"{settings.warehouse_path}: no warehouse yet; run `proximite build` first")
    if not force:
        reusable = reusable_indicators(settings, build.build_id)
        if reusable is not None:
            return reusable
    parameters = IndicatorParameters.from_settings(settings)
    started = time.perf_counter()
    # Not memoised (unlike indicator_tables): one read per command, released when it is done.
    tables = _read_indicator_tables(settings)
    read_seconds = time.perf_counter() - started
    timings: dict[str, float] = {}
    relay = None
    if progress is not None:
        relay = lambda _family, done, total: progress("indicators", done, total)  # noqa: E731
    frame = compute_all(tables, parameters=parameters, progress=relay, timings=timings)
    seconds = {"read_warehouse": round(read_seconds, 3), **{family: round(s, 3) for family, s in timings.items()}}
    return _write_indicators_layer(
        settings, build.build_id, frame, parameters=parameters, manifest_extra={"seconds": seconds}
    )


def indicator_parts_dir(settings: Settings, build_id: str) -> Path:
    """``data/04_indicators/.parts-<build_id>/``: the fan-out's part files of a build."""
    return settings.data_dir / INDICATORS / f"{INDICATOR_PARTS_PREFIX}{_checked_build_id(build_id)}"


def compute_indicator_part(settings: Settings, build_id: str, family: str, scope: str) -> dict[str, Any]:
    """Compute one unit of the indicators' fan-out and write it as a part file.

    Parameters
    ----------
    settings : Settings
    build_id : str
        The warehouse build (it must be the current one).
    family : str
        An indicator family (:data:`proximite.indicators.FAMILIES`).
    scope : str
        A scope level (``quebec``, ``region``, ``territory``).

    Returns
    -------
    dict
        Plain types only (a Prefect or Dask result): ``family``, ``scope``, ``path`` (absolute
        path of ``data/04_indicators/.parts-<build_id>/<family>-<scope>.parquet``), ``rows`` and
        ``seconds`` (the computation only: reading the tables is shared by the units a process
        runs, see :func:`indicator_tables`).

    Raises
    ------
    ValueError
        An unknown family or scope level.
    StaleBuildError
        ``build_id`` is no longer the current build.

    Notes
    -----
    :func:`proximite.indicators.fanout.compute_unit` on :func:`indicator_tables` with the
    project's parameters. The part is written under a temporary name and renamed into place, so
    a part file is always whole.
    """
    from proximite.indicators.base import IndicatorParameters
    from proximite.indicators.fanout import FanoutUnit, compute_unit

    unit = FanoutUnit(family, scope)
    tables = indicator_tables(settings, build_id)
    parameters = IndicatorParameters.from_settings(settings)
    started = time.perf_counter()
    frame = compute_unit(tables, unit, parameters=parameters)
    seconds = time.perf_counter() - started
    directory = indicator_parts_dir(settings, build_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = (directory / f"{unit.name}.parquet").resolve()
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return {"family": unit.family, "scope": unit.scope, "path": str(path), "rows": int(len(frame)),
            "seconds": round(seconds, 3)}


def combine_indicator_parts(settings: Settings, build_id: str, parts: list[dict[str, Any]]) -> Path:
    """Combine the fan-out's part files into layer 04, exactly as :func:`compute_indicators` writes it.

    Parameters
    ----------
    settings : Settings
    build_id : str
    parts : list of dict
        What :func:`compute_indicator_part` returned for every unit (any order).

    Returns
    -------
    Path
        ``data/04_indicators/<build_id>/``: the same ``indicators.parquet`` as
        :func:`compute_indicators` (rows in :func:`proximite.indicators.fanout.canonical_order`)
        and the same manifest keys (``seconds`` holds the units' seconds summed per family and
        the combine's), plus ``fanout``: ``{"units": n, "seconds": {unit name: seconds}}``.

    Raises
    ------
    IndicatorPartsError
        A unit of :func:`proximite.indicators.fanout.fanout_units` has no part, a unit is given
        twice, or a part file is missing.

    Notes
    -----
    Written atomically (temporary directory, then :func:`layers.replace_directory`): a failure
    leaves the last good layer-04 directory in place, and the parts too, so the combine can be
    retried. After success the parts directory is removed and this process's memoised tables
    of the build (:func:`indicator_tables`) are released.
    """
    from proximite.indicators.base import IndicatorParameters
    from proximite.indicators.fanout import FanoutUnit, combine_units, fanout_units

    started = time.perf_counter()
    parameters = IndicatorParameters.from_settings(settings)
    directory = indicator_parts_dir(settings, build_id)
    units = [FanoutUnit(str(part["family"]), str(part["scope"])) for part in parts]
    names = [unit.name for unit in units]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise IndicatorPartsError(f"{directory}: unit(s) {', '.join(repeated)} given more than once")
    missing = [unit.name for unit in fanout_units(scopes=parameters.scopes) if unit not in set(units)]
    if missing:
        raise IndicatorPartsError(
            f"{directory}: no part for unit(s) {', '.join(missing)}; layer 04 needs every unit: run the indicators again"
        )
    frames = []
    for unit, part in zip(units, parts):
        path = Path(part["path"])
        if not path.is_file():
            raise IndicatorPartsError(
                f"{path}: the part file of unit {unit.name} is missing; run the indicators again"
            )
        frames.append(pd.read_parquet(path))
    frame = combine_units(frames)
    unit_seconds = {name: round(float(part["seconds"]), 3) for name, part in zip(names, parts)}
    family_seconds: dict[str, float] = {}
    for unit, part in zip(units, parts):
        family_seconds[unit.family] = family_seconds.get(unit.family, 0.0) + float(part["seconds"])
    seconds = {
        **{family: round(total, 3) for family, total in family_seconds.items()},
        "combine": round(time.perf_counter() - started, 3),
    }
    target = _write_indicators_layer(
        settings, build_id, frame, parameters=parameters,
        manifest_extra={"seconds": seconds, "fanout": {"units": len(units), "seconds": unit_seconds}},
    )
    shutil.rmtree(directory, ignore_errors=True)
    _forget_indicator_tables(settings, build_id)
    return target


def write_snapshot_from_warehouse(
    settings: Settings,
    *,
    lang: str = "fr",
    level: str | None = None,
    scope: str = "quebec",
    indicators_dir: str | Path | None = None,
    today: Any = None,
    progress: Any = None,
) -> Path:
    """Write the decision-makers' snapshot of the current warehouse build into ``reporting/``.

    Parameters
    ----------
    settings : Settings
    lang : {"fr", "en"}, keyword-only
        Language of ``index.html``; the other language is written beside it as
        ``index.<lang>.html``.
    level : {"public", "internal"}, keyword-only
        Disclosure level (default: ``[disclosure] level`` of the configuration).
    scope : str, keyword-only
        ``quebec``, ``region:<code>`` or ``territory:<id>``.
    indicators_dir : str or Path, keyword-only
        A layer-04 directory (default: :func:`compute_indicators`, which computes it when the
        current build has none).
    today : datetime.date, keyword-only
        Date of the snapshot's folder name (default: today, local time).
    progress : callable, keyword-only
        Passed to :func:`compute_indicators`.

    Returns
    -------
    Path
        ``reporting/snapshot-<date>/`` (see :func:`proximite.indicators.snapshot.write_snapshot`);
        a snapshot written earlier the same day is replaced atomically. At the internal level it
        also holds the follow-ups page (``followups.html``) of the scope's territories as of
        ``today`` (:func:`proximite.cohort.followups.followups_from_warehouse`). When
        ``reporting/economics/`` holds an economics run of the indicators' build
        (:meth:`proximite.economics.report.EconomicsSummary.latest`), the snapshot has its
        economics page (``economics.html``); otherwise the index says how to produce one.
    """
    from proximite.cohort.warehouse import table
    from proximite.indicators.disclosure import DisclosureSettings
    from proximite.indicators.snapshot import SnapshotContext, snapshot_dir, write_snapshot

    directory = Path(indicators_dir) if indicators_dir is not None else compute_indicators(settings, progress=progress)
    manifest = json.loads((directory / INDICATORS_MANIFEST).read_text(encoding="utf-8"))
    indicators = pd.read_parquet(directory / INDICATORS_FILE)
    disclosure = DisclosureSettings.from_settings(settings, **({"level": level} if level else {}))
    context = SnapshotContext(
        lang=lang,
        level=disclosure.level,
        scope=scope,
        threshold=disclosure.threshold,
        rounding_base=disclosure.rounding_base,
        build_id=manifest["build_id"],
        # The code that computed the numbers (layer 04), which may predate this process's.
        code_version=manifest.get("code_version") or code_version(),
        parameters=manifest["parameters"],
    )
    territory = table(settings, "territory")
    followups = None
    if disclosure.level == "internal":
        # The research team's follow-ups page (pseudonymous ids), for the scope's territories on the snapshot's day.
        from proximite.cohort.followups import followups_from_warehouse
        from proximite.indicators.snapshot import scope_territories

        followups = followups_from_warehouse(settings, as_of=today, territories=scope_territories(scope, territory=territory))
    from proximite.economics.report import EconomicsSummary

    # The newest economics run of the build the indicators were computed from (None: no page, a hint).
    economics = EconomicsSummary.latest(settings, build_id=manifest["build_id"])
    return write_snapshot(
        indicators,
        snapshot_dir(settings.reporting_dir, today=today),
        territory=territory,
        region=table(settings, "region"),
        context=context,
        followups=followups,
        economics=economics,
    )


# ------------------------------------------------------------------------------ economics
def run_economics(
    settings: Settings,
    *,
    params: str | Path | None = None,
    costing_params: str | Path | None = None,
    cost_basis: str = "budget",
    draws: int | None = None,
    seed: int | None = None,
    chunk: int | None = None,
    psa_chunks: list[Any] | None = None,
    lang: str = "fr",
) -> Path:
    """The economic evaluation of the current build, written to ``reporting/economics/<build_id>/``.

    Parameters
    ----------
    settings : Settings
    params : str or Path, optional, keyword-only
        The benefit parameter file (default: ``[economics] params`` of the configuration, else
        the shipped placeholders, ``economics/params/benefits.yaml``).
    costing_params : str or Path, optional, keyword-only
        The costing parameter file (default: ``[economics] costing_params``, else
        ``economics/params/costing.yaml``).
    cost_basis : {"budget", "activity"}, keyword-only
    draws, seed, chunk : int, optional, keyword-only
        The PSA (defaults :data:`proximite.economics.analysis.DEFAULT_DRAWS` and ``DEFAULT_SEED``).
    psa_chunks : list of PSAChunk, optional, keyword-only
        The PSA's chunks drawn by the flow (:func:`psa_unit`), combined here.
    lang : {"fr", "en"}, keyword-only
        Language of the tornado chart's labels.

    Returns
    -------
    Path
        The run directory: ``economics.json`` (:class:`~proximite.economics.report.EconomicsSummary`),
        ``tornado.png``, the tables as CSV (aggregates only). Written under a temporary name and
        swapped in: a failed run leaves the previous one in place.

    Raises
    ------
    WarehouseNotFoundError
        No warehouse yet.
    ParameterError, CostingError
        A parameter file breaks its rules (the message names the file, key and rule).
    """
    import secrets

    from proximite.cohort.figures import save_figure
    from proximite.cohort.warehouse import WarehouseNotFoundError, current_build
    from proximite.economics.analysis import DEFAULT_DRAWS, DEFAULT_SEED, analyse, parameters_hash, summary_record
    from proximite.economics.costing import load_costing_parameters
    from proximite.economics.funding import load_funding_table
    from proximite.economics.parameters import load_benefit_parameters
    from proximite.economics.report import EconomicsSummary, run_dir

    params, costing_params = economics_parameter_files(settings, params, costing_params)
    benefit_parameters = load_benefit_parameters(params)
    costing_parameters = load_costing_parameters(costing_params)
    build = current_build(settings)
    if build is None:
        raise WarehouseNotFoundError(f"no warehouse in {settings.project_dir}: run `proximite build` first")
    indicators = pd.read_parquet(compute_indicators(settings) / INDICATORS_FILE)
    tables = indicator_tables(settings, build.build_id)
    analysis = analyse(
        tables,
        indicators,
        benefit_parameters=benefit_parameters,
        costing_parameters=costing_parameters,
        funding_table=load_funding_table(),
        cost_basis=cost_basis,
        draws=draws or DEFAULT_DRAWS,
        seed=DEFAULT_SEED if seed is None else seed,
        chunk=chunk,
        psa_chunks=psa_chunks,
    )
    record = summary_record(
        analysis,
        build_id=build.build_id,
        code_version=code_version(),
        parameters_sha256=parameters_hash(benefit_parameters.table(), costing_parameters.to_dict()),
        lang=lang,
    )
    target = run_dir(settings, build.build_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    temporary.mkdir()
    try:
        EconomicsSummary.from_dict(record).write(temporary)
        save_figure(lambda ax: analysis.one_way.plot_tornado(ax), temporary / "tornado.png", width=8, height=0.5 + 0.35 * len(record["tornado"]), max_height=20)
        save_figure(lambda ax: analysis.psa.plot(ax), temporary / "psa.png", width=8, height=4.0)
        named = {
            **{f"costing.{name}": frame for name, frame in analysis.costing.tables().items() if name != "lines"},
            "cost_per_outcome": analysis.cost_per_outcome.table,
            **{f"cost_benefit.{name}": frame for name, frame in analysis.cost_benefit.tables().items()},
            **{f"psa.{name}": frame for name, frame in analysis.psa.tables().items()},
            "one_way": analysis.one_way.summary.reset_index(),
        }
        if analysis.funding is not None:
            named["funding_2019"] = analysis.funding.table
        for name, frame in named.items():
            frame.to_csv(temporary / f"{name}.csv", index=False, lineterminator="\n")
        layers.replace_directory(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target


def economics_parameter_files(
    settings: Settings, params: str | Path | None = None, costing_params: str | Path | None = None
) -> tuple[str | None, str | None]:
    """The parameter files of an economics run: those given, else ``[economics] params`` and
    ``costing_params`` of the project's configuration (relative to the project), else None (the
    shipped placeholders)."""
    configured = settings.raw.get("economics") or {}

    def resolve(given: str | Path | None, key: str) -> str | None:
        value = given if given not in (None, "") else (configured.get(key) or None)
        if value is None:
            return None
        path = Path(value)
        return str(path if path.is_absolute() or given not in (None, "") else Path(settings.project_dir) / path)

    return resolve(params, "params"), resolve(costing_params, "costing_params")


def economics_inputs(
    settings: Settings, *, params: str | Path | None = None, costing_params: str | Path | None = None, cost_basis: str = "budget"
) -> dict[str, Any]:
    """The cost–benefit's inputs of the current build, as small plain data (for the flow's PSA units).

    Returns
    -------
    dict
        ``build_id``, ``params`` and ``costing_params`` (the files, see
        :func:`economics_parameter_files`), ``costs`` (``[{"period", "amount_cad"}]``, Québec per
        quarter) and ``families`` (``{year: families reached}``): aggregates only.
    """
    from proximite.cohort.warehouse import WarehouseNotFoundError, current_build
    from proximite.economics.analysis import families_by_year, programme_costs
    from proximite.economics.costing import cost, load_costing_parameters

    build = current_build(settings)
    if build is None:
        raise WarehouseNotFoundError(f"no warehouse in {settings.project_dir}: run `proximite build` first")
    params, costing_params = economics_parameter_files(settings, params, costing_params)
    tables = indicator_tables(settings, build.build_id)
    costs = programme_costs(cost(tables, load_costing_parameters(costing_params)), basis=cost_basis)
    families = families_by_year(tables["family"])
    return {
        "build_id": build.build_id,
        "params": params,
        "costing_params": costing_params,
        "costs": [{"period": str(row.period), "amount_cad": float(row.amount_cad)} for row in costs.itertuples(index=False)],
        "families": {int(year): float(count) for year, count in families.items()},
    }


def _cost_benefit_data(inputs: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series]:
    costs = pd.DataFrame(inputs["costs"], columns=["period", "amount_cad"])
    families = pd.Series({int(year): float(count) for year, count in inputs["families"].items()}, name="families", dtype="float64")
    families.index.name = "year"
    return costs, families.sort_index()


def psa_unit(params: str | Path | None, inputs: dict[str, Any], *, draws: int, chunk: int, seed: int, index: int) -> Any:
    """Chunk ``index`` of the PSA (``draws`` split in chunks of ``chunk``): the same draws wherever it runs."""
    from proximite.economics.parameters import load_benefit_parameters
    from proximite.economics.psa import plan_chunks, psa_chunk

    size, sequence = plan_chunks(draws=draws, chunk=chunk, seed=seed)[index]
    costs, families = _cost_benefit_data(inputs)
    return psa_chunk(load_benefit_parameters(params), costs, families, draws=size, seed_sequence=sequence)

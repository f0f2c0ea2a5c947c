"""Stage 04: the warehouse's current build → layer 04 indicators (sequential, or fanned out in parts)."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

from proximite.cohort import layers
from proximite.config import Settings
from proximite.errors import ProximiteError
from proximite.version import code_version

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
    """Every table of the codebook's model, of one build (one read-only connection)."""
    return _read_build_tables(settings)[1]


def _read_build_tables(settings: Settings) -> tuple[str | None, dict[str, pd.DataFrame]]:
    """The current build's id and every table of the codebook's model, read together."""
    from proximite.cohort.codebook import load_codebook
    from proximite.cohort.warehouse import build_tables

    codebook = load_codebook()
    return build_tables(settings, list(codebook.tables), codebook=codebook)


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
    # The tables and their build id from one connection: a rebuild meanwhile never mixes two builds.
    read_build_id, tables = _read_build_tables(settings)
    build_id = read_build_id or build.build_id
    read_seconds = time.perf_counter() - started
    timings: dict[str, float] = {}
    relay = None
    if progress is not None:
        relay = lambda _family, done, total: progress("indicators", done, total)  # noqa: E731
    frame = compute_all(tables, parameters=parameters, progress=relay, timings=timings)
    seconds = {"read_warehouse": round(read_seconds, 3), **{family: round(s, 3) for family, s in timings.items()}}
    return _write_indicators_layer(
        settings, build_id, frame, parameters=parameters, manifest_extra={"seconds": seconds}
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
    from proximite.indicators.fanout import FanoutUnit, combine_units, fanout_units, unit_cells

    started = time.perf_counter()
    parameters = IndicatorParameters.from_settings(settings)
    directory = indicator_parts_dir(settings, build_id)
    units = [FanoutUnit(str(part["family"]), str(part["scope"])) for part in parts]
    names = [unit.name for unit in units]
    # A unit at every level covers its family's level units: each pair must be covered once.
    covered = [cell for unit in units for cell in unit_cells(unit, parameters.scopes)]
    repeated = sorted({f"{family}-{scope}" for family, scope in covered if covered.count((family, scope)) > 1})
    if repeated:
        raise IndicatorPartsError(f"{directory}: unit(s) {', '.join(repeated)} given more than once")
    missing = [unit.name for unit in fanout_units(scopes=parameters.scopes) if (unit.family, unit.scope) not in set(covered)]
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

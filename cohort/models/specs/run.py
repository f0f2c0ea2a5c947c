"""Running specs: load each data request once, fit every model, write the results atomically."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proximite.cohort.models.base import Comparison, Model, ModelError, ModelResults
from proximite.cohort.models.specs.outputs import file_list, write_comparison, write_result
from proximite.cohort.models.specs.spec import MANIFEST_NAME, DataRequest, ModelSpec, SpecError, spec_hash
from proximite.cohort.models.specs.values import jsonable, plain_number, short_message

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

    from proximite.config import Settings

__all__ = ["SpecRun", "run_specs"]


@dataclass
class SpecRun:
    """What :func:`run_specs` fitted and wrote.

    Attributes
    ----------
    out_dir : Path
        The output directory (complete: it replaced any previous one at the end of the run).
    manifest_path : Path
    manifest : dict
        What ``manifest.json`` holds.
    results : dict of str to ModelResults
        By spec name, in spec order.
    comparison : Comparison or None
        The models that share terms, side by side (None when no two do).
    """

    out_dir: Path
    manifest_path: Path
    manifest: dict[str, Any]
    results: dict[str, ModelResults]
    comparison: Comparison | None = None


def run_specs(
    specs: Sequence[ModelSpec],
    settings: Settings,
    out_dir: str | Path | None = None,
    *,
    echo: Callable[[str], None] | None = None,
) -> SpecRun:
    """Fit every spec on the current warehouse and write the results, the comparison and a manifest.

    Parameters
    ----------
    specs : sequence of ModelSpec
        From :func:`load_specs` (names unique).
    settings : Settings
        The project (its warehouse).
    out_dir : str or Path, optional
        Where to write; default ``<project>/reporting/models/<spec file stem>-<build id>/``.
        Replaced as a whole at the end of a successful run.
    echo : callable, optional, keyword-only
        Called with one line per model fitted (name, kind, rows, seconds).

    Returns
    -------
    SpecRun

    Raises
    ------
    SpecError
        The data cannot be loaded or a model fails; the message names the spec. Nothing is
        written then: a previous output directory stays as it was.
    WarehouseNotFoundError
        The project has no warehouse yet.

    Notes
    -----
    Each distinct data request (``panel`` with the same waves, columns and weights;
    ``survival`` with the same event) is loaded once and shared by the models that ask for it;
    no model modifies it. Every model is built before any data is read, so a bad option value
    fails first. Per model the manifest records its spec and its hash

    ``spec_sha256 = sha256(json.dumps(spec.to_dict(), sort_keys=True, separators=(",", ":")))``;

    the rows it was given and its fit statistics (counts and fit measures, never a family's
    values); ``spec_sha256`` at the top hashes the whole file (:func:`spec_hash` of the
    :class:`SpecFile`: its description, ``compare`` and specs). Compared are the models of the
    file's ``compare`` or, by default, those sharing a term other than the intercept.
    """
    specs_given = specs
    specs = list(specs)
    _check_names(specs)
    say = echo or (lambda line: None)
    started = _now()
    clock = time.perf_counter()

    # 0. every model built first: a bad option value fails before any data is read
    models = {spec.name: spec.build() for spec in specs}
    # 1. the data, once per distinct request
    frames, data_records, build_id = _load_all(specs, settings)

    stem = specs[0].source.stem if specs[0].source is not None else "models"
    target = Path(out_dir) if out_dir is not None else settings.reporting_dir / "models" / f"{stem}-{build_id}"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    temporary.mkdir()
    try:
        results: dict[str, ModelResults] = {}
        model_records: list[dict[str, Any]] = []
        for spec in specs:
            results[spec.name], record = _fit_one(spec, models[spec.name], frames[spec.data], temporary, say=say)
            model_records.append(record)
        comparison, comparison_files = write_comparison(results, temporary, chosen=getattr(specs_given, "compare", None))
        finished = _now()
        manifest: dict[str, Any] = {
            "spec_file": str(specs[0].source) if specs[0].source is not None else None,
            "spec_sha256": spec_hash(specs_given),
            "build_id": build_id,
            "code_version": _code_version(),
            "started_at": started,
            "finished_at": finished,
            "seconds": round(time.perf_counter() - clock, 3),
            "data": data_records,
            "models": model_records,
            "comparison": comparison_files,
        }
        manifest["files"] = file_list(temporary)
        manifest_path = temporary / MANIFEST_NAME
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
        from proximite.cohort.layers import replace_directory

        replace_directory(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return SpecRun(
        out_dir=target,
        manifest_path=target / MANIFEST_NAME,
        manifest=manifest,
        results=results,
        comparison=comparison,
    )


def _check_names(specs: Sequence[ModelSpec]) -> None:
    """At least one spec, and no two with the same name (they name the output files)."""
    if not specs:
        raise SpecError("no model spec to run")
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SpecError(f"model names must be unique in a run; repeated: {', '.join(repeated)}")


def _load_all(
    specs: Sequence[ModelSpec], settings: Settings
) -> tuple[dict[DataRequest, pd.DataFrame], list[dict[str, Any]], str]:
    """Each distinct data request loaded once, what the manifest says of each, and the build id."""
    frames: dict[DataRequest, pd.DataFrame] = {}
    data_records: list[dict[str, Any]] = []
    build_ids: set[str] = set()
    for spec in specs:
        if spec.data in frames:
            continue
        frame = _load_data(spec, settings)
        frames[spec.data] = frame
        build_id = frame.attrs.get("build_id") or _current_build_id(settings)
        if build_id:
            build_ids.add(str(build_id))
        data_records.append({"request": spec.data.to_dict(), "rows": len(frame), **_entity_count(frame)})
    if not build_ids:
        build_ids.add(_current_build_id(settings) or "unknown")
    if len(build_ids) > 1:  # pragma: no cover - a build landed between two loads
        raise SpecError(f"the warehouse was rebuilt during the run (builds {', '.join(sorted(build_ids))}); run again")
    (build_id,) = build_ids
    return frames, data_records, build_id


def _fit_one(
    spec: ModelSpec, model: Model, data: pd.DataFrame, directory: Path, *, say: Callable[[str], None]
) -> tuple[ModelResults, dict[str, Any]]:
    """Fit one model, write its files into ``directory``; its results and its manifest record."""
    fit_clock = time.perf_counter()
    try:
        result = model.fit(data)
    except ModelError as error:
        raise SpecError(f"{spec.label}: {spec.kind} failed: {error}") from None
    except Exception as error:  # noqa: BLE001 - any library failure names the spec
        raise SpecError(f"{spec.label}: {spec.kind} failed: {type(error).__name__}: {short_message(error)}") from None
    seconds = time.perf_counter() - fit_clock
    files = write_result(result, directory, spec.name)
    nobs = result.statistics.get("nobs")
    record = {
        "name": spec.name,
        "kind": spec.kind,
        "title": result.title,
        "spec": spec.to_dict(),
        "spec_sha256": spec.sha256,
        "rows": len(data),
        "terms": len(result.summary),
        "statistics": jsonable(result.statistics),
        "seconds": round(seconds, 3),
        "files": files,
    }
    rows_used = f"{plain_number(nobs):,} observations" if isinstance(plain_number(nobs), int) else f"{len(data):,} rows"
    say(f"fitted {spec.name} ({spec.kind}) on {spec.data.describe()}: {rows_used}, {seconds:.1f} s")
    return result, record


def _load_data(spec: ModelSpec, settings: Settings) -> pd.DataFrame:
    request = spec.data
    options = request.loader_options()
    if request.source == "survival":
        from proximite.cohort.survival import survival_table

        try:
            return survival_table(settings=settings, **options)
        except (ValueError, TypeError, KeyError) as error:
            raise SpecError(f"{spec.label}: data.survival: {short_message(error)}") from None
    from proximite.cohort.warehouse import panel

    try:
        return panel(settings=settings, **options)
    except (ValueError, TypeError, KeyError) as error:
        key = "columns" if request.columns is not None and "not panel columns" in str(error) else "panel"
        raise SpecError(f"{spec.label}: data.{'panel.' + key if key != 'panel' else 'panel'}: {short_message(error)}") from None


def _current_build_id(settings: Settings) -> str | None:
    from proximite.cohort.warehouse import current_build

    build = current_build(settings)
    return build.build_id if build is not None else None


def _entity_count(frame: pd.DataFrame) -> dict[str, int]:
    """How many families (or subjects) the data holds: a count, never an identifier."""
    if "family_id" in (frame.index.names or []):
        return {"families": int(frame.index.get_level_values("family_id").nunique())}
    if "family_id" in frame.columns:
        return {"families": int(frame["family_id"].nunique())}
    return {}


def _code_version() -> str:
    from proximite.version import code_version

    return code_version()


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

"""The pipeline's steps as plain functions: what the CLI and the Prefect tasks both call.

Each step reads from one named layer and writes the next, and passes on a path or an id rather
than large frames, so a Prefect task can call it and return something small.

- :func:`harmonise_staged`: 02 staged (latest good pull of every source) → 03 harmonised Parquet;
- :func:`validate_harmonised`: the harmonised gate on layer 03 (quarantines a refused batch);
- :func:`build_from_harmonised`: 03 harmonised Parquet → the DuckDB warehouse (atomic swap), after
  the harmonised gate unless told not to;
- :func:`warehouse_summary`: counts of the current warehouse, for the demo and run summaries;
- :func:`compute_indicators`: the warehouse's current build → 04 indicators Parquet (reused for
  the same build and parameters);
- :func:`write_snapshot_from_warehouse`: 04 indicators → the decision-makers' snapshot in
  ``reporting/snapshot-<date>/`` (disclosure control applied).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd

import proximite
from proximite.cohort import layers
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
    harmonised_id = "-".join(inputs[source] for source in layers.SOURCES)
    target = settings.data_dir / HARMONISED / _short_id(harmonised_id)
    temporary = target.with_name(target.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    for name, frame in tables.items():
        frame.to_parquet(temporary / f"{name}.parquet", index=False)
    (temporary / "inputs.json").write_text(json.dumps(inputs, indent=2, sort_keys=True), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(temporary, target)
    return target


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
    The directory is written under a temporary name and renamed into place, so a failure leaves
    the last good one. An existing directory for the same build id computed with the same
    parameters is reused without recomputing; with other parameters (the configuration changed)
    it is recomputed and replaced.
    """
    import datetime as dt
    import time

    from proximite.cohort.codebook import load_codebook
    from proximite.cohort.warehouse import WarehouseNotFoundError, current_build, table
    from proximite.indicators import compute_all
    from proximite.indicators.base import IndicatorParameters

    build = current_build(settings)
    if build is None:
        raise WarehouseNotFoundError(f"{settings.warehouse_path}: no warehouse yet; run `proximite build` first")
    parameters = IndicatorParameters.from_settings(settings)
    target = settings.data_dir / INDICATORS / build.build_id
    manifest_path = target / INDICATORS_MANIFEST
    if not force and (target / INDICATORS_FILE).is_file() and manifest_path.is_file():
        previous = json.loads(manifest_path.read_text(encoding="utf-8"))
        if previous.get("parameters") == parameters.to_dict():
            return target
    codebook = load_codebook()
    started = time.perf_counter()
    tables = {name: table(settings, name, codebook=codebook) for name in codebook.tables}
    read_seconds = time.perf_counter() - started
    timings: dict[str, float] = {}
    relay = None
    if progress is not None:
        relay = lambda _family, done, total: progress("indicators", done, total)  # noqa: E731
    frame = compute_all(tables, parameters=parameters, progress=relay, timings=timings)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        frame.to_parquet(temporary / INDICATORS_FILE, index=False)
        manifest = {
            "build_id": build.build_id,
            "code_version": code_version(),
            "parameters": parameters.to_dict(),
            "computed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "rows": int(len(frame)),
            "indicators": sorted(frame["indicator"].dropna().astype(str).unique().tolist()),
            "seconds": {"read_warehouse": round(read_seconds, 3), **{family: round(s, 3) for family, s in timings.items()}},
        }
        (temporary / INDICATORS_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        layers.replace_directory(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
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
        a snapshot written earlier the same day is replaced atomically.
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
    return write_snapshot(
        indicators,
        snapshot_dir(settings.reporting_dir, today=today),
        territory=table(settings, "territory"),
        region=table(settings, "region"),
        context=context,
    )

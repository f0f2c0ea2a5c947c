"""The pipeline flow: ingest every source → harmonise → build the warehouse.

Flows only orchestrate: each task calls one package function and returns something small (ids,
paths, counts); large frames stay on disk in their layer. Validation, indicators and the snapshot
plug in between these tasks as they are built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from proximite.cohort import steps
from proximite.cohort.sources import SOURCES, get_source
from proximite.config import load_settings, pseudonym_key


@task(name="ingest", cache_policy=NO_CACHE, task_run_name="ingest-{source}")
def ingest_source(input_dir: str, project_dir: str, source: str) -> dict[str, Any]:
    """Copy one source as received into 01 raw and stage it (02); returns its pull id and row counts."""
    from proximite.cohort.ingest import ingest

    settings = load_settings(project_dir)
    result = ingest(input_dir, settings=settings, sources=[source])
    summary = result.summary()
    get_run_logger().info("ingested %s: %s", source, summary.get(source, {}).get("rows", {}))
    return summary


# Harmonise and build read the latest staged pulls from disk: no caching here yet, so a new pull
# is never hidden behind a cached result.
@task(name="harmonise", cache_policy=NO_CACHE)
def harmonise(project_dir: str) -> str:
    """Harmonise the latest staged pulls into layer 03; returns the layer-03 directory."""
    settings = load_settings(project_dir)
    key, _origin = pseudonym_key(settings)
    return str(steps.harmonise_staged(settings, key=key))


@task(name="build", cache_policy=NO_CACHE)
def build(project_dir: str, harmonised_dir: str) -> dict[str, Any]:
    """Build the warehouse from layer 03 (atomic swap); returns the build's id and row counts."""
    settings = load_settings(project_dir)
    info = steps.build_from_harmonised(settings, harmonised_dir)
    get_run_logger().info("warehouse build %s: %s", info.build_id, info.row_counts)
    return info.to_dict()


@flow(name="pipeline", log_prints=False)
def pipeline(input_dir: str, project_dir: str = ".", sources: list[str] | None = None) -> dict[str, Any]:
    """Ingest an input directory, harmonise and build the warehouse.

    Parameters
    ----------
    input_dir : str
        An input directory laid out as ``docs/data-layout.md`` describes.
    project_dir : str
        The project directory (data layers, warehouse).
    sources : list of str, optional
        Sources to ingest (default: every source present in ``input_dir``). Sources not ingested
        keep their last good staged pull.

    Returns
    -------
    dict
        ``{"ingest": {...}, "harmonised_dir": str, "build": {...}}``.
    """
    present = [name for name in SOURCES if get_source(name).discover(Path(input_dir))]
    ingested: dict[str, Any] = {}
    # One source per task: a bad file holds back its own source only, the others still land.
    for source in sources or present:
        ingested.update(ingest_source(input_dir, project_dir, source))
    harmonised_dir = harmonise(project_dir)
    build_info = build(project_dir, harmonised_dir)
    return {"ingest": ingested, "harmonised_dir": harmonised_dir, "build": build_info}


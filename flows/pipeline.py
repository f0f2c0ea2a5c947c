"""The cohort flows: pull from REDCap, ingest files, harmonise, build the warehouse, indicators, snapshot.

Flows only orchestrate: each task calls one package function and returns something small (ids,
paths, counts); large frames stay on disk in their layer (the indicators in 04, the snapshot in
``reporting/``).

Secrets: a flow never takes a token as a parameter (Prefect stores parameters). It takes the
name of an environment variable or of a Prefect Secret block, and the task reads the token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from proximite.cohort import steps
from proximite.cohort.sources import SOURCES, get_source
from proximite.config import load_settings, pseudonym_key

DEFAULT_TOKEN_ENV = "PROXIMITE_REDCAP_TOKEN"


@task(name="ingest", cache_policy=NO_CACHE, task_run_name="ingest-{source}")
def ingest_source(input_dir: str, project_dir: str, source: str) -> dict[str, Any]:
    """Copy one source as received into 01 raw and stage it (02); returns its pull id and row counts."""
    from proximite.cohort.ingest import ingest

    settings = load_settings(project_dir)
    result = ingest(input_dir, settings=settings, sources=[source])
    summary = result.summary()
    get_run_logger().info("ingested %s: %s", source, summary.get(source, {}).get("rows", {}))
    return summary


def _redcap_token(token_env: str | None, token_secret: str | None) -> str:
    """The REDCap token from a Prefect Secret block (when named) or an environment variable."""
    from proximite.cohort.sources.redcap import token_from_env

    if token_secret:
        from prefect.blocks.system import Secret

        return str(Secret.load(token_secret).get())
    return token_from_env(token_env or DEFAULT_TOKEN_ENV)


def _retry_unless_refused(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a failed pull, but not one the staged gate refused: pulling again gives the same data."""
    from proximite.expectations.gates import GateFailed

    try:
        state.result()
    except GateFailed:
        return False
    except Exception:  # noqa: BLE001 - any other failure (network, server) is worth another try
        return True
    return True


# Pulls take no cache: the source changes under the same inputs. Each request already retries
# with backoff inside the pull; the task retry covers a pull that failed as a whole.
@task(
    name="pull-redcap",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_condition_fn=_retry_unless_refused,
)
def pull_redcap(
    url: str,
    project_dir: str,
    token_env: str | None = DEFAULT_TOKEN_ENV,
    token_secret: str | None = None,
    full: bool = False,
    batch_size: int = 500,
) -> dict[str, Any]:
    """Pull the cohort through PyCap into 01 raw and 02 staged; returns the pull's summary."""
    from proximite.cohort.sources.redcap import pull_redcap as run_pull

    settings = load_settings(project_dir)
    result = run_pull(url, token=_redcap_token(token_env, token_secret), settings=settings, full=full, batch_size=batch_size)
    summary = result.summary()
    get_run_logger().info(
        "REDCap pull %s (%s): %s records, %s deleted", summary["pull_id"], summary["mode"], summary["records"], summary["deleted"]
    )
    return summary


# Harmonise and build read the latest staged pulls from disk: no caching here yet, so a new pull
# is never hidden behind a cached result.
@task(name="harmonise", cache_policy=NO_CACHE)
def harmonise(project_dir: str) -> str:
    """Harmonise the latest staged pulls into layer 03; returns the layer-03 directory."""
    settings = load_settings(project_dir)
    key, _origin = pseudonym_key(settings)
    return str(steps.harmonise_staged(settings, key=key))


@task(name="validate-harmonised", cache_policy=NO_CACHE)
def validate_harmonised(project_dir: str, harmonised_dir: str) -> dict[str, Any]:
    """The harmonised gate: a refused batch is quarantined and the task fails (the warehouse stays)."""
    settings = load_settings(project_dir)
    outcome = steps.validate_harmonised(settings, harmonised_dir)
    get_run_logger().info("harmonised gate passed: %s rules, %s failed below threshold", outcome["rules"], outcome["rules_failed"])
    return outcome


@task(name="build", cache_policy=NO_CACHE)
def build(project_dir: str, harmonised_dir: str) -> dict[str, Any]:
    """Build the warehouse from layer 03 (atomic swap); returns the build's id and row counts."""
    settings = load_settings(project_dir)
    # The validate-harmonised task has just gated this very directory.
    info = steps.build_from_harmonised(settings, harmonised_dir, validate=False)
    get_run_logger().info("warehouse build %s: %s", info.build_id, info.row_counts)
    return info.to_dict()


@task(name="indicators", cache_policy=NO_CACHE)
def indicators(project_dir: str, build_id: str) -> str:
    """Compute the indicators of the current build into layer 04; returns its directory.

    ``build_id`` ties the task to the build it follows; a build already computed with the same
    parameters is reused (the step decides, so a Prefect cache is not needed).
    """
    settings = load_settings(project_dir)
    directory = steps.compute_indicators(settings)
    get_run_logger().info("indicators of build %s in %s", build_id, directory)
    return str(directory)


@task(name="snapshot", cache_policy=NO_CACHE)
def snapshot(project_dir: str, indicators_dir: str, lang: str = "fr", level: str | None = None, scope: str = "quebec") -> str:
    """Write the decision-makers' snapshot from layer 04 (disclosure applied); returns its directory."""
    settings = load_settings(project_dir)
    directory = steps.write_snapshot_from_warehouse(
        settings, lang=lang, level=level, scope=scope, indicators_dir=indicators_dir
    )
    get_run_logger().info("snapshot written to %s", directory)
    return str(directory)


@flow(name="pull_cohort")
def pull_cohort(
    url: str,
    project_dir: str = ".",
    token_env: str | None = DEFAULT_TOKEN_ENV,
    token_secret: str | None = None,
    full: bool = False,
    batch_size: int = 500,
) -> dict[str, Any]:
    """Pull the cohort from REDCap (incremental unless ``full``) into 01 raw and 02 staged.

    Parameters
    ----------
    url : str
        REDCap API URL (ends in ``/api/``).
    project_dir : str
        The project directory.
    token_env, token_secret : str, optional
        Where the token is: an environment variable (default ``PROXIMITE_REDCAP_TOKEN``) or the
        name of a Prefect Secret block (wins when given).
    full : bool
        Pull every record rather than what changed since the last good pull.
    batch_size : int
        Records per request.
    """
    return pull_redcap(url, project_dir, token_env, token_secret, full, batch_size)


@flow(name="pipeline", log_prints=False)
def pipeline(
    input_dir: str,
    project_dir: str = ".",
    sources: list[str] | None = None,
    redcap_url: str | None = None,
    token_env: str | None = DEFAULT_TOKEN_ENV,
    token_secret: str | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """Ingest an input directory (and pull REDCap when a URL is given), harmonise, validate, build, compute the indicators and write the snapshot.

    Both gates run: the staged gate inside each ingest and pull task (a refused pull is
    quarantined and LATEST stays), the harmonised gate before the build (a refused batch leaves
    the last good warehouse in place).

    Parameters
    ----------
    input_dir : str
        An input directory laid out as ``docs/data-layout.md`` describes.
    project_dir : str
        The project directory (data layers, warehouse).
    sources : list of str, optional
        File sources to ingest (default: every source present in ``input_dir``; ``redcap`` is
        left out when ``redcap_url`` is given). Sources not ingested keep their last good pull.
    redcap_url : str, optional
        Pull the cohort from this REDCap API instead of the export files.
    token_env, token_secret, full
        As for :func:`pull_cohort`.

    Returns
    -------
    dict
        ``{"pull": {...} or None, "ingest": {...}, "harmonised_dir": str, "validation": {...}, "build": {...},
        "indicators_dir": str, "snapshot_dir": str}``: the snapshot is ``reporting/snapshot-<date>/``
        (French page, disclosure level from the configuration, all of Québec).
    """
    present = [name for name in SOURCES if get_source(name).discover(Path(input_dir))]
    chosen = [name for name in (sources or present) if not (redcap_url and name == "redcap")]
    pulled = pull_redcap(redcap_url, project_dir, token_env, token_secret, full) if redcap_url else None
    ingested: dict[str, Any] = {}
    # One source per task: a bad file holds back its own source only, the others still land.
    for source in chosen:
        ingested.update(ingest_source(input_dir, project_dir, source))
    harmonised_dir = harmonise(project_dir)
    validation = validate_harmonised(project_dir, harmonised_dir)
    build_info = build(project_dir, harmonised_dir)
    indicators_dir = indicators(project_dir, build_info["build_id"])
    snapshot_dir = snapshot(project_dir, indicators_dir)
    return {
        "pull": pulled,
        "ingest": ingested,
        "harmonised_dir": harmonised_dir,
        "validation": validation,
        "build": build_info,
        "indicators_dir": indicators_dir,
        "snapshot_dir": snapshot_dir,
    }

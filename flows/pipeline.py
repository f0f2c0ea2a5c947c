"""Flow ``pipeline``: pull, validate, build, indicators and snapshot, composed of the other flows.

Flows only orchestrate: each task calls one package function and returns something small (ids,
paths, counts); large frames stay on disk in their layer. The flows, one module each:

========================  ============================================================
``pull_cohort``           REDCap through PyCap → 01 raw, 02 staged (retries, no cache)
``pull_registry``         registry, reference, cost and qualitative files → 01 raw, 02 staged
``validate``              02 staged → 03 harmonised, and the harmonised gate
``build``                 03 harmonised → the DuckDB warehouse (atomic swap)
``indicators``            warehouse → 04 indicators, fanned out per family and scope level
``snapshot``              04 → ``reporting/snapshot-<date>-<level>-<scope>/`` (disclosure applied)
``pipeline``              all of the above, with the run's artifacts
========================  ============================================================

Every run publishes its artifacts (:mod:`proximite.flows.artifacts`); a failure runs
:func:`~proximite.flows.notify.notify_failure` and leaves the last good warehouse and snapshot
in place (each step writes under a temporary name and swaps atomically).
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from proximite.expectations.data_docs_batch import one_data_docs_build
from proximite.flows import artifacts, tasks
from proximite.flows.build import build
from proximite.flows.economics import economics as economics_flow
from proximite.flows.failure import failed_run
from proximite.flows.indicators import indicators
from proximite.flows.notify import notify_failure
from proximite.flows.pull_cohort import pull_cohort
from proximite.flows.pull_registry import present_sources, pull_registry
from proximite.flows.snapshot import snapshot
from proximite.flows.tasks import DEFAULT_TOKEN_ENV
from proximite.flows.validate import validate

__all__ = ["pipeline", "pull_cohort", "pull_registry", "validate", "build", "indicators", "snapshot"]


@flow(name="pipeline", log_prints=False, on_failure=[notify_failure])
def pipeline(
    input_dir: str,
    project_dir: str = ".",
    sources: list[str] | None = None,
    redcap_url: str | None = None,
    token_env: str | None = DEFAULT_TOKEN_ENV,
    token_secret: str | None = None,
    full: bool = False,
    lang: str = "fr",
    economics: bool = False,
    economics_draws: int = 10_000,
) -> dict[str, Any]:
    """Pull REDCap (when a URL is given) and the file sources, validate, build, compute the indicators and write the snapshot.

    Both gates run: the staged gate inside each pull (a refused pull is quarantined and LATEST
    stays), the harmonised gate before the build (a refused batch leaves the last good warehouse
    in place). Steps whose inputs did not change come from the cache.

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
    lang : {"fr", "en"}
        Language of the snapshot's ``index.html`` and of the headline artifact.
    economics : bool
        Also run the economic evaluation (the ``economics`` flow, with the parameter files of
        ``[economics]`` in the configuration, else the shipped placeholders) before the snapshot,
        which then shows it.
    economics_draws : int
        Its PSA's draws.

    Returns
    -------
    dict
        ``{"pull", "ingest", "harmonised_dir", "validation", "build", "indicators_dir",
        "snapshot_dir", "economics_dir", "withdrawals", "retention", "cached"}`` (withdrawals and
        retention in counts: consent withdrawals are applied before harmonising, the raw
        retention after a good build): the snapshot is ``reporting/snapshot-<date>-<level>-<scope>/`` (disclosure
        level from the configuration, all of Québec).

    Notes
    -----
    A failed run ends in a ``Failed`` state whose message is one paragraph saying why
    (:func:`~proximite.flows.artifacts.failure_reason`: for a refusal, the gate, the counts of
    rows and rules and the report's path), also shown at the top of its run-summary artifact.
    """
    done: dict[str, Any] = {}
    try:
        return _run(
            done, input_dir=input_dir, project_dir=project_dir, sources=sources, redcap_url=redcap_url, token_env=token_env,
            token_secret=token_secret, full=full, lang=lang, economics=economics, economics_draws=economics_draws,
        )
    except Exception as error:  # noqa: BLE001 - every failure gets its reason, then fails the run
        # The reason is the state's message; the exception stays the state's data, so the failure
        # hook still finds the quarantine reports and a caller of the flow still gets the error.
        return failed_run(error, flow_name="pipeline", pull=done.get("pull"), ingest=done.get("ingest"))


def _run(
    done: dict[str, Any],
    *,
    input_dir: str,
    project_dir: str,
    sources: list[str] | None,
    redcap_url: str | None,
    token_env: str | None,
    token_secret: str | None,
    full: bool,
    lang: str,
    economics: bool,
    economics_draws: int,
) -> dict[str, Any]:
    """The pipeline's steps; ``done`` collects the pull and ingest as they finish (for a failure's summary)."""
    # Every gate of the run (each source's, the harmonised one): the Data Docs site built once.
    with one_data_docs_build():
        pulled = done["pull"] = pull_cohort(redcap_url, project_dir, token_env, token_secret, full, publish=False) if redcap_url else None
        chosen = [name for name in (sources or present_sources(input_dir)) if not (redcap_url and name == "redcap")]
        ingested = done["ingest"] = pull_registry(input_dir, project_dir, sources=chosen, publish=False)
        validated = validate(project_dir, publish=False)
    built = build(project_dir, validated["harmonised_dir"], validated["inputs"], publish=False)
    retained = tasks.raw_retention(project_dir)  # only after a good build: the staged layer holds what raw held
    computed = indicators(project_dir, built["build"]["build_id"], publish=False)
    evaluated = economics_flow(project_dir, draws=economics_draws, lang=lang, publish=False) if economics else None
    economics_dir = evaluated["economics_dir"] if evaluated else None
    written = snapshot(project_dir, computed["indicators_dir"], lang=lang, publish=False, economics_dir=economics_dir)
    cached = validated["cached"] + built["cached"] + computed["cached"] + written["cached"]
    artifacts.publish(
        markdown=artifacts.run_summary_markdown(
            flow_name="pipeline",
            pull=pulled,
            ingest=ingested,
            validation=validated["validation"],
            build=built["build"],
            indicators_dir=computed["indicators_dir"],
            snapshot_dir=written["snapshot_dir"],
            cached=cached,
        ),
        validation=artifacts.validation_rows(validated["validation"]),
        headline=tasks.headline_indicators(project_dir, computed["indicators_dir"], lang),
    )
    return {
        "pull": pulled,
        "ingest": ingested,
        "harmonised_dir": validated["harmonised_dir"],
        "validation": validated["validation"],
        "build": built["build"],
        "indicators_dir": computed["indicators_dir"],
        "snapshot_dir": written["snapshot_dir"],
        "economics_dir": economics_dir,
        "withdrawals": validated["withdrawals"],
        "retention": retained,
        "cached": cached,
    }

"""Flow ``pull_registry``: ingest the activity registry and the other file sources as received."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from proximite.cohort.sources import SOURCES, get_source
from proximite.expectations.data_docs_batch import one_data_docs_build
from proximite.flows import artifacts, tasks
from proximite.flows.failure import ends_with_reason, source_version
from proximite.flows.notify import notify_failure

#: File sources ingested by default (REDCap export files are ingested only when asked).
REGISTRY_SOURCES = ("reference", "registry", "cost", "qual_register", "qual_coding")


def present_sources(input_dir: str, *, among: tuple[str, ...] = tuple(SOURCES)) -> list[str]:
    """The sources of ``among`` that have files in ``input_dir``, in ingest order."""
    return [name for name in SOURCES if name in among and get_source(name).discover(Path(input_dir))]


@flow(name="pull_registry", on_failure=[notify_failure], version=source_version(__file__))
@ends_with_reason
def pull_registry(
    input_dir: str,
    project_dir: str = ".",
    sources: list[str] | None = None,
    publish: bool = True,
) -> dict[str, Any]:
    """Copy file sources into 01 raw as received and stage them (02), one task per source.

    Parameters
    ----------
    input_dir : str
        An input directory laid out as ``docs/data-layout.md`` describes.
    project_dir : str
    sources : list of str, optional
        Sources to ingest (default: the registry, reference, cost and qualitative files present). Sources
        not ingested keep their last good pull.
    publish : bool
        Publish this run's summary artifact.

    Returns
    -------
    dict
        ``{source: {"pull_id", "rows": {table: n}, ...}}``.
    """
    chosen = sources if sources is not None else present_sources(input_dir, among=REGISTRY_SOURCES)
    ingested: dict[str, Any] = {}
    # One source per task: a bad file holds back its own source only, the others still land.
    # Their gates' Data Docs are built once, when the last source is done.
    with one_data_docs_build():
        for source in chosen:
            ingested.update(tasks.ingest_source(input_dir, project_dir, source))
    if publish:
        artifacts.publish(markdown=artifacts.run_summary_markdown(flow_name="pull_registry", ingest=ingested))
    return ingested

"""Flow ``build``: build the DuckDB warehouse from layer 03 (atomic swap)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from proximite.flows import artifacts, tasks
from proximite.flows.caching import call_cached
from proximite.flows.failure import ends_with_reason, source_version
from proximite.flows.notify import notify_failure
from proximite.flows.validate import validate


@flow(name="build", on_failure=[notify_failure], version=source_version(__file__))
@ends_with_reason
def build(
    project_dir: str = ".",
    harmonised_dir: str | None = None,
    inputs: dict[str, Any] | None = None,
    publish: bool = True,
) -> dict[str, Any]:
    """Build the warehouse from a gated layer-03 directory (validating the latest staged pulls first when none is given).

    Parameters
    ----------
    project_dir : str
    harmonised_dir : str, optional
        A layer-03 directory the harmonised gate passed (from :func:`validate`); default: run
        :func:`validate` first.
    inputs : dict, optional
        The staged inputs that directory was made from (from :func:`validate`).
    publish : bool
        Publish this run's summary artifact.

    Returns
    -------
    dict
        ``{"build": BuildInfo.to_dict(), "validation": {...} or None, "cached": [task names]}``; a
        cached build is the current one, made from the same pulls by the same code.
    """
    cached: list[str] = []
    validation = None
    if harmonised_dir is None or inputs is None:
        validated = validate(project_dir, publish=False)
        harmonised_dir, inputs, validation = validated["harmonised_dir"], validated["inputs"], validated["validation"]
        cached += validated["cached"]
    info = call_cached(tasks.build, project_dir, harmonised_dir, inputs, cached=cached)
    if publish:
        artifacts.publish(
            markdown=artifacts.run_summary_markdown(flow_name="build", validation=validation, build=info, cached=cached),
            validation=artifacts.validation_rows(validation) if validation else None,
        )
    return {"build": info, "validation": validation, "cached": cached}

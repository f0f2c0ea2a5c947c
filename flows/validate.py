"""Flow ``validate``: harmonise the latest staged pulls (layer 03) and run the harmonised gate."""

from __future__ import annotations

from typing import Any

from prefect import flow

from proximite.flows import artifacts, tasks
from proximite.flows.caching import call_cached
from proximite.flows.failure import ends_with_reason, source_version
from proximite.flows.notify import notify_failure


@flow(name="validate", on_failure=[notify_failure], version=source_version(__file__))
@ends_with_reason
def validate(project_dir: str = ".", publish: bool = True) -> dict[str, Any]:
    """Harmonise the last good staged pull of every source and run the harmonised gate.

    The staged gate has already run on each pull. A refused batch is quarantined with its report
    and the run fails; the warehouse is not touched. Unchanged staged pulls reuse the cached
    layer-03 directory and gate outcome.

    Parameters
    ----------
    project_dir : str
    publish : bool
        Publish the validation table artifact (the pipeline publishes its own instead).

    Returns
    -------
    dict
        ``{"inputs": {...}, "harmonised_dir": str, "validation": {...}, "cached": [task names],
        "withdrawals": {counts}}``: consent withdrawals are applied first (every run), so the
        staged pulls harmonised no longer hold a family who withdrew its data.
    """
    cached: list[str] = []
    withdrawals = tasks.consent_withdrawals(project_dir)
    inputs = tasks.staged_inputs(project_dir)
    harmonised_dir = call_cached(tasks.harmonise, project_dir, inputs, cached=cached)
    validation = call_cached(tasks.validate_harmonised, project_dir, harmonised_dir, inputs, cached=cached)
    if publish:
        artifacts.publish(
            markdown=artifacts.run_summary_markdown(flow_name="validate", validation=validation, cached=cached),
            validation=artifacts.validation_rows(validation),
        )
    return {"inputs": inputs, "harmonised_dir": harmonised_dir, "validation": validation, "cached": cached, "withdrawals": withdrawals}

"""Flow ``snapshot``: the decision-makers' snapshot of layer 04 (disclosure applied)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow

from proximite.flows import artifacts, tasks
from proximite.flows.caching import call_cached
from proximite.flows.indicators import indicators as indicators_flow
from proximite.flows.failure import ends_with_reason, source_version
from proximite.flows.notify import notify_failure


@flow(name="snapshot", on_failure=[notify_failure], version=source_version(__file__))
@ends_with_reason
def snapshot(
    project_dir: str = ".",
    indicators_dir: str | None = None,
    lang: str = "fr",
    level: str | None = None,
    scope: str = "quebec",
    publish: bool = True,
    economics_dir: str | None = None,
) -> dict[str, Any]:
    """Write today's snapshot (``reporting/snapshot-<date>-<level>-<scope>/``) from layer 04.

    Parameters
    ----------
    project_dir : str
    indicators_dir : str, optional
        A layer-04 directory (default: the indicators of the current build, computed if needed).
    lang : {"fr", "en"}
    level : {"public", "internal"}, optional
        Disclosure level (default: the configuration's).
    scope : str
        ``quebec``, ``region:<code>`` or ``territory:<id>``.
    publish : bool
        Publish this run's summary artifact.
    economics_dir : str, optional
        The economics run just written for this build (the pipeline passes it): a snapshot
        cached earlier the same day without it is written again. The page itself always shows
        the build's newest economics run.

    Returns
    -------
    dict
        ``{"snapshot_dir": str, "indicators_dir": str, "cached": [task names]}``.
    """
    cached: list[str] = []
    if indicators_dir is None:
        computed = indicators_flow(project_dir, publish=False)
        indicators_dir, cached = computed["indicators_dir"], computed["cached"]
    inputs = tasks.staged_inputs(project_dir)
    day = dt.date.today().isoformat()
    directory = call_cached(
        tasks.snapshot, project_dir, indicators_dir, lang, level, scope, day, inputs, economics_dir, cached=cached
    )
    if publish:
        artifacts.publish(
            markdown=artifacts.run_summary_markdown(flow_name="snapshot", indicators_dir=indicators_dir, snapshot_dir=directory, cached=cached)
        )
    return {"snapshot_dir": directory, "indicators_dir": indicators_dir, "cached": cached}

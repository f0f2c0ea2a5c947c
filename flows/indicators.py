"""Flow ``indicators``: every indicator family at every scope level, fanned out, into layer 04.

The units (:mod:`proximite.indicators.fanout`) run as tasks of the ``indicator-fanout`` subflow,
whose task runner is chosen at run time from the configuration (:mod:`proximite.flows.runners`):
on Dask, when ``[orchestration] dask_address`` (or ``PROXIMITE_DASK_ADDRESS``) names a scheduler,
a unit is a family at one scope level (36 units for the cluster's workers); on this machine's
thread or process pool, a unit is a family at every level (12 units: a family's preparation is
done once, not once per level). Each unit writes a part file and returns its path; a last task
combines the parts into layer 04.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from proximite.config import load_settings
from proximite.flows import artifacts, tasks
from proximite.flows.caching import call_cached
from proximite.flows.failure import ends_with_reason, source_version
from proximite.flows.notify import notify_failure
from proximite.flows.runners import dask_address, fanout_task_runner
from proximite.indicators.fanout import fanout_units


@flow(name="indicator-fanout")
def indicator_fanout(project_dir: str, build_id: str) -> list[dict[str, Any]]:
    """Run every unit of the fan-out on this flow's task runner; returns the parts (paths, rows, seconds)."""
    # A cluster takes a unit per family and scope level; one machine, a unit per family.
    split = dask_address(load_settings(project_dir)) is not None
    units = fanout_units(split_scopes=split)
    futures = [tasks.indicator_unit.submit(project_dir, build_id, unit.family, unit.scope) for unit in units]
    return [future.result() for future in futures]


@flow(name="indicators", on_failure=[notify_failure], version=source_version(__file__))
@ends_with_reason
def indicators(project_dir: str = ".", build_id: str | None = None, publish: bool = True, lang: str = "fr") -> dict[str, Any]:
    """Compute the indicators of a warehouse build into layer 04 (reused when already there).

    Parameters
    ----------
    project_dir : str
    build_id : str, optional
        The build to compute (default: the current one). A build that is no longer the current
        one is refused.
    publish : bool
        Publish the headline indicators artifact.
    lang : {"fr", "en"}
        Language of that artifact (headers, labels, numbers: ``12,5 %`` or ``12.5%``).

    Returns
    -------
    dict
        ``{"indicators_dir": str, "build_id": str, "units": int, "cached": [task names]}``.
    """
    cached: list[str] = []
    inputs = tasks.staged_inputs(project_dir)
    build_id = build_id or tasks.current_build_id(project_dir)
    directory = tasks.reusable_indicators(project_dir, build_id)
    units = 0
    if directory is not None:
        cached.append("indicators")
    else:
        runner = fanout_task_runner(load_settings(project_dir))
        parts = indicator_fanout.with_options(task_runner=runner)(project_dir, build_id)
        units = len(parts)
        directory = call_cached(tasks.combine_indicators, project_dir, build_id, parts, inputs, cached=cached)
    if publish:
        artifacts.publish(headline=tasks.headline_indicators(project_dir, directory, lang))
    return {"indicators_dir": directory, "build_id": build_id, "units": units, "cached": cached}

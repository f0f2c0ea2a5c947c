"""Flow ``economics``: costing, cost–benefit and the PSA, whose chunks fan out on Dask or threads."""

from __future__ import annotations

import math
from typing import Any

from prefect import flow

from proximite.config import load_settings
from proximite.flows import artifacts, tasks
from proximite.flows.failure import ends_with_reason, source_version
from proximite.flows.notify import notify_failure
from proximite.flows.runners import fanout_task_runner


@flow(name="psa-fanout")
def psa_fanout(params: str | None, inputs: dict[str, Any], draws: int, chunk: int, seed: int) -> list[Any]:
    """Every chunk of the PSA on this flow's task runner, in chunk order."""
    futures = [
        tasks.psa_chunk.submit(params, inputs, draws, chunk, seed, index) for index in range(math.ceil(draws / chunk))
    ]
    return [future.result() for future in futures]


@flow(name="economics", on_failure=[notify_failure], version=source_version(__file__))
@ends_with_reason
def economics(
    project_dir: str = ".",
    params: str | None = None,
    costing_params: str | None = None,
    draws: int = 10_000,
    seed: int = 20_260_101,
    chunk: int = 2_500,
    cost_basis: str = "budget",
    lang: str = "fr",
    publish: bool = True,
) -> dict[str, Any]:
    """The economic evaluation of the current build (``reporting/economics/<build_id>/``).

    Parameters
    ----------
    project_dir : str
    params, costing_params : str, optional
        Parameter files (default: ``[economics] params`` and ``costing_params`` of the project's
        configuration, else the shipped placeholders).
    draws, seed, chunk : int
        The PSA: ``draws`` in chunks of ``chunk``, each a task (on Dask when ``[orchestration]
        dask_address`` is set); the same seed and chunk give the same results on any runner, and
        the same as ``proximite economics run --draws D --seed S --chunk C``.
    cost_basis : {"budget", "activity"}
    lang : {"fr", "en"}
    publish : bool
        Publish the run's summary artifact.

    Returns
    -------
    dict
        ``{"economics_dir": str, "build_id": str, "chunks": int}``.
    """
    inputs = tasks.economics_inputs(project_dir, params, costing_params, cost_basis)
    # The files resolved once (given, else the configuration's, else the shipped placeholders).
    params, costing_params = inputs["params"], inputs["costing_params"]
    runner = fanout_task_runner(load_settings(project_dir))
    chunks = psa_fanout.with_options(task_runner=runner)(params, inputs, draws, chunk, seed)
    report = tasks.economics_report(project_dir, params, costing_params, cost_basis, draws, chunk, seed, chunks, lang)
    if publish:
        artifacts.publish(
            markdown=artifacts.economics_markdown(report["summary"], directory=report["economics_dir"]),
            description="Economic evaluation",
        )
    return {"economics_dir": report["economics_dir"], "build_id": inputs["build_id"], "chunks": len(chunks)}

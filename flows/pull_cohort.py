"""Flow ``pull_cohort``: pull the cohort from REDCap through PyCap into 01 raw and 02 staged."""

from __future__ import annotations

from typing import Any

from prefect import flow

from proximite.flows import artifacts, tasks
from proximite.flows.failure import ends_with_reason, source_version
from proximite.flows.notify import notify_failure


@flow(name="pull_cohort", on_failure=[notify_failure], version=source_version(__file__))
@ends_with_reason
def pull_cohort(
    url: str,
    project_dir: str = ".",
    token_env: str | None = tasks.DEFAULT_TOKEN_ENV,
    token_secret: str | None = None,
    full: bool = False,
    batch_size: int = 500,
    publish: bool = True,
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
    publish : bool
        Publish this run's summary artifact (the pipeline publishes its own instead).

    Returns
    -------
    dict
        The pull's summary (pull id, mode, records, requests, deleted, seconds).
    """
    pulled = tasks.pull_redcap(url, project_dir, token_env, token_secret, full, batch_size)
    if publish:
        artifacts.publish(markdown=artifacts.run_summary_markdown(flow_name="pull_cohort", pull=pulled))
    return pulled

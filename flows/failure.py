"""How a flow run ends when it fails: a one-paragraph reason in its state and its run summary.

A run that fails on its own (from the CLI, a deployment, a schedule) ends in a ``Failed`` state
whose message is :func:`~proximite.flows.artifacts.failure_reason` (no traceback, no value of a
family), and publishes its run-summary artifact with that paragraph under *Failed*. The exception
stays the state's data: the ``on_failure`` hook still finds the gate's quarantine reports, and a
Python caller of the flow still gets the error raised.

A flow run as a subflow of another (the ``pipeline``) lets its error go up unchanged: the parent
run gives the reason once, for the whole run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from prefect.context import FlowRunContext
from prefect.states import Failed, State

from proximite.flows import artifacts

__all__ = ["ends_with_reason", "failed_run", "is_subflow", "source_version"]

Result = TypeVar("Result")


def is_subflow() -> bool:
    """True inside a flow run started by another flow run (its parent gives the failure's reason).

    Notes
    -----
    Prefect 3 records a subflow's call in its parent as a task run: a subflow's flow run has a
    ``parent_task_run_id``, a run on its own (CLI, deployment) has none. Read from the run context,
    without a request to the API. Outside a flow run: False.
    """
    context = FlowRunContext.get()
    flow_run = getattr(context, "flow_run", None)
    return getattr(flow_run, "parent_task_run_id", None) is not None


def failed_run(
    error: BaseException,
    *,
    flow_name: str,
    pull: Mapping[str, Any] | None = None,
    ingest: Mapping[str, Any] | None = None,
) -> State:
    """Publish the failed run's summary and give the ``Failed`` state the flow returns.

    Parameters
    ----------
    error : BaseException
        What stopped the run.
    flow_name : str, keyword-only
    pull, ingest : mapping, optional, keyword-only
        What the run had pulled before it failed (as for
        :func:`~proximite.flows.artifacts.run_summary_markdown`).

    Returns
    -------
    State
        ``Failed`` with the one-paragraph reason as its message and ``error`` as its data.
    """
    reason = artifacts.failure_reason(error)
    artifacts.publish(
        markdown=artifacts.run_summary_markdown(flow_name=flow_name, pull=pull, ingest=ingest, failure=reason),
        description="Run summary (failed)",
    )
    return Failed(message=reason, data=error)


def source_version(path: str) -> str:
    """The version Prefect gives a flow by default: the hash of the file that defines it.

    A flow under :func:`ends_with_reason` passes ``version=source_version(__file__)`` to ``@flow``:
    Prefect would otherwise hash the file of the wrapper (this module), the same for every flow.
    """
    from prefect.utilities.hashing import file_hash

    return file_hash(path)


def ends_with_reason(fn: Callable[..., Result]) -> Callable[..., Result | State]:
    """Decorate a flow's function (under ``@flow``) so that a run on its own fails with its reason.

    On a run on its own, an exception becomes :func:`failed_run`'s state (flow name from the run
    context); in a subflow, or outside a flow run, the exception goes up unchanged. The wrapper
    keeps the function's name, module, signature and docstring (Prefect's parameters, entrypoint
    and description); give ``@flow`` its version with :func:`source_version`.
    """

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Result | State:
        try:
            return fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - every failure gets its reason, then fails the run
            context = FlowRunContext.get()
            if context is None or is_subflow():
                raise
            return failed_run(error, flow_name=context.flow.name)

    return run

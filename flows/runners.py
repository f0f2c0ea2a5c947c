"""The task runner of the fan-outs: Dask when a scheduler address is configured, else threads.

``[orchestration] dask_address`` (or the environment variable ``PROXIMITE_DASK_ADDRESS``, which
wins) names a running Dask scheduler (``tcp://host:8786``); the indicators' units then run on its
workers through :class:`prefect_dask.DaskTaskRunner`. Without one they run on Prefect's thread
pool. Both run the same package functions on the same inputs, so the results are identical.
"""

from __future__ import annotations

import os
from typing import Any

from proximite.config import Settings

__all__ = ["DASK_ADDRESS_ENV", "dask_address", "fanout_task_runner"]

DASK_ADDRESS_ENV = "PROXIMITE_DASK_ADDRESS"


def dask_address(settings: Settings) -> str | None:
    """The configured Dask scheduler address, or None for the thread pool."""
    address = os.environ.get(DASK_ADDRESS_ENV) or str(settings.raw.get("orchestration", {}).get("dask_address", "") or "")
    return address.strip() or None


def fanout_task_runner(settings: Settings, *, max_workers: int | None = None) -> Any:
    """``DaskTaskRunner(address=...)`` when a scheduler is configured, else a ``ThreadPoolTaskRunner``.

    Parameters
    ----------
    settings : Settings
    max_workers : int, optional, keyword-only
        Threads of the thread pool (default: the number of CPUs, at least 2).
    """
    address = dask_address(settings)
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=max_workers or max(2, os.cpu_count() or 2))

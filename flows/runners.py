"""The task runner of the fan-outs: Dask when a scheduler address is configured, else local workers.

``[orchestration] dask_address`` (or the environment variable ``PROXIMITE_DASK_ADDRESS``, which
wins) names a running Dask scheduler (``tcp://host:8786``); the indicators' units then run on its
workers through :class:`prefect_dask.DaskTaskRunner`. Without one, ``[orchestration]
fanout_workers`` chooses this machine's workers: ``processes`` (Prefect's process pool: every
core computes, each process reads the warehouse once), ``threads`` (one process: the units share
one read of the tables but mostly one core, as pandas holds the interpreter's lock) or ``auto``
(the default: processes once the warehouse is large enough for the second core to pay for a
process's start, :data:`PROCESS_POOL_FROM_BYTES`). All run the same package functions on the same
inputs, so the results are identical.
"""

from __future__ import annotations

import os
from typing import Any

from proximite.config import ConfigError, Settings

__all__ = ["DASK_ADDRESS_ENV", "FANOUT_WORKERS", "FANOUT_WORKERS_ENV", "PROCESS_POOL_FROM_BYTES", "dask_address", "fanout_task_runner", "fanout_workers"]

DASK_ADDRESS_ENV = "PROXIMITE_DASK_ADDRESS"
#: Environment variable that wins over ``[orchestration] fanout_workers``.
FANOUT_WORKERS_ENV = "PROXIMITE_FANOUT_WORKERS"
#: Values of ``[orchestration] fanout_workers``.
FANOUT_WORKERS = ("auto", "processes", "threads")
#: ``auto`` takes processes from this warehouse size on: below it (a test or demo cohort) a
#: process's start (imports, one read of the tables) costs more than the second core gives back.
PROCESS_POOL_FROM_BYTES = 64 * 1024 * 1024


def dask_address(settings: Settings) -> str | None:
    """The configured Dask scheduler address, or None for the thread pool."""
    address = os.environ.get(DASK_ADDRESS_ENV) or str(settings.raw.get("orchestration", {}).get("dask_address", "") or "")
    return address.strip() or None


def fanout_workers(settings: Settings) -> str:
    """``processes`` or ``threads``: the local workers ``[orchestration] fanout_workers`` (or ``PROXIMITE_FANOUT_WORKERS``, which wins) chooses.

    Raises
    ------
    ConfigError
        A value other than those of :data:`FANOUT_WORKERS`.
    """
    configured = settings.raw.get("orchestration", {}).get("fanout_workers", "auto")
    chosen = str(os.environ.get(FANOUT_WORKERS_ENV) or configured or "auto").strip()
    if chosen not in FANOUT_WORKERS:
        where = FANOUT_WORKERS_ENV if os.environ.get(FANOUT_WORKERS_ENV) else "[orchestration] fanout_workers"
        raise ConfigError(f"{where} = {chosen!r}: expected one of {', '.join(FANOUT_WORKERS)}")
    if chosen != "auto":
        return chosen
    warehouse = settings.warehouse_path
    large = warehouse.is_file() and warehouse.stat().st_size >= PROCESS_POOL_FROM_BYTES
    return "processes" if large else "threads"


def fanout_task_runner(settings: Settings, *, max_workers: int | None = None) -> Any:
    """``DaskTaskRunner(address=...)`` when a scheduler is configured, else a process or thread pool.

    Parameters
    ----------
    settings : Settings
    max_workers : int, optional, keyword-only
        Processes or threads of the pool (default: the number of CPUs, at least 2).
    """
    address = dask_address(settings)
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    workers = max_workers or max(2, os.cpu_count() or 2)
    if fanout_workers(settings) == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=workers)
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=workers)

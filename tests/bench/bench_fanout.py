"""Fan-out benchmark: the indicators of one warehouse build, sequential, on the thread pool, on Dask.

Run with ``.venv/bin/python tests/bench/bench_fanout.py [--scales pilot province] [--work DIR]
[--dask-workers 2]`` (not collected by pytest: no ``test_`` prefix). The cohort is generated,
ingested and harmonised as in the validation benchmark (reused from ``--work`` when there), and a
warehouse is built from it outside the clock. Then, each in a fresh process (Prefect's ephemeral
mode):

- ``sequential``: :func:`proximite.cohort.pipeline.compute_indicators` (every family in turn);
- ``threads``: the ``indicator-fanout`` flow on Prefect's thread pool, then the combine step;
- ``dask``: the same on a ``LocalCluster`` of ``--dask-workers`` single-threaded workers
  (``PROXIMITE_DASK_ADDRESS``, as a configured scheduler is used), cluster start outside the clock.

Prefect's ephemeral API is started before the clock runs (a trivial flow): a scheduled run talks
to a running server. ``sum_unit_s`` adds the units' own seconds (a unit waiting for the shared
table read counts that wait).

The three layer-04 tables are compared (they must be equal). One JSON line per runner::

    {"bench": "fanout", "scale", "runner", "seconds", "units", "rows", "slowest_unit", "slowest_unit_s",
     "sum_unit_s", "equal_to_sequential"}
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_validation import BENCH_KEY, SCALES, prepare  # noqa: E402


def _build(work: Path) -> str:
    """The warehouse of the prepared project (built once; its build id)."""
    from proximite import pipeline
    from proximite.config import load_settings

    settings = load_settings(work / "project")
    marker = work / "build_id"
    if marker.is_file() and (settings.project_dir / "warehouse.duckdb").exists():
        return marker.read_text(encoding="utf-8")
    harmonised = Path((work / "harmonised_dir").read_text(encoding="utf-8"))
    info = pipeline.build_from_harmonised(settings, harmonised, validate=False)
    marker.write_text(info.build_id, encoding="utf-8")
    return info.build_id


def _clear_layer_04(settings: Any) -> None:
    import shutil

    from proximite import pipeline

    shutil.rmtree(settings.data_dir / pipeline.INDICATORS, ignore_errors=True)


def _run(work: str, build_id: str, runner: str, dask_workers: int, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    os.environ["PROXIMITE_PSEUDONYM_KEY"] = BENCH_KEY
    # Offline machines: no telemetry (as the Makefile and the command line set it).
    for name, value in (("PREFECT_SERVER_ANALYTICS_ENABLED", "false"), ("GX_ANALYTICS_ENABLED", "false"), ("DO_NOT_TRACK", "1")):
        os.environ.setdefault(name, value)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    import pandas as pd

    from proximite import pipeline
    from proximite.config import load_settings

    settings = load_settings(Path(work) / "project")
    _clear_layer_04(settings)
    parts: list[dict[str, Any]] = []
    cluster = None
    if runner == "dask":
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=dask_workers, threads_per_worker=1, processes=True, dashboard_address=None)
        os.environ["PROXIMITE_DASK_ADDRESS"] = cluster.scheduler_address
    if runner != "sequential":
        # Start Prefect's ephemeral API outside the clock (a scheduled run has a server already).
        from prefect import flow

        flow(name="warm-up")(lambda: None)()
    try:
        started = time.perf_counter()
        if runner == "sequential":
            directory = pipeline.compute_indicators(settings, force=True)
        else:
            from proximite.flows.indicators import indicator_fanout
            from proximite.flows.runners import fanout_task_runner

            project_dir = str(settings.project_dir)
            parts = indicator_fanout.with_options(task_runner=fanout_task_runner(settings))(project_dir, build_id)
            directory = pipeline.combine_indicator_parts(settings, build_id, parts)
        seconds = time.perf_counter() - started
    finally:
        if cluster is not None:
            cluster.close()
    table = pd.read_parquet(Path(directory) / "indicators.parquet")
    line: dict[str, Any] = {"runner": runner, "seconds": round(seconds, 2), "units": len(parts) or None, "rows": len(table)}
    if parts:
        slowest = max(parts, key=lambda part: float(part["seconds"]))
        line |= {
            "slowest_unit": f"{slowest['family']}-{slowest['scope']}",
            "slowest_unit_s": round(float(slowest["seconds"]), 2),
            "sum_unit_s": round(sum(float(part["seconds"]) for part in parts), 2),
        }
    table.to_parquet(Path(work) / f"fanout-{runner}.parquet")
    queue.put(line)


def run(work: Path, build_id: str, runner: str, dask_workers: int) -> dict[str, Any]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run, args=(str(work), build_id, runner, dask_workers, queue))
    process.start()
    line = queue.get()
    process.join()
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", choices=list(SCALES), default=["pilot"])
    parser.add_argument("--work", type=Path, default=Path("bench-output") / "validation")
    parser.add_argument("--dask-workers", type=int, default=2)
    args = parser.parse_args(argv)
    import pandas as pd

    for name in args.scales:
        work = args.work / name
        work.mkdir(parents=True, exist_ok=True)
        prepare(work, SCALES[name])
        build_id = _build(work)
        for runner in ("sequential", "threads", "dask"):
            line = run(work, build_id, runner, args.dask_workers)
            reference = pd.read_parquet(work / "fanout-sequential.parquet")
            produced = pd.read_parquet(work / f"fanout-{runner}.parquet")
            line["equal_to_sequential"] = bool(reference.equals(produced))
            print(json.dumps({"bench": "fanout", "scale": name, **line}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

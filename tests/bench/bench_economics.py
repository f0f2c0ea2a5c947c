"""Economics benchmark: the economic evaluation of one build, and its PSA on threads and on Dask.

Run with ``.venv/bin/python tests/bench/bench_economics.py [--scales pilot province] [--draws 10000]
[--chunk 2500] [--dask-workers 2]`` (not collected by pytest: no ``test_`` prefix). The cohort is
generated, ingested and harmonised as in the validation benchmark and a warehouse is built, all
reused from ``--work`` when there and outside the clock. Then, each in a fresh process:

- ``psa``: :func:`proximite.economics.psa.run_psa` alone (``--draws`` draws, one process);
- ``economics_run``: :func:`proximite.cohort.pipeline.run_economics` (costing of the whole
  registry, cost per outcome, cost–benefit, PSA, one-way sensitivity, files written), the indicators
  of the build computed beforehand, outside the clock;
- ``flow_threads`` and ``flow_dask``: the ``economics`` flow, its PSA chunks on the thread pool or
  on a ``LocalCluster`` of ``--dask-workers`` single-threaded workers (started outside the clock;
  Prefect's ephemeral API too).

The PSA summaries of the flow runs are compared with ``economics_run``'s (same seed and chunk:
they must be equal). One JSON line per stage::

    {"bench": "economics", "scale", "stage", "seconds", "draws", "peak_rss_mb", "equal_to_run"}
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fanout import _build  # noqa: E402
from bench_validation import BENCH_KEY, SCALES, prepare  # noqa: E402

SEED = 20_260_101


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _offline() -> None:
    os.environ["PROXIMITE_PSEUDONYM_KEY"] = BENCH_KEY
    for name, value in (("PREFECT_SERVER_ANALYTICS_ENABLED", "false"), ("GX_ANALYTICS_ENABLED", "false"), ("DO_NOT_TRACK", "1")):
        os.environ.setdefault(name, value)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _stage(work: str, stage: str, draws: int, chunk: int, dask_workers: int, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    _offline()
    from proximite import pipeline
    from proximite.config import load_settings
    from proximite.economics.report import EconomicsSummary

    settings = load_settings(Path(work) / "project")
    line: dict[str, Any] = {"stage": stage, "draws": draws}
    if stage == "psa":
        from proximite.economics.parameters import load_benefit_parameters
        from proximite.economics.psa import run_psa

        inputs = pipeline.economics_inputs(settings)
        costs, families = pipeline.economics.cost_benefit_data(inputs)
        parameters = load_benefit_parameters()
        started = time.perf_counter()
        run_psa(parameters, costs, families, draws=draws, seed=SEED, chunk=chunk)
        line["seconds"] = time.perf_counter() - started
    elif stage == "economics_run":
        pipeline.compute_indicators(settings)  # layer 04 of the build, outside the clock
        started = time.perf_counter()
        directory = pipeline.run_economics(settings, draws=draws, seed=SEED, chunk=chunk)
        line["seconds"] = time.perf_counter() - started
        line["psa"] = EconomicsSummary.read(directory).to_dict()["psa"]
    else:
        from prefect import flow

        from proximite.flows.economics import economics

        cluster = None
        if stage == "flow_dask":
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=dask_workers, threads_per_worker=1, processes=True, dashboard_address=None)
            os.environ["PROXIMITE_DASK_ADDRESS"] = cluster.scheduler_address
        try:
            flow(name="warm-up")(lambda: None)()  # Prefect's ephemeral API, outside the clock
            started = time.perf_counter()
            result = economics(str(settings.project_dir), draws=draws, chunk=chunk, seed=SEED, publish=False)
            line["seconds"] = time.perf_counter() - started
            line["psa"] = EconomicsSummary.read(result["economics_dir"]).to_dict()["psa"]
        finally:
            if cluster is not None:
                cluster.close()
    line["peak_rss_mb"] = _peak_mb()
    queue.put(line)


def run(work: Path, stage: str, draws: int, chunk: int, dask_workers: int) -> dict[str, Any]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_stage, args=(str(work), stage, draws, chunk, dask_workers, queue))
    process.start()
    line = queue.get()
    process.join()
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", choices=list(SCALES), default=["pilot", "province"])
    parser.add_argument("--work", type=Path, default=Path("bench-output") / "validation")
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=2_500)
    parser.add_argument("--dask-workers", type=int, default=2)
    args = parser.parse_args(argv)
    _offline()
    for name in args.scales:
        work = args.work / name
        work.mkdir(parents=True, exist_ok=True)
        prepare(work, SCALES[name])
        _build(work)
        reference = None
        for stage in ("psa", "economics_run", "flow_threads", "flow_dask"):
            line = run(work, stage, args.draws, args.chunk, args.dask_workers)
            psa = line.pop("psa", None)
            if stage == "economics_run":
                reference = psa
            elif psa is not None:
                line["equal_to_run"] = psa == reference
            line["seconds"] = round(line["seconds"], 2)
            print(json.dumps({"bench": "economics", "scale": name, **line}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

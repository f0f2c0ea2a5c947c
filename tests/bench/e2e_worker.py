"""The end-to-end benchmark's measured process: ``python e2e_worker.py SPEC.json OUT.json``.

``bench_e2e.py`` starts one worker per measured run and samples its process tree from outside
(:mod:`e2e_measure`), so the figures hold only the worker and its children (Prefect's API
server among them). SPEC's ``mode``:

- ``generate``: the synthetic cohort (``generate_cohort``) into ``input_dir``;
- ``pipeline``: the ``pipeline`` flow (file sources, no economics; ``redcap_url`` given: the
  cohort pulled through PyCap) under ``prefect_test_harness`` (a throwaway API database). After
  the run, the stages' windows come from the API: every task run of the run's flows, by
  ``<flow>/<task>`` (the indicator units folded into their ``indicator-fanout`` sub-flow);
- ``scan``: DuckDB's ``CREATE TABLE AS SELECT * FROM read_csv(...)`` of every input file.

OUT holds the windows (epoch seconds) and row counts; the worker never prints figures.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def _generate(spec: dict[str, Any]) -> dict[str, Any]:
    from proximite.cohort.sandbox.synth import generate_cohort

    start = time.time()
    summary = generate_cohort(
        Path(spec["input_dir"]), families=spec["families"], territories=spec["territories"], seed=spec["seed"], as_of=spec["as_of"]
    )
    rows = int(sum(value for value in summary.counts.values() if isinstance(value, int)))
    return {"windows": [{"stage": "generate", "start": start, "end": time.time(), "rows": rows}]}


def _csv_equivalents(files: dict[str, list[str]], folder: Path) -> list[Path]:
    """Every file to scan as a UTF-8 CSV: the CSV files, and the others written out as one into ``folder``."""
    import pandas as pd
    import pyreadstat
    from e2e_inputs import declared_encoding

    folder.mkdir(parents=True, exist_ok=True)
    paths = [Path(path) for path in files["csv"]]
    for number, path in enumerate(Path(path) for kind in ("csv_recoded", "xlsx", "sav") for path in files[kind]):
        target = folder / f"{number:04d}-{path.stem}.csv"
        if path.suffix == ".csv":
            target.write_text(path.read_text(encoding=declared_encoding(path)), encoding="utf-8")
        else:
            frame = pd.read_excel(path, sheet_name=0, dtype=str) if path.suffix == ".xlsx" else pyreadstat.read_sav(str(path))[0]
            frame.to_csv(target, index=False, lineterminator="\n")
        paths.append(target)
    return paths


def _scan(spec: dict[str, Any]) -> dict[str, Any]:
    """Convert the XLSX/SAV files (before the clock), then time DuckDB's load of every file."""
    import duckdb

    work = Path(spec["work_dir"])
    paths = _csv_equivalents(spec["files"], work / "scan-csv")
    database = work / "scan.duckdb"
    database.unlink(missing_ok=True)
    with duckdb.connect(str(database)) as connection:
        start = time.time()
        for number, path in enumerate(paths):
            literal = "'" + str(path).replace("'", "''") + "'"
            connection.execute(f"CREATE TABLE t{number} AS SELECT * FROM read_csv({literal})")
        end = time.time()
        rows = sum(connection.execute(f"SELECT count(*) FROM t{number}").fetchone()[0] for number in range(len(paths)))
    database.unlink(missing_ok=True)
    return {"windows": [{"stage": "duckdb_scan", "start": start, "end": end, "rows": int(rows)}]}


def _task_names() -> dict[str, tuple[str, bool]]:
    """Function name → (task name, whether its runs carry their own name), for the pipeline's tasks."""
    from prefect import Task

    from proximite.flows import tasks

    found = [getattr(tasks, name) for name in dir(tasks)]
    return {task.fn.__qualname__: (task.name, task.task_run_name is not None) for task in found if isinstance(task, Task)}


def _read_all(read: Any) -> list[Any]:
    """Every object a client's ``read_*`` method returns, page by page."""
    found: list[Any] = []
    while True:
        page = read(limit=200, offset=len(found))
        found.extend(page)
        if len(page) < 200:
            return found


def _window(run: Any) -> tuple[float, float]:
    """A run's start and end (epoch seconds); a cached task never runs: from its creation."""
    start = run.start_time or run.expected_start_time or run.created
    end = run.end_time or run.state.timestamp
    return start.timestamp(), end.timestamp()


def _stage_windows(flow_names: dict[Any, str], flow_runs: list[Any], task_runs: list[Any]) -> list[dict[str, Any]]:
    """One window per leaf task run of ``flow_runs``, named ``<flow>/<task>``; a sub-flow's own task run is left out.

    ``flow_names`` maps a flow run's id to its flow's name. The ``indicator-fanout`` sub-flow is
    one stage (its units run concurrently); its ``units`` says how many ran.
    """
    names = _task_names()
    in_tree = {run.id for run in flow_runs}
    children = {run.parent_task_run_id: run for run in flow_runs if run.parent_task_run_id}
    fanouts = {run.id for run in flow_runs if flow_names[run.id] == "indicator-fanout"}
    windows = []
    for task_run in task_runs:
        if task_run.flow_run_id in fanouts or task_run.flow_run_id not in in_tree:
            continue
        child = children.get(task_run.id)
        if child is not None and child.id not in fanouts:
            continue
        if child is not None:
            task, units = "indicator-fanout", sum(run.flow_run_id == child.id for run in task_runs)
        else:
            task_name, own_name = names.get(task_run.task_key.rsplit("-", 1)[0], (task_run.name, True))
            task, units = (task_run.name if own_name else task_name), None
        start, end = _window(child or task_run)
        windows.append({
            "stage": f"{flow_names[task_run.flow_run_id]}/{task}", "start": start, "end": end,
            "state": (child or task_run).state_name, "units": units,
        })
    return sorted(windows, key=lambda window: window["start"])


def _stage_rows(result: dict[str, Any]) -> dict[str, int]:
    """Rows each stage handled, from the flow's result and the layers it wrote."""
    import pyarrow.parquet as pq

    rows: dict[str, int] = {}
    if result.get("pull"):
        rows["pull_cohort/pull-redcap"] = int(sum(result["pull"]["rows"].values()))
    for source, summary in (result.get("ingest") or {}).items():
        rows[f"pull_registry/ingest-{source}"] = int(sum(summary["rows"].values()))
    harmonised = sum(pq.ParquetFile(path).metadata.num_rows for path in Path(result["harmonised_dir"]).rglob("*.parquet"))
    rows["validate/harmonise"] = rows["validate/validate-harmonised"] = int(harmonised)
    rows["build/build"] = int(sum(result["build"]["row_counts"].values()))
    indicators = pq.ParquetFile(Path(result["indicators_dir"]) / "indicators.parquet").metadata.num_rows
    rows["indicators/indicator-fanout"] = rows["indicators/combine-indicators"] = int(indicators)
    rows["total"] = sum(value for stage, value in rows.items() if stage.startswith("pull"))
    return rows


def _pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the pipeline flow under a throwaway API; its stages' windows and rows."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=None):
        from proximite.flows.pipeline import pipeline

        flow(name="bench-warm-up")(lambda: None)()  # the API's first requests, before the clock
        result = pipeline(
            input_dir=spec["input_dir"], project_dir=spec["project_dir"], redcap_url=spec.get("redcap_url"),
            token_env=spec.get("token_env"),
        )
        with get_client(sync_client=True) as client:
            flow_runs = _read_all(client.read_flow_runs)
            flow_names = {run.id: client.read_flow(run.flow_id).name for run in flow_runs}
            task_runs = _read_all(client.read_task_runs)
    top = next(run for run in flow_runs if flow_names[run.id] == "pipeline" and not run.parent_task_run_id)
    windows = _stage_windows(flow_names, [run for run in flow_runs if flow_names[run.id] != "bench-warm-up"], task_runs)
    start, end = _window(top)
    return {
        "windows": windows, "total": {"start": start, "end": end}, "rows": _stage_rows(result),
        "indicators_dir": result["indicators_dir"], "cached": result["cached"],
        # Which pull it was (full or incremental) and what it fetched: counts, never values.
        "extras": {"pull_cohort/pull-redcap": {key: result["pull"][key] for key in ("mode", "records", "requests")}} if result.get("pull") else {},
    }


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    work = {"generate": _generate, "scan": _scan, "pipeline": _pipeline}[spec["mode"]]
    Path(argv[1]).write_text(json.dumps(work(spec)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""End-to-end benchmark: the ``pipeline`` flow from input files (or a sandbox pull) to the snapshot.

Run with ``make bench-e2e`` (``BENCH_E2E_ARGS="--scales pilot --variants files redcap
--incremental"``) or ``.venv/bin/python tests/bench/bench_e2e.py --scales pilot``. Not collected
by pytest. For each scale (demo 300 families, pilot 5,305, province 50,000 in 300 territories,
x5 250,000) it

1. generates the synthetic cohort once into ``--cache-dir/<scale>/`` (reused while its
   ``stamp.json`` matches the parameters);
2. times DuckDB's ``CREATE TABLE AS SELECT * FROM read_csv(...)`` of every input CSV, the
   partners' XLSX/SAV activity files counted as their CSV equivalent (converted before the
   clock): the floor DESIGN compares the pipeline with;
3. per variant (``files``: the REDCap export files; ``redcap``: the cohort pulled through PyCap
   from the REDCap sandbox, which runs in this process and is not measured, as a real REDCap
   is another machine), runs the ``pipeline`` flow (no economics) on a fresh project in a
   worker process under a throwaway Prefect API, and reads the stages from the API;
4. with ``--incremental``, changes 1 % of the families' records (the export file, or imports
   through PyCap) and one partner's activity file, and runs the pipeline again.

How to read the output: one JSON line per stage, ``{"bench": "e2e", "scale", "variant", "run"
(full | incremental), "stage", "seconds", "cpu_percent", "peak_rss_mb", "rows", "rows_per_s"}``.
``cpu_percent`` is the CPU time of the worker and all its children (Prefect's API server too)
over the wall time: 200 is both cores busy. ``peak_rss_mb`` is the peak of their summed RSS
during the stage, sampled every 0.2 s. Stages are ``<flow>/<task>`` in run order, then
``orchestration`` (the run's time outside every task: Prefect, sub-flow starts, artifacts) and
``total`` (the pipeline flow's run; rows: the input rows). Then ``total_over_scan`` (DESIGN: ≤ 5)
and, for an incremental run, ``incremental_share`` (its total over the full run's; DESIGN:
≤ 0.10). With ``--compare-with`` (a parquet file, or a folder of ``--save-reference`` files), an
``indicators_identical`` line comes before the stages and ``total`` carries its verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from e2e_inputs import (  # noqa: E402
    SCALES,
    cached_input,
    change_records_file,
    change_registry_file,
    cohort_parameters,
    linked_copy,
    read_records,
    record_changes,
    scan_inputs,
    write_stamp,
)
from e2e_measure import TreeSampler, compare_indicators, window_figures  # noqa: E402
from synth_dates import SYNTH_AS_OF  # noqa: E402

#: The raw layer's key of the bench's projects (hex, 32 bytes), as PROXIMITE_RAW_KEY.
BENCH_RAW_KEY = "b0" * 32
BENCH_KEY = "bench-key-not-secret"
TOKEN_ENV = "PROXIMITE_BENCH_REDCAP_TOKEN"
#: DESIGN's targets at province scale (x5: memory only).
TARGETS = {"province": {"seconds": 30, "peak_rss_mb": 3 * 1024}, "x5": {"peak_rss_mb": 8 * 1024}}
TARGET_SCAN_RATIO = 5
TARGET_INCREMENTAL_SHARE = 0.10


def emit(line: dict[str, Any]) -> dict[str, Any]:
    """Print one JSON line (the benchmark's only output on stdout) and return it."""
    print(json.dumps(line), flush=True)
    return line


def worker_env(folder: Path) -> dict[str, str]:
    """The worker's environment: offline, the bench's pseudonym and raw-layer keys, a Prefect home of its own."""
    env = dict(os.environ)
    env.update({
        "PROXIMITE_PSEUDONYM_KEY": BENCH_KEY,
        "PROXIMITE_RAW_KEY": BENCH_RAW_KEY,  # layer 01 is encrypted at rest: the bench measures that too
        "PREFECT_HOME": str(folder / "prefect-home"),  # kept between the full and the incremental run (the cache)
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    })
    env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    return env


def run_worker(spec: dict[str, Any], folder: Path, name: str, env: dict[str, str], interval: float) -> tuple[dict[str, Any], list[Any]]:
    """Run ``e2e_worker.py`` on ``spec`` while sampling its process tree; its output and the samples.

    The worker's own output goes to ``folder/<name>.log``; a failed worker stops the benchmark
    with the end of that log.
    """
    folder.mkdir(parents=True, exist_ok=True)
    spec_path, out_path, log_path = (folder / f"{name}{suffix}" for suffix in ("-spec.json", "-out.json", ".log"))
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "e2e_worker.py"), str(spec_path), str(out_path)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        sampler = TreeSampler(process.pid, interval=interval).start()
        code = process.wait()
    samples = sampler.stop()
    if code != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        print("\n".join(tail), file=sys.stderr)
        raise SystemExit(f"bench_e2e: the {name} worker failed (exit {code}); its log: {log_path}")
    return json.loads(out_path.read_text(encoding="utf-8")), samples


def stage_line(context: dict[str, Any], window: dict[str, Any], samples: list[Any], rows: int | None) -> dict[str, Any]:
    """The JSON line of one stage's window: seconds, CPU %, peak RSS, rows and rows/s."""
    seconds = window["end"] - window["start"]
    line = {"bench": "e2e", **context, "stage": window["stage"], "seconds": round(seconds, 2)}
    line |= window_figures(samples, window["start"], window["end"])
    line |= {"rows": rows, "rows_per_s": round(rows / seconds) if rows and seconds > 0 else None}
    if window.get("state") not in (None, "Completed"):
        line["state"] = window["state"]  # "Cached": the step's output was reused
    if window.get("units"):
        line["units"] = window["units"]
    return line


def ensure_input(scale_name: str, args: argparse.Namespace) -> Path:
    """The scale's generated cohort, from the cache or generated now (a ``generate`` line then)."""
    folder = args.cache_dir / scale_name
    parameters = cohort_parameters(SCALES[scale_name], SYNTH_AS_OF)
    found = None if args.regenerate else cached_input(folder, parameters)
    if found is not None:
        return found
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    spec = {"mode": "generate", "input_dir": str(folder / "input"), **parameters}
    out, samples = run_worker(spec, folder, "generate", worker_env(folder), args.interval)
    window = out["windows"][0]
    emit(stage_line({"scale": scale_name, "variant": None, "run": "generate"}, window, samples, window["rows"]))
    write_stamp(folder, parameters)
    return folder / "input"


def measure_scan(scale_name: str, input_dir: Path, args: argparse.Namespace) -> float:
    """Time DuckDB's load of the same inputs; prints its line and returns its seconds."""
    folder = args.work_dir / f"{scale_name}-scan"
    shutil.rmtree(folder, ignore_errors=True)
    files = scan_inputs(input_dir)
    spec = {"mode": "scan", "work_dir": str(folder), "files": {kind: [str(path) for path in paths] for kind, paths in files.items()}}
    out, samples = run_worker(spec, folder, "scan", worker_env(folder), args.interval)
    window = out["windows"][0]
    line = stage_line({"scale": scale_name, "variant": None, "run": "full"}, window, samples, window["rows"])
    emit(line | {"files": {kind: len(paths) for kind, paths in files.items()}})
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return line["seconds"]


def _reference_path(args: argparse.Namespace, scale_name: str, variant: str) -> Path | None:
    if args.compare_with is None:
        return None
    if args.compare_with.is_dir():
        return args.compare_with / f"indicators-{scale_name}-{variant}.parquet"
    return args.compare_with


def check_indicators(context: dict[str, Any], indicators_dir: str, args: argparse.Namespace) -> bool | None:
    """Compare layer 04 with the reference (``--compare-with``), save it (``--save-reference``); the verdict.

    Returns None when there is nothing to compare with.
    """
    import pandas as pd

    produced = Path(indicators_dir) / "indicators.parquet"
    if args.save_reference is not None:
        args.save_reference.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced, args.save_reference / f"indicators-{context['scale']}-{context['variant']}.parquet")
    reference = _reference_path(args, context["scale"], context["variant"])
    if reference is None:
        return None
    line = {"bench": "e2e", **context, "stage": "indicators_identical", "reference": str(reference)}
    if not reference.is_file():
        emit(line | {"identical": None, "differences": None, "error": "no reference file"})
        return None
    outcome = compare_indicators(pd.read_parquet(produced), pd.read_parquet(reference))
    emit(line | outcome)
    return outcome["identical"]


def report_run(context: dict[str, Any], out: dict[str, Any], samples: list[Any], identical: bool | None) -> dict[str, Any]:
    """Print a pipeline run's stage lines, its orchestration time and its total; returns the total line."""
    rows = out["rows"]
    extras = out.get("extras", {})
    lines = [
        emit(stage_line(context, window, samples, rows.get(window["stage"])) | extras.get(window["stage"], {})) for window in out["windows"]
    ]
    total = {"stage": "total", **out["total"]}
    seconds = total["end"] - total["start"]
    emit({"bench": "e2e", **context, "stage": "orchestration", "seconds": round(seconds - sum(line["seconds"] for line in lines), 2)})
    line = stage_line(context, total, samples, rows["total"]) | dict(SCALES[context["scale"]])
    if out.get("cached"):
        line["cached"] = out["cached"]  # the steps whose output was reused
    targets = TARGETS.get(context["scale"], {})
    if targets:
        line["targets"] = targets
        line["meets_targets"] = all(line[name] is not None and line[name] <= limit for name, limit in targets.items())
    if identical is not None:
        line["indicators_identical"] = identical
        if not identical:
            line["flag"] = "layer 04 differs from the reference: these figures are not comparable with it"
    return emit(line)


def change_inputs(input_dir: Path, folder: Path, server: Any) -> tuple[Path, dict[str, Any]]:
    """The incremental run's input: 1 % of the families changed, and one partner's activity file.

    The files variant changes the export file of a linked copy of the input; the redcap variant
    imports the changes through PyCap into the sandbox (the copy's export file is not read).
    """
    changed = linked_copy(input_dir, folder / "input-changed")
    registry_file, activities = change_registry_file(changed)
    if server is None:
        families = change_records_file(changed, record_changes(read_records(changed)))
    else:
        import redcap

        rows = record_changes(server.project.records)
        project = redcap.Project(server.url, server.token)
        for start in range(0, len(rows), 500):
            project.import_records(rows[start : start + 500])
        families = len({row["record_id"] for row in rows})
    return changed, {"families_changed": families, "registry_file": registry_file, "activities_changed": activities}


def sandbox(input_dir: Path) -> Any:
    """The REDCap sandbox over the input's project, its records last changed a day ago.

    An incremental pull then fetches only what the benchmark changes afterwards.
    """
    import datetime as dt

    from proximite.cohort.redcap.loaders import project_from_directory
    from proximite.cohort.sandbox.server import SandboxServer

    server = SandboxServer(project_from_directory(input_dir))
    earlier = (dt.datetime.now() - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    server.project.modified.update({str(record): earlier for record in server.project.records["record_id"].unique()})
    return server


def bench_variant(scale_name: str, variant: str, input_dir: Path, scan_seconds: float, args: argparse.Namespace) -> None:
    """The full run (and the incremental one when asked) of one variant at one scale."""
    folder = args.work_dir / f"{scale_name}-{variant}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "project").mkdir(parents=True)
    env = worker_env(folder)
    with ExitStack() as stack:
        server = stack.enter_context(sandbox(input_dir)) if variant == "redcap" else None
        spec = {"mode": "pipeline", "input_dir": str(input_dir), "project_dir": str(folder / "project")}
        if server is not None:
            env[TOKEN_ENV] = server.token  # never in the spec: the flow reads the variable
            spec |= {"redcap_url": server.url, "token_env": TOKEN_ENV}
        context = {"scale": scale_name, "variant": variant, "run": "full"}
        out, samples = run_worker(spec, folder, "full", env, args.interval)
        full = report_run(context, out, samples, check_indicators(context, out["indicators_dir"], args))
        ratio = full["seconds"] / scan_seconds if scan_seconds else None
        emit({"bench": "e2e", **context, "stage": "total_over_scan", "total_seconds": full["seconds"], "scan_seconds": scan_seconds,
              "ratio": round(ratio, 2) if ratio else None, "target_ratio": TARGET_SCAN_RATIO})
        if args.incremental:
            changed, changes = change_inputs(input_dir, folder, server)
            context = context | {"run": "incremental"}
            out, samples = run_worker(spec | {"input_dir": str(changed)}, folder, "incremental", env, args.interval)
            total = report_run(context, out, samples, None)
            share = total["seconds"] / full["seconds"]
            emit({"bench": "e2e", **context, "stage": "incremental_share", "seconds": total["seconds"], "full_seconds": full["seconds"],
                  "share_of_full": round(share, 3), "target_share": TARGET_INCREMENTAL_SHARE, **changes})
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", nargs="+", choices=list(SCALES), default=["pilot", "province", "x5"])
    parser.add_argument("--variants", nargs="+", choices=["files", "redcap"], default=["files"])
    parser.add_argument("--incremental", action="store_true", help="also measure a run after 1 %% of the records change")
    parser.add_argument("--cache-dir", type=Path, default=Path("bench-output/e2e-inputs"), help="generated cohorts, kept")
    parser.add_argument("--work-dir", type=Path, default=Path("bench-output/e2e"), help="the runs' projects")
    parser.add_argument("--compare-with", type=Path, default=None, help="reference indicators.parquet, or a --save-reference folder")
    parser.add_argument("--save-reference", type=Path, default=None, help="folder to save each run's indicators.parquet into")
    parser.add_argument("--regenerate", action="store_true", help="generate the cohorts even when the cache has them")
    parser.add_argument("--keep", action="store_true", help="keep the runs' projects (they are large at province scale)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples of the process tree")
    args = parser.parse_args(argv)
    # The workers run elsewhere than here: every path absolute.
    for name in ("cache_dir", "work_dir", "compare_with", "save_reference"):
        if getattr(args, name) is not None:
            setattr(args, name, getattr(args, name).resolve())
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for scale_name in args.scales:
        input_dir = ensure_input(scale_name, args)
        scan_seconds = measure_scan(scale_name, input_dir, args)
        for variant in args.variants:
            bench_variant(scale_name, variant, input_dir.resolve(), scan_seconds, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Validation benchmark: both layers of a synthetic cohort, through Great Expectations + DuckDB and
through the hand-written pandas checker, at pilot and province scale.

Run with ``.venv/bin/python tests/bench/bench_validation.py [--scales pilot province]
[--work DIR]`` (not collected by pytest: no ``test_`` prefix). For each scale the cohort is
generated, ingested (without the gates) and harmonised once into ``--work`` (kept, so a second
run reuses it), then each engine validates, in a fresh process of its own (so its peak RSS and
the Great Expectations import are its own): every staged source, then the harmonised tables,
one batch in memory at a time as the gates hold them. Tables are read outside the clock. One
JSON line per scale::

    {"bench": "validation", "scale", "families", "rows", "rules", "seconds", "reference_seconds",
     "ratio", "gx_import_seconds", "ratio_without_import", "staged_seconds", "harmonised_seconds",
     "peak_rss_mb", "reference_peak_rss_mb", "tables_rss_mb", "passed"}

``tables_rss_mb`` is the process's RSS with the largest batch loaded, before validating it: the
difference to ``peak_rss_mb`` is what validation itself costs.

``seconds`` includes importing Great Expectations (once per process, ≈3 s); ``ratio`` is
``seconds / reference_seconds`` (DESIGN's target: ≤ 2 at province scale).
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

SCALES = {
    "pilot": {"families": 5305, "territories": 50},
    "province": {"families": 50000, "territories": 300},
}
BENCH_KEY = "bench-key-not-secret"
BENCH_RAW_KEY = "5f" * 32
SOURCES = ("reference", "redcap", "registry", "cost")


def prepare(work: Path, scale: dict[str, int]) -> Path:
    """Generate, ingest (gates off) and harmonise once; return the project directory."""
    os.environ["PROXIMITE_PSEUDONYM_KEY"] = BENCH_KEY
    os.environ.setdefault("PROXIMITE_RAW_KEY", BENCH_RAW_KEY)  # 01 raw is encrypted at rest
    from proximite import pipeline
    from proximite.pipeline import ingest
    from proximite.cohort.sandbox.synth import generate_cohort
    from proximite.config import load_settings

    project = work / "project"
    if (work / "harmonised_dir").is_file():
        return project
    generate_cohort(work / "input", families=scale["families"], territories=scale["territories"])
    settings = load_settings(project)
    ingest(work / "input", settings=settings, validate=False)
    harmonised = pipeline.harmonise_staged(settings, key=BENCH_KEY.encode())
    (work / "harmonised_dir").write_text(str(harmonised), encoding="utf-8")
    return project


def _validate(work: str, engine: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    """Validate each staged source, then the harmonised tables, as the gates do: one batch of
    tables in memory at a time (read before the clock runs, dropped after)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import gc

    import pandas as pd
    import psutil

    from proximite.cohort.layers import read_staged
    from proximite.config import load_settings

    root = Path(work)
    settings = load_settings(root / "project")
    directory = Path((root / "harmonised_dir").read_text(encoding="utf-8"))
    process = psutil.Process()

    started = time.perf_counter()
    from proximite.expectations import validate_tables

    imported = 0.0
    if engine == "great_expectations":
        from proximite.expectations.great_expectations import _gx

        _gx()
    imported = time.perf_counter() - started
    seconds = {"staged": 0.0, "harmonised": 0.0}
    rows = rules = 0
    passed = True
    loaded_rss = 0.0
    batches: list[tuple[str, str | None]] = [("staged", source) for source in SOURCES] + [("harmonised", None)]
    for layer, source in batches:
        if layer == "staged":
            tables = read_staged(settings, source)
        else:
            tables = {path.stem: pd.read_parquet(path) for path in sorted(directory.glob("*.parquet"))}
        loaded_rss = max(loaded_rss, process.memory_info().rss / 2**20)
        clock = time.perf_counter()
        result = validate_tables(tables, layer=layer, settings=settings, source=source, engine=engine)  # type: ignore[arg-type]
        seconds[layer] += time.perf_counter() - clock
        rows += sum(len(frame) for frame in tables.values())
        rules += len(result.summary)
        passed = passed and result.passed
        del tables, result
        gc.collect()
    queue.put(
        {
            "seconds": imported + seconds["staged"] + seconds["harmonised"],
            "gx_import_seconds": imported if engine == "great_expectations" else 0.0,
            "staged_seconds": seconds["staged"],
            "harmonised_seconds": seconds["harmonised"],
            "rows": rows,
            "rules": rules,
            "passed": passed,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "loaded_rss_mb": loaded_rss,
        }
    )


def run_engine(work: Path, engine: str) -> dict[str, Any]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_validate, args=(str(work), engine, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", choices=list(SCALES), default=list(SCALES))
    parser.add_argument("--work", type=Path, default=Path("bench-output") / "validation")
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; the fastest is kept")
    args = parser.parse_args(argv)
    for name in args.scales:
        scale = SCALES[name]
        work = args.work / name
        work.mkdir(parents=True, exist_ok=True)
        prepare(work, scale)
        gx = min((run_engine(work, "great_expectations") for _ in range(args.repeat)), key=lambda r: r["seconds"])
        reference = min((run_engine(work, "reference") for _ in range(args.repeat)), key=lambda r: r["seconds"])
        warm = gx["seconds"] - gx["gx_import_seconds"]
        line = {
            "bench": "validation",
            "scale": name,
            "families": scale["families"],
            "rows": gx["rows"],
            "rules": gx["rules"],
            "seconds": round(gx["seconds"], 2),
            "reference_seconds": round(reference["seconds"], 2),
            "ratio": round(gx["seconds"] / reference["seconds"], 2),
            "gx_import_seconds": round(gx["gx_import_seconds"], 2),
            "ratio_without_import": round(warm / reference["seconds"], 2),
            "staged_seconds": round(gx["staged_seconds"], 2),
            "harmonised_seconds": round(gx["harmonised_seconds"], 2),
            "reference_staged_seconds": round(reference["staged_seconds"], 2),
            "reference_harmonised_seconds": round(reference["harmonised_seconds"], 2),
            "peak_rss_mb": round(gx["peak_rss_mb"], 1),
            "reference_peak_rss_mb": round(reference["peak_rss_mb"], 1),
            "tables_rss_mb": round(gx["loaded_rss_mb"], 1),
            "passed": gx["passed"] and reference["passed"],
        }
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

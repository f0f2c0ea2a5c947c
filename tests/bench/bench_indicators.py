"""Indicator benchmark: every indicator family at pilot and province scale, then disclosure.

Run with ``.venv/bin/python tests/bench/bench_indicators.py [--scales pilot province] [--work DIR]``
(not collected by pytest: no ``test_`` prefix). The cohort is generated, ingested (gates off) and
harmonised once into ``--work`` (shared with the validation benchmark's layout, kept so a second
run reuses it); then, in a fresh process, the harmonised tables are read outside the clock and each
indicator family is computed, then the public disclosure rule is applied to the whole table. One
JSON line per family and one for the total::

    {"bench": "indicators", "scale", "stage", "seconds", "rows", "rows_per_s", "peak_rss_mb"}

``rows`` is the number of indicator rows produced (for the input size see ``input_rows`` on the
total line); ``peak_rss_mb`` is the process's peak so far (the tables alone: ``tables_rss_mb``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_validation import SCALES, prepare  # noqa: E402


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _compute(work: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    import pandas as pd
    import psutil

    from proximite.config import load_settings
    from proximite.indicators import FAMILIES, IndicatorParameters, compute_family
    from proximite.indicators.disclosure import apply_disclosure

    root = Path(work)
    settings = load_settings(root / "project")
    directory = Path((root / "harmonised_dir").read_text(encoding="utf-8"))
    tables = {path.stem: pd.read_parquet(path) for path in sorted(directory.glob("*.parquet"))}
    input_rows = sum(len(frame) for frame in tables.values())
    tables_rss = psutil.Process().memory_info().rss / 2**20
    parameters = IndicatorParameters.from_settings(settings)
    lines = []
    frames = []
    total_started = time.perf_counter()
    for family in FAMILIES:
        started = time.perf_counter()
        frame = compute_family(family, tables, parameters=parameters)
        seconds = time.perf_counter() - started
        frames.append(frame)
        lines.append({"stage": family, "seconds": seconds, "rows": len(frame), "peak_rss_mb": _peak_mb()})
    table = pd.concat(frames, ignore_index=True)
    started = time.perf_counter()
    disclosed = apply_disclosure(table, level="public", territory=tables["territory"])
    seconds = time.perf_counter() - started
    lines.append({"stage": "disclosure", "seconds": seconds, "rows": len(disclosed), "peak_rss_mb": _peak_mb()})
    lines.append(
        {
            "stage": "total",
            "seconds": time.perf_counter() - total_started,
            "rows": len(table),
            "input_rows": input_rows,
            "tables_rss_mb": round(tables_rss, 1),
            "peak_rss_mb": _peak_mb(),
        }
    )
    queue.put(lines)


def run(work: Path) -> list[dict[str, Any]]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_compute, args=(str(work), queue))
    process.start()
    lines = queue.get()
    process.join()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", choices=list(SCALES), default=list(SCALES))
    parser.add_argument("--work", type=Path, default=Path("bench-output") / "validation")
    args = parser.parse_args(argv)
    for name in args.scales:
        work = args.work / name
        work.mkdir(parents=True, exist_ok=True)
        prepare(work, SCALES[name])
        for line in run(work):
            seconds = line["seconds"]
            rows_per_s = round(line["rows"] / seconds, 1) if seconds > 0 else None
            record = {"bench": "indicators", "scale": name, **line, "seconds": round(seconds, 2), "rows_per_s": rows_per_s}
            print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

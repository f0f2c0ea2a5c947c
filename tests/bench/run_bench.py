"""Foundation benchmark: generate, ingest, harmonise and build at pilot and province scale.

Run with ``make bench`` (or ``.venv/bin/python tests/bench/run_bench.py --scales pilot``). Each
stage runs in a fresh process so its peak RSS is its own; one JSON line per stage is printed:
``{"bench", "scale", "stage", "seconds", "rows", "rows_per_s", "peak_rss_mb"}``.

Scales (DESIGN's performance section):
- pilot: 50 territories, 5,305 families (the pilot's calibration);
- province: 300 territories, 50,000 families (~95,000 children, ~2,000,000 activities).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synth_dates import SYNTH_AS_OF  # noqa: E402

SCALES = {
    "pilot": {"families": 5305, "territories": 50},
    "province": {"families": 50000, "territories": 300},
}
BENCH_KEY = "bench-key-not-secret"
BENCH_RAW_KEY = "5f" * 32


def _stage(stage: str, work: str, scale: dict[str, int], queue: "mp.Queue[dict[str, Any]]") -> None:
    os.environ["PROXIMITE_PSEUDONYM_KEY"] = BENCH_KEY
    os.environ.setdefault("PROXIMITE_RAW_KEY", BENCH_RAW_KEY)  # 01 raw is encrypted at rest
    from proximite import pipeline
    from proximite.config import load_settings

    root = Path(work)
    input_dir, project_dir = root / "input", root / "project"
    settings = load_settings(project_dir)
    started = time.perf_counter()
    if stage == "generate":
        from proximite.cohort.sandbox.synth import generate_cohort

        # As of a past day: the build's gate refuses a REDCap date after the pull.
        summary = generate_cohort(
            input_dir, families=scale["families"], territories=scale["territories"], as_of=SYNTH_AS_OF
        )
        rows = int(sum(value for value in summary.counts.values() if isinstance(value, int)))
    elif stage == "ingest":
        from proximite.pipeline import ingest

        result = ingest(input_dir, settings=settings)
        rows = int(sum(sum(info["rows"].values()) for info in result.summary().values()))
    elif stage == "harmonise":
        harmonised = pipeline.harmonise_staged(settings, key=BENCH_KEY.encode())
        (root / "harmonised_dir").write_text(str(harmonised), encoding="utf-8")
        import pyarrow.parquet as pq

        rows = sum(pq.ParquetFile(path).metadata.num_rows for path in harmonised.glob("*.parquet"))
    elif stage == "build":
        harmonised = Path((root / "harmonised_dir").read_text(encoding="utf-8"))
        info = pipeline.build_from_harmonised(settings, harmonised)
        rows = int(sum(info.row_counts.values()))
    else:  # pragma: no cover - guarded by STAGES
        raise ValueError(stage)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"seconds": round(seconds, 2), "rows": rows, "peak_rss_mb": round(peak_kb / 1024, 1)})


STAGES = ("generate", "ingest", "harmonise", "build")


def run(scales: list[str], workdir: Path | None, keep: bool) -> list[dict[str, Any]]:
    context = mp.get_context("spawn")
    lines = []
    for scale_name in scales:
        scale = SCALES[scale_name]
        work = Path(tempfile.mkdtemp(prefix=f"proximite-bench-{scale_name}-", dir=workdir))
        try:
            for stage in STAGES:
                queue: mp.Queue[dict[str, Any]] = context.Queue()
                process = context.Process(target=_stage, args=(stage, str(work), scale, queue))
                process.start()
                process.join()
                if process.exitcode != 0:
                    raise SystemExit(f"bench stage {stage} at {scale_name} scale failed (exit {process.exitcode})")
                figures = queue.get()
                line = {
                    "bench": "foundation",
                    "scale": scale_name,
                    "families": scale["families"],
                    "territories": scale["territories"],
                    "stage": stage,
                    **figures,
                    "rows_per_s": round(figures["rows"] / figures["seconds"]) if figures["seconds"] else None,
                }
                print(json.dumps(line), flush=True)
                lines.append(line)
        finally:
            if not keep:
                shutil.rmtree(work, ignore_errors=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="pilot,province", help="comma-separated: pilot, province")
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the scratch directories")
    parser.add_argument("--keep", action="store_true", help="keep the generated inputs and project")
    args = parser.parse_args(argv)
    scales = [name.strip() for name in args.scales.split(",") if name.strip()]
    unknown = [name for name in scales if name not in SCALES]
    if unknown:
        parser.error(f"unknown scale(s): {', '.join(unknown)}")
    run(scales, args.workdir, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())

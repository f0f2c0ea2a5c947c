"""Benchmark of the REDCap pull through PyCap against the sandbox (not collected by pytest).

For each scale it serves the synthetic cohort from the sandbox, then prints one JSON line per
stage:

- ``full_pull``: seconds, records/s and rows/s of a full pull (batches of ``--batch-size``);
- ``incremental_pull``: after changing 1 % of the records through PyCap (their inclusion form and
  T0 follow-up), the seconds of the incremental pull and its share of the full pull's (DESIGN's
  target: ≤ 5 %).

Run::

    .venv/bin/python tests/bench/bench_redcap_pull.py [--scales pilot province] [--batch-size 500]

The sandbox runs in this process (a thread), so ``peak_rss_mb`` counts the served project too.
Scales as in ``run_bench.py``: pilot (5,305 families, 50 territories), province (50,000
families, 300 territories). ``--input-root DIR`` keeps generated cohorts between runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCALES = {
    "pilot": {"families": 5305, "territories": 50},
    "province": {"families": 50000, "territories": 300},
}
CHANGED_SHARE = 0.01
TARGET_SHARE = 0.05


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _emit(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


def _input_dir(root: Path, name: str, scale: dict[str, int]) -> Path:
    from proximite.cohort.sandbox.synth import generate_cohort

    target = root / f"cohort-{name}"
    if not (target / "redcap" / "records.csv").is_file():
        started = time.perf_counter()
        generate_cohort(target, families=scale["families"], territories=scale["territories"])
        _emit({"bench": "redcap_pull", "scale": name, "stage": "generate", "seconds": round(time.perf_counter() - started, 2)})
    return target


def _change_records(server: Any, share: float) -> int:
    """Change ``share`` of the records through PyCap (imports of 500 rows): the answers of
    :func:`e2e_inputs.record_changes` (inclusion form and T0 follow-up, a coordinator's week of data
    entry). Returns the number of families changed."""
    import redcap

    from e2e_inputs import record_changes

    rows = record_changes(server.project.records, share)
    project = redcap.Project(server.url, server.token)
    for start in range(0, len(rows), 500):
        project.import_records(rows[start : start + 500])
    return sum(1 for row in rows if row["redcap_event_name"] == "inclusion_arm_1")


def bench_scale(name: str, input_dir: Path, work: Path, *, batch_size: int) -> list[dict[str, Any]]:
    from proximite.cohort.redcap.loaders import project_from_directory
    from proximite.cohort.sandbox.server import SandboxServer
    from proximite.pipeline import pull_redcap
    from proximite.config import load_settings

    os.environ.setdefault("PROXIMITE_RAW_KEY", "5f" * 32)  # 01 raw is encrypted at rest (a bench key)
    lines = []
    project = project_from_directory(input_dir)
    with SandboxServer(project) as server:
        # Records last changed a day ago: an incremental pull then fetches only the changes.
        earlier = (dt.datetime.now() - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
        server.project.modified.update({str(r): earlier for r in server.project.records["record_id"].unique()})
        settings = load_settings(work / f"project-{name}")
        full = pull_redcap(server.url, token=server.token, settings=settings, batch_size=batch_size)
        rows = sum(full.rows.values())
        line = {
            "bench": "redcap_pull", "scale": name, "stage": "full_pull", "seconds": round(full.seconds, 2),
            "records": full.records, "rows": rows, "records_per_s": round(full.records / full.seconds, 1),
            "rows_per_s": round(rows / full.seconds, 1), "requests": full.requests, "batch_size": batch_size,
            "peak_rss_mb": _peak_rss_mb(),
        }
        lines.append(line)
        _emit(line)

        changed = _change_records(server, CHANGED_SHARE)
        incremental = pull_redcap(server.url, token=server.token, settings=settings, batch_size=batch_size)
        share = incremental.seconds / full.seconds
        line = {
            "bench": "redcap_pull", "scale": name, "stage": "incremental_pull", "seconds": round(incremental.seconds, 2),
            "records_changed": changed, "records": incremental.records, "requests": incremental.requests,
            "share_of_full": round(share, 4), "target_share": TARGET_SHARE, "meets_target": share <= TARGET_SHARE,
            "peak_rss_mb": _peak_rss_mb(),
        }
        lines.append(line)
        _emit(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", choices=sorted(SCALES), default=["pilot", "province"])
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--input-root", type=Path, default=None, help="Where generated cohorts are kept (default: a temporary folder).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="proximite-bench-redcap-") as temporary:
        work = Path(temporary)
        root = args.input_root or work
        root.mkdir(parents=True, exist_ok=True)
        for name in args.scales:
            bench_scale(name, _input_dir(root, name, SCALES[name]), work, batch_size=args.batch_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())

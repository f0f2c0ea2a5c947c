"""A run of the end-to-end benchmark (``bench_e2e.py``) at the demo scale, ~3 minutes.

Marked ``bench`` (not run by ``make test``): ``.venv/bin/python -m pytest -m bench
tests/bench/test_e2e_bench.py``. Its measuring parts have quick tests of their own in
``tests/unit/test_bench_e2e_harness.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.bench
def test_the_benchmark_runs_end_to_end_at_the_demo_scale(tmp_path: Path) -> None:
    script = Path(__file__).with_name("bench_e2e.py")
    reference = tmp_path / "reference"
    command = [
        sys.executable, str(script), "--scales", "demo", "--cache-dir", str(tmp_path / "cache"), "--work-dir", str(tmp_path / "work"),
        "--save-reference", str(reference), "--compare-with", str(reference),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = {line["stage"]: line for line in map(json.loads, done.stdout.splitlines())}
    assert lines["generate"]["rows"] > 0 and lines["duckdb_scan"]["rows"] > 0
    assert lines["indicators_identical"]["identical"] is True  # saved, then compared with itself
    for stage in ("pull_registry/ingest-redcap", "validate/harmonise", "build/build", "indicators/indicator-fanout", "snapshot/snapshot", "total"):
        line = lines[stage]
        assert line["seconds"] > 0 and line["peak_rss_mb"] > 0 and line["cpu_percent"] is not None, line
    assert lines["indicators/indicator-fanout"]["units"] > 1
    assert lines["total"]["seconds"] >= sum(line["seconds"] for name, line in lines.items() if "/" in name)
    assert lines["total"]["indicators_identical"] is True
    assert lines["total_over_scan"]["ratio"] == pytest.approx(lines["total"]["seconds"] / lines["duckdb_scan"]["seconds"], rel=0.01)

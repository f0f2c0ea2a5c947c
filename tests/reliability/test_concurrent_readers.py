"""Eight readers while the warehouse is rebuilt at the pilot's scale: none sees a half-built warehouse, none fails.

The rebuilds are `proximite build` commands in another process (harmonise, the harmonised gate,
a new database beside the old one, one rename); the readers are processes too (DuckDB shares a
database instance per file within a process, so threads would not show what a second user
sees): two of each kind of :mod:`concurrent_reader`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synth_dates import SYNTH_AS_OF

from proximite.cohort.warehouse import current_build
from proximite.config import load_settings
from tests.flows.conftest import fast_project

READER = Path(__file__).with_name("concurrent_reader.py")
KINDS = ("panel", "query", "snapshot", "status")
REBUILDS = 3


def _proximite(*args: str) -> None:
    done = subprocess.run([str(Path(sys.executable).with_name("proximite")), *args], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"proximite {' '.join(args)}: {done.stdout[-2000:]} {done.stderr[-2000:]}"


@pytest.mark.journey
def test_readers_never_see_a_half_built_warehouse_while_it_is_rebuilt(tmp_path: Path, pseudonym_env: bytes) -> None:
    from proximite.cohort.sandbox.synth import generate_cohort

    generate_cohort(tmp_path / "input", families=5305, territories=50, seed=11, as_of=SYNTH_AS_OF)
    project = fast_project(tmp_path / "project")
    _proximite("ingest", str(tmp_path / "input"), "--project-dir", str(project))
    _proximite("build", "--project-dir", str(project))
    first = current_build(load_settings(project))
    assert first is not None

    stop = tmp_path / "stop"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    readers = [
        subprocess.Popen([sys.executable, str(READER), kind, str(project), str(stop), str(tmp_path / f"reader-{number}")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for number, kind in enumerate(KINDS * 2)
    ]
    try:
        time.sleep(5)  # every reader under way before the first rename
        for _ in range(REBUILDS):
            _proximite("build", "--project-dir", str(project))
    finally:
        stop.write_text("done", encoding="utf-8")
        outputs = [reader.communicate(timeout=900) for reader in readers]
    reports = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]

    last = current_build(load_settings(project))
    assert last is not None and last.build_id != first.build_id
    for report, (_, stderr) in zip(reports, outputs):
        assert report["problems"] == [], (report, stderr[-2000:])
        assert report["reads"] >= 1, report
    # The readers did read across the rebuilds: several builds seen in all.
    seen = set().union(*(report["builds"] for report in reports))
    assert len(seen) >= 2, reports

"""Journey: an ingest killed while staging → `proximite status` lists what it left → the next
`proximite ingest` removes it and succeeds → `proximite status` lists nothing left.

The ingest runs as a real `proximite` process, killed with SIGKILL (no clean-up of its own can
run) as soon as its hidden staging folder appears.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.flows.conftest import fast_project

PROXIMITE = str(Path(sys.executable).with_name("proximite"))


def _env() -> dict[str, str]:
    # Wide enough that paths are not folded; no colour codes in the output read back.
    return {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([PROXIMITE, *args], env=_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


def _kill_while_staging(input_dir: Path, project: Path) -> list[Path]:
    """Start `proximite ingest`, SIGKILL it once a `.partial` staging folder exists; return those folders."""
    staged = project / "data" / "02_staged"
    process = subprocess.Popen(
        [PROXIMITE, "ingest", str(input_dir), "--project-dir", str(project)],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    partial: list[Path] = []
    try:
        while time.monotonic() < deadline and process.poll() is None:
            partial = list(staged.glob("*/.*.partial")) if staged.is_dir() else []
            if partial:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        if process.poll() is None and not partial:
            process.kill()
        process.wait(timeout=60)  # reaped: its process id is gone
    assert process.returncode == -signal.SIGKILL, f"the ingest ended on its own ({process.returncode}) before it was killed"
    return partial


def test_a_killed_ingest_is_listed_then_cleaned_by_the_next_one(flow_input: Path, tmp_path: Path) -> None:
    project = fast_project(tmp_path / "project")
    started = time.monotonic()
    partial = _kill_while_staging(flow_input, project)
    killed_pull = partial[0].name.removeprefix(".").removesuffix(".partial")
    raw_folders = sorted((project / "data" / "01_raw").glob(f"*/{killed_pull}"))
    assert raw_folders, "the killed ingest copied nothing into 01 raw"
    for folder in raw_folders:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["in_progress"] is True and manifest["staged"] is False
    assert (project / "data" / "02_staged" / "redcap" / "LATEST").exists() is False

    # The coordinator asks what happened: every leftover is listed, by kind, source and pull.
    status = _run("status", "--project-dir", str(project)).stdout
    assert "Left by interrupted runs" in status
    for path in [*partial, *raw_folders]:
        [line] = [line for line in status.splitlines() if str(path) in line]
        assert killed_pull in line and "is gone" in line

    # The next ingest removes them first (and says how many, never what they held), then succeeds.
    ingest = _run("ingest", str(flow_input), "--project-dir", str(project))
    logged = ingest.stderr + ingest.stdout
    assert f"{len(raw_folders)} unfinished raw pull(s) and {len(partial)} staging temporary(ies) removed" in logged
    assert not any(path.exists() for path in [*partial, *raw_folders])
    good_pull = (project / "data" / "02_staged" / "redcap" / "LATEST").read_text(encoding="utf-8").strip()
    assert good_pull != killed_pull
    manifest = json.loads((project / "data" / "01_raw" / "redcap" / good_pull / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["staged"] is True and "in_progress" not in manifest and "process" not in manifest

    status = _run("status", "--project-dir", str(project)).stdout
    assert "Left by interrupted runs" not in status and killed_pull not in status
    assert f"{good_pull} *" in status
    print(f"journey: killed ingest, status, clean ingest, status in {time.monotonic() - started:.1f} s")

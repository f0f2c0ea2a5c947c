"""The rule for what a killed run left: which raw folders and staging temporaries go, which stay."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proximite.cohort.layers import RAW, STAGED
from proximite.cohort.leftovers import GRACE_SECONDS, IN_PROGRESS, clean_leftovers, find_leftovers
from proximite.cohort.raw import MANIFEST_NAME, write_manifest
from proximite.cohort.status import interrupted_leftovers
from proximite.config import load_settings


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _raw(settings, source: str, pull_id: str, *, manifest: dict | None) -> Path:
    folder = settings.data_dir / RAW / source / pull_id
    folder.mkdir(parents=True)
    (folder / "records.csv").write_text("record_id\n1\n", encoding="utf-8")
    if manifest is not None:
        (folder / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def _partial(settings, source: str, pull_id: str) -> Path:
    folder = settings.data_dir / STAGED / source / f".{pull_id}.partial"
    folder.mkdir(parents=True)
    (folder / "enfant.parquet").write_bytes(b"PAR1")
    return folder


def _in_progress(pid: int, host: str | None = None) -> dict:
    return {"pull_id": "x", "staged": False, "error": IN_PROGRESS, "in_progress": True,
            "process": {"pid": pid, "host": host or socket.gethostname()}}


@pytest.fixture()
def project(tmp_path: Path):
    """A project holding one of each case; returns its settings and the expected verdicts."""
    settings = load_settings(tmp_path / "project")
    dead, alive = _dead_pid(), os.getpid()
    removed = {
        _raw(settings, "redcap", "P1-killed", manifest=_in_progress(dead)),
        _partial(settings, "redcap", "P1-killed"),
        _raw(settings, "registry", "P2-old-no-manifest", manifest=None),
        _raw(settings, "redcap", "P3-old-legacy", manifest={"staged": False, "error": IN_PROGRESS}),
        _partial(settings, "registry", "P4-finished"),  # its pull failed and left it
    }
    finished = settings.data_dir / RAW / "registry" / "P4-finished"
    finished.mkdir(parents=True)
    write_manifest(finished, source="registry", pull_id="P4-finished", received_at="2026-01-01T00:00:00Z",
                   parameters={}, files=[], staged=False, error="bad file")
    temporary = settings.data_dir / STAGED / "redcap" / ".LATEST.P1-killed.tmp"
    temporary.write_text("P1-killed\n", encoding="utf-8")
    removed.add(temporary)
    kept = {
        finished,  # a finished (failed) pull: never touched
        _raw(settings, "redcap", "P5-staged", manifest={"staged": True, "error": None}),
        _raw(settings, "redcap", "P6-live", manifest=_in_progress(alive)),
        _partial(settings, "redcap", "P6-live"),
        _raw(settings, "redcap", "P7-other-host", manifest=_in_progress(dead, host="another-machine.invalid")),
        _raw(settings, "cost", "P8-current", manifest=None),  # the run asking
        _partial(settings, "cost", "P8-current"),
    }
    return settings, removed, kept


def test_the_rule_removes_only_abandoned_runs(project) -> None:
    settings, removed, kept = project
    later = time.time() + GRACE_SECONDS + 60  # every folder without a process to ask is old enough
    found = {item.path for item in find_leftovers(settings, current_pull="P8-current", now=later)}
    assert found == removed
    assert not found & kept

    # Right after the kill, only what names a dead process is abandoned: a folder without a
    # process to ask about may belong to a run still starting.
    recent = {item.path.name for item in find_leftovers(settings, current_pull="P8-current")}
    assert recent == {"P1-killed", ".P1-killed.partial", ".LATEST.P1-killed.tmp", ".P4-finished.partial"}


def test_cleaning_removes_them_logs_counts_and_keeps_the_rest(project, caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    settings, removed, kept = project
    monkeypatch.setattr("proximite.cohort.leftovers.GRACE_SECONDS", 0)
    with caplog.at_level(logging.WARNING, logger="proximite.cohort.leftovers"):
        result = clean_leftovers(settings, current_pull="P8-current")
    assert result.removed == {"unfinished raw pull": 3, "staging temporary": 3} and result.failed == []
    assert not any(path.exists() for path in removed)
    assert all(path.exists() for path in kept)
    assert (settings.data_dir / RAW / "registry" / "P4-finished" / MANIFEST_NAME).is_file()
    [message] = [record.getMessage() for record in caplog.records]
    assert "3 unfinished raw pull(s) and 3 staging temporary(ies) removed, 0 could not be removed" in message
    assert "record_id" not in message and "P1-killed" not in message  # counts, never contents


def test_what_cannot_be_removed_stays_listed_by_status(project) -> None:
    settings, _removed, _kept = project

    def refuse(path: Path) -> None:
        if path.name == "P1-killed":
            raise PermissionError(13, "Permission denied", str(path))
        import shutil

        shutil.rmtree(path) if path.is_dir() else path.unlink()

    result = clean_leftovers(settings, current_pull="P8-current", remove=refuse)
    assert [(item.path.name, why) for item, why in result.failed] == [("P1-killed", "PermissionError")]
    listed = interrupted_leftovers(settings)
    assert [(entry["kind"], entry["source"], entry["pull_id"]) for entry in listed] == [
        ("unfinished raw pull", "redcap", "P1-killed")
    ]
    assert "process" in listed[0]["reason"] and "is gone" in listed[0]["reason"]

"""`proximite status` on a small project: the last pulls, the current build, the last snapshot, quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort.status import project_status
from proximite.config import load_settings
from tests.flows.conftest import fast_project

runner = CliRunner()


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.output


def test_status_of_an_empty_project_says_what_to_do(tmp_path: Path) -> None:
    output = _invoke("status", "--project-dir", str(tmp_path / "nothing-yet"))
    assert "Nothing in" in output and "proximite ingest" in output and "proximite build" in output


def test_status_lists_pulls_build_snapshot_and_quarantine(
    flow_input: Path, tmp_path: Path, pseudonym_env: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proximite.cli import common

    # Wide enough that rich does not fold ids across lines.
    monkeypatch.setattr(common.console, "width", 200)
    project = fast_project(tmp_path / "project")
    _invoke("ingest", str(flow_input), "--project-dir", str(project))
    _invoke("build", "--project-dir", str(project))
    state = project_status(load_settings(project))
    build = state["build"]
    # The synthetic input holds every source: the four required and the optional ones (questionnaires, qualitative).
    from proximite.cohort.layers import ALL_SOURCES

    assert build is not None and sorted(pull["source"] for pull in state["pulls"]) == sorted(ALL_SOURCES)

    output = _invoke("status", "--project-dir", str(project))
    for pull in state["pulls"]:
        # One line per pull: source, id (marked as the one the next build uses), rows, mode, outcome.
        [line] = [line for line in output.splitlines() if pull["pull_id"] in line and f" {pull['source']} " in line]
        assert f"{pull['pull_id']} *" in line
        assert f"{pull['rows']:,}" in line and "files" in line and "staged" in line
    assert f"Warehouse build {build['build_id']}" in output
    assert f"{build['row_counts']['family']:,}" in output and f"{build['row_counts']['activity']:,}" in output
    assert "Snapshot: none written yet" in output
    assert "Quarantined batches: none." in output

    # A snapshot and a refused batch appear once they exist.
    settings = load_settings(project)
    folder = settings.reporting_dir / "snapshot-2026-01-05"
    folder.mkdir(parents=True)
    (folder / "index.html").write_text("<html></html>", encoding="utf-8")
    manifest = {"data_version": build["build_id"], "generated_at": "2026-01-05T06:03:00-05:00", "scope": "quebec", "disclosure": {"level": "public"}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (settings.data_dir / "quarantine" / "20260105T110000Z-0000aa").mkdir(parents=True)

    output = _invoke("status", "--project-dir", str(project), "--limit", "2")
    assert len([line for line in output.splitlines() if any(pull["pull_id"] in line for pull in state["pulls"])]) == 2
    assert str(folder / "index.html") in output.replace("\n", "")
    assert "level public" in output and f"build {build['build_id']}" in output
    assert "Quarantined batches: 1" in output and "20260105T110000Z-0000aa" in output


def test_status_shows_a_gate_refusal_with_its_quarantine_and_report(
    flow_input: Path, tmp_path: Path, pseudonym_env: bytes
) -> None:
    import shutil

    import pandas as pd

    project = fast_project(tmp_path / "project")
    broken = tmp_path / "broken"
    shutil.copytree(flow_input, broken)
    activity_file = sorted(path for path in (broken / "registry" / "activities").glob("*.csv") if not path.with_suffix(".mapping.yaml").exists())[0]
    activities = pd.read_csv(activity_file, dtype=str, keep_default_na=False)
    activities.loc[0, "minutes"] = "-30"
    activities.to_csv(activity_file, index=False)
    result = runner.invoke(app, ["ingest", str(broken), "--project-dir", str(project)])
    assert result.exit_code != 0

    output = _invoke("status", "--project-dir", str(project)).replace("\n", "")
    [folder] = [path for path in (project / "data" / "quarantine").glob("*/registry")]
    assert "staged gate refused registry pull " + folder.parent.name in output
    assert "1 failing row(s) break 1 rule(s) (staged.activity.minutes.between)" in output
    assert f"quarantine: {folder}" in output and f"report: {folder / 'report' / 'report.html'}" in output
    assert "-30" not in output

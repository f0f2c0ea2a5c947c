"""Errors by cause: what another try cannot cure stops a pull at once, in terms a coordinator can act on.

Each journey serves a project from the sandbox that differs from the cohort's in one way and
pulls it (through the function, or as a coordinator types ``proximite pull redcap``):

- project information without ``project_id``: refused after one request, no retries, no
  ``--batch-size`` advice;
- a project that is not the cohort's: the cohort forms it lacks are listed, no record is asked for;
- a classic project: refused after the project information;
- a longitudinal project without its form–event mapping: refused at once, saying where REDCap
  sets it;
- a project folder lacking its structure files: ``proximite sandbox`` refuses to serve it.

Every message keeps the token out; the CLI exits 1 without a traceback.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort.ingest import MANIFEST_NAME
from proximite.cohort.layers import latest_pull
from proximite.cohort.redcap.errors import RedcapPullError
from proximite.cohort.redcap.loaders import project_from_directory
from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.sandbox.server import SandboxServer
from proximite.config import load_settings
from proximite.errors import InputError
from proximite.pipeline import pull_redcap

FAST = {"backoff_seconds": 0.5, "timeout_seconds": 10, "retries": 5}
runner = CliRunner()


def _refused(server: SandboxServer, tmp_path: Path) -> tuple[str, int, float, Path]:
    """Pull and expect a refusal: its message, the requests the server got, the seconds, the raw folder."""
    settings = load_settings(tmp_path / "project")
    before, started = server.requests, time.monotonic()
    with pytest.raises(RedcapPullError) as error:
        pull_redcap(server.url, token=server.token, settings=settings, **FAST)
    seconds = time.monotonic() - started
    message = str(error.value)
    assert server.token not in message
    raw = error.value.raw_dir
    manifest = json.loads((raw / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["staged"] is False and manifest["error"] == message
    assert latest_pull(settings, "redcap") is None
    return message, server.requests - before, seconds, raw


def _without_forms(project: RedcapProject, forms: set[str]) -> RedcapProject:
    """The project without ``forms``: its dictionary, mapping, repeating setup and records rows."""
    changed = project.copy()
    changed.metadata = changed.metadata[~changed.metadata["form_name"].isin(forms)].reset_index(drop=True)
    changed.form_event_mapping = changed.form_event_mapping[~changed.form_event_mapping["form"].isin(forms)]
    repeating = changed.repeating_forms_events
    changed.repeating_forms_events = repeating[~repeating["form_name"].isin(forms)].reset_index(drop=True)
    changed.records = changed.records[~changed.records["redcap_repeat_instrument"].isin(forms)].reset_index(drop=True)
    return changed


def test_project_information_without_project_id_is_refused_at_once(sandbox_project: RedcapProject, tmp_path: Path) -> None:
    project = sandbox_project.copy()
    del project.info["project_id"]
    with SandboxServer(project) as server:
        message, requests, seconds, _ = _refused(server, tmp_path)
    assert requests == 1, "a missing project field is not retried"
    assert seconds < 5, f"refused in {seconds:.1f} s: no backoff"
    assert message.startswith("project information: the answer has no project_id field, which REDCap always sends")
    assert "not retried" in message and "/api/" in message
    assert "batch-size" not in message and "tries" not in message


def test_a_project_that_is_not_the_cohort_one_lists_the_forms_it_lacks(sandbox_project: RedcapProject, tmp_path: Path) -> None:
    with SandboxServer(_without_forms(sandbox_project, {"besoin", "reference", "sortie"})) as server:
        message, _, _, raw = _refused(server, tmp_path)
    assert "is not the cohort project" in message
    assert "lacks the cohort form(s) besoin, reference, sortie (it has famille, enfant, suivi)" in message
    assert "redcap_repeat_instrument" not in message
    assert "codebook export --format redcap-xml" in message
    assert not list(raw.glob("records_*.csv")) and not (raw / "record_ids.csv").exists(), "no record is asked for"


def test_cohort_forms_that_do_not_repeat_are_named(sandbox_project: RedcapProject, tmp_path: Path) -> None:
    project = sandbox_project.copy()
    project.repeating_forms_events = project.repeating_forms_events.iloc[0:0]
    project.info["has_repeating_instruments_or_events"] = 0
    project.records = project.records[project.records["redcap_repeat_instrument"] == ""].reset_index(drop=True)
    with SandboxServer(project) as server:
        message, _, _, _ = _refused(server, tmp_path)
    assert "enfant (at inclusion_arm_1), besoin (at accompagnement_arm_1), reference (at accompagnement_arm_1)" in message
    assert "do not repeat" in message and "Repeating instruments and events" in message


def test_a_classic_project_is_refused_after_its_information(sandbox_project: RedcapProject, tmp_path: Path) -> None:
    project = sandbox_project.copy()
    project.events = project.events.iloc[0:0]
    with SandboxServer(project) as server:
        message, requests, _, _ = _refused(server, tmp_path)
    assert requests == 1
    assert "is a classic project, without events" in message and "inclusion_arm_1" in message


def test_a_longitudinal_project_without_its_form_event_mapping_is_refused_at_once(
    sandbox_project: RedcapProject, tmp_path: Path
) -> None:
    project = sandbox_project.copy()
    project.form_event_mapping = pd.DataFrame({"arm_num": [], "unique_event_name": [], "form": []}, dtype=object)
    with SandboxServer(project) as server:
        message, requests, seconds, _ = _refused(server, tmp_path)
    assert message.startswith("formEventMapping: the answer is empty: the project designates no instrument for its events")
    assert "Designate instruments for my events" in message and "batch-size" not in message
    assert requests == 5 and seconds < 5, "info, metadata, arms, events, mapping: each once"


def test_pull_redcap_prints_the_refusal_without_a_traceback_or_the_token(
    sandbox_project: RedcapProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SandboxServer(_without_forms(sandbox_project, {"sortie"})) as server:
        monkeypatch.setenv("SANDBOX_TOKEN", server.token)
        result = runner.invoke(
            app,
            ["pull", "redcap", "--url", server.url, "--token-env", "SANDBOX_TOKEN", "--project-dir", str(tmp_path / "p")],
        )
    assert result.exit_code == 1
    output = result.output
    assert "error:" in output and "lacks the cohort form(s) sortie" in output
    assert "Traceback" not in output and server.token not in output
    assert isinstance(result.exception, SystemExit), "the error is printed, not raised"


def test_the_sandbox_refuses_a_folder_without_its_structure_files(sandbox_project_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(sandbox_project_dir / "redcap", folder)
    (folder / "form_event_mapping.csv").unlink()
    (folder / "repeating_forms_events.csv").unlink()
    with pytest.raises(InputError) as error:
        project_from_directory(folder)
    assert error.value.path == str(folder / "form_event_mapping.csv")
    assert "2 structure files are missing" in str(error.value)

    result = runner.invoke(app, ["sandbox", "--project", str(folder), "--port", "0"])
    assert result.exit_code == 1
    assert "form_event_mapping.csv" in result.output and "repeating_forms_events.csv" in result.output
    assert "Traceback" not in result.output


def test_the_sandbox_refuses_records_with_events_but_no_events_file(sandbox_project_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in ("data_dictionary.csv", "records.csv"):
        shutil.copy(sandbox_project_dir / "redcap" / name, folder / name)
    with pytest.raises(InputError) as error:
        project_from_directory(folder)
    message = str(error.value)
    assert error.value.path == str(folder / "events.csv")
    assert "records.csv has redcap_event_name" in message and "3 structure files are missing" in message

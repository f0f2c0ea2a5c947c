"""The yearly questionnaires pulled through the same REDCap path as the cohort (PyCap, the sandbox).

Each questionnaire is its own REDCap survey project: the synthetic cohort's ``partner_survey/``
and ``staff_survey/`` folders are served by the sandbox as REDCap serves a project, and
``proximite pull redcap --survey <name>`` stages them into their own data layer, with their own
watermark and the staged gate, exactly as an ingest of the same export would type them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort.layers import latest_pull, read_staged, staged_dir
from proximite.cohort.redcap.errors import RedcapPullError
from proximite.cohort.redcap.loaders import project_from_directory
from proximite.cohort.redcap.watermark import WATERMARK_NAME
from proximite.cohort.sandbox.server import SandboxServer
from proximite.config import load_settings
from proximite.pipeline import ingest, pull_redcap

FAST = {"backoff_seconds": 0.001, "pause_seconds": 0.0, "timeout_seconds": 10, "batch_size": 25, "retries": 1}


def _aged(server: SandboxServer) -> SandboxServer:
    """Every record last changed an hour ago: a pull right after loading sees no change as new."""
    earlier = (dt.datetime.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    records = server.project.records
    server.project.modified.update({str(record): earlier for record in records[records.columns[0]].unique()})
    return server


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """A staged form without the provenance of its rows (batch files and rows differ from a file's)."""
    return frame.drop(columns=["source_row"]).sort_values(["record_id", "redcap_event_name"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("survey", ["partner_survey", "staff_survey"])
def test_a_questionnaire_pulled_from_redcap_stages_as_its_export_does(sandbox_project_dir: Path, tmp_path: Path, survey: str) -> None:
    pulled = load_settings(tmp_path / "pulled")
    with SandboxServer(project_from_directory(sandbox_project_dir / survey)) as server:
        _aged(server)
        first = pull_redcap(server.url, token=server.token, settings=pulled, source=survey, **FAST)
        again = pull_redcap(server.url, token=server.token, settings=pulled, source=survey, **FAST)
    assert first.mode == "full" and first.raw_dir.parent.name == survey and first.records > 0
    assert again.mode == "incremental" and again.records == 0 and latest_pull(pulled, survey) == again.pull_id
    assert json.loads((staged_dir(pulled, survey, again.pull_id) / WATERMARK_NAME).read_text())["mode"] == "incremental"
    assert latest_pull(pulled, "redcap") is None  # the cohort's layer is untouched
    assert (pulled.reporting_dir / "validation" / f"staged-{survey}.json").is_file()  # the staged gate ran
    ingested = load_settings(tmp_path / "ingested")
    ingest(sandbox_project_dir, settings=ingested, sources=[survey])
    by_pull, by_file = read_staged(pulled, survey), read_staged(ingested, survey)
    assert set(by_pull) == set(by_file)
    for form in by_file:
        pd.testing.assert_frame_equal(_comparable(by_pull[form]), _comparable(by_file[form]), check_dtype=False)
        assert not {"rep_nom", "rep_courriel", "commentaires"} & set(by_pull[form].columns)


def test_the_cohorts_token_is_refused_for_a_questionnaire(redcap_sandbox, tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "project")
    with pytest.raises(RedcapPullError) as caught:
        pull_redcap(redcap_sandbox.url, token=redcap_sandbox.token, settings=settings, source="partner_survey", **FAST)
    message = str(caught.value)
    assert "not the partner questionnaire project" in message and "organisme, partenaire" in message
    assert "proximite codebook export --project partner_survey" in message and redcap_sandbox.token not in message
    assert latest_pull(settings, "partner_survey") is None


def test_the_command_pulls_a_questionnaire(sandbox_project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    with SandboxServer(project_from_directory(sandbox_project_dir / "staff_survey")) as server:
        monkeypatch.setenv("SURVEY_TOKEN", server.token)
        arguments = ["pull", "redcap", "--url", server.url, "--token-env", "SURVEY_TOKEN", "--project-dir", str(project),
                     "--survey", "staff_survey"]
        result = CliRunner().invoke(app, arguments)
        refused = CliRunner().invoke(app, [*arguments[:-1], "registry"])
    assert result.exit_code == 0, result.output
    assert "Pulled the PTP and manager questionnaire project (staged as staff_survey)." in " ".join(result.output.split())
    assert "(full)" in result.output
    assert server.token not in result.output
    assert latest_pull(load_settings(project), "staff_survey") is not None
    assert refused.exit_code != 0 and "partner_survey and staff_survey" in refused.output

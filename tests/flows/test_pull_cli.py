"""`proximite pull redcap` against the sandbox: staged tables, incremental by default, token never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort import layers
from proximite.config import load_settings

runner = CliRunner()


def test_pull_redcap_stages_the_cohort_then_pulls_incrementally(
    redcap_sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_TOKEN", redcap_sandbox.token)
    project = tmp_path / "project"
    arguments = ["pull", "redcap", "--url", redcap_sandbox.url, "--token-env", "SANDBOX_TOKEN", "--project-dir", str(project)]

    first = runner.invoke(app, [*arguments, "--batch-size", "7"])
    assert first.exit_code == 0, first.output
    assert "(full)" in first.output
    settings = load_settings(project)
    staged = layers.read_staged(settings, "redcap")
    families = redcap_sandbox.project.records["record_id"].nunique()
    assert staged["famille"]["record_id"].nunique() == families

    second = runner.invoke(app, arguments)
    assert second.exit_code == 0, second.output
    assert "(incremental)" in second.output and "0 records fetched" in second.output
    assert redcap_sandbox.token not in first.output + second.output


def test_a_wrong_token_fails_clearly_without_showing_it(redcap_sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("SANDBOX_TOKEN", wrong)
    result = runner.invoke(
        app, ["pull", "redcap", "--url", redcap_sandbox.url, "--token-env", "SANDBOX_TOKEN", "--project-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "error:" in result.output
    assert wrong not in result.output
    assert layers.latest_pull(load_settings(tmp_path), "redcap") is None


def test_a_missing_token_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN_VAR", raising=False)
    result = runner.invoke(
        app, ["pull", "redcap", "--url", "http://127.0.0.1:9/api/", "--token-env", "NO_SUCH_TOKEN_VAR", "--project-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "NO_SUCH_TOKEN_VAR" in result.output

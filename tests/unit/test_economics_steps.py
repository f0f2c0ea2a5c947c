"""Which parameter files an economics run reads: given, else the project's configuration, else the shipped ones."""

from __future__ import annotations

from pathlib import Path

from proximite.pipeline.economics import economics_parameter_files
from proximite.config import load_settings


def test_parameter_files_given_then_configured_then_shipped(tmp_path: Path) -> None:
    plain = load_settings(tmp_path / "plain")
    assert economics_parameter_files(plain) == (None, None)

    project = tmp_path / "project"
    project.mkdir()
    (project / "proximite.toml").write_text('[economics]\nparams = "params/benefits.yaml"\ncosting_params = "/srv/costing.yaml"\n', encoding="utf-8")
    settings = load_settings(project)
    assert economics_parameter_files(settings) == (str(project / "params" / "benefits.yaml"), "/srv/costing.yaml")
    # Given on the command line: used as given (relative to where the command runs).
    assert economics_parameter_files(settings, "mine.yaml", None) == ("mine.yaml", "/srv/costing.yaml")

"""`proximite economics run` and the ``economics`` flow on a small built project.

The flow draws the PSA in seeded chunks on its task runner; with the same seed and chunk size it
gives exactly what the command gives in one process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from proximite.cli import app
from tests.flows.conftest import fast_project

KEY = "test-key-not-secret-0123456789abcdef"
ECONOMICS = Path(__file__).resolve().parents[2] / "economics" / "params"


@pytest.fixture(scope="module")
def project(flow_input: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    mp = pytest.MonkeyPatch()
    mp.setenv("PROXIMITE_PSEUDONYM_KEY", KEY)
    try:
        directory = fast_project(tmp_path_factory.mktemp("economics") / "project")
        for args in (["ingest", str(flow_input), "--project-dir", str(directory)], ["build", "--project-dir", str(directory)]):
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 0, result.output
        return directory
    finally:
        mp.undo()


def _signed_off(source: Path, target: Path) -> Path:
    """A copy of a parameter file where every value has a source, a year and placeholder: false."""

    def sign(node: object) -> object:
        if isinstance(node, dict):
            if "placeholder" in node:
                node = {**node, "placeholder": False, "source": "Test source, table 1", "year": 2024}
            return {key: sign(value) for key, value in node.items()}
        if isinstance(node, list):
            return [sign(item) for item in node]
        return node

    target.write_text(yaml.safe_dump(sign(yaml.safe_load(source.read_text(encoding="utf-8"))), allow_unicode=True), encoding="utf-8")
    return target


@pytest.mark.journey
def test_economics_run_prints_costs_per_outcome_npv_bcr_psa_and_writes_the_tornado(project: Path) -> None:
    result = CliRunner().invoke(app, ["economics", "run", "--project-dir", str(project), "--draws", "1000", "--chunk", "250"])
    assert result.exit_code == 0, result.output
    for text in ("per family reached", "per need met", "PV costs", "NPV", "BCR", "P(BCR > 1) =", "NOT PUBLISHABLE", "Tornado chart:"):
        assert text in result.output, text
    [directory] = list((project / "reporting" / "economics").iterdir())
    summary = json.loads((directory / "economics.json").read_text(encoding="utf-8"))
    assert summary["publishable"] is False and summary["blocking"]
    # Every blocking parameter has its labels for the pages (the keys stay in the JSON and CSVs).
    names = {blocker.partition(": ")[0] for blocker in summary["blocking"]}
    labels = summary["parameter_labels"]
    assert names <= set(labels) and all(labels[name]["fr"] != name != labels[name]["en"] for name in names)
    assert summary["psa"]["draws"] == 1000 and 0.0 <= summary["psa"]["p_bcr_gt_1"] <= 1.0
    benefit = summary["cost_benefit"]
    assert benefit["npv"] == pytest.approx(benefit["pv_benefits"] - benefit["pv_costs"])
    assert benefit["bcr"] == pytest.approx(benefit["pv_benefits"] / benefit["pv_costs"])
    assert (directory / "tornado.png").stat().st_size > 1000 and summary["tornado"]
    # Aggregates only: no family id anywhere in the run's files.
    family_ids = set()
    import duckdb

    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as connection:
        family_ids = {row[0] for row in connection.execute("SELECT family_id FROM family").fetchall()}
    written = " ".join(path.read_text(encoding="utf-8", errors="ignore") for path in directory.glob("*.csv"))
    written += (directory / "economics.json").read_text(encoding="utf-8")
    assert not any(family in written for family in family_ids)


def test_signed_off_parameters_are_publishable_and_a_bad_file_is_named(project: Path, tmp_path: Path) -> None:
    benefits = _signed_off(ECONOMICS / "benefits.yaml", tmp_path / "benefits.yaml")
    costing = _signed_off(ECONOMICS / "costing.yaml", tmp_path / "costing.yaml")
    result = CliRunner().invoke(
        app, ["economics", "run", "--project-dir", str(project), "--draws", "500", "--params", str(benefits), "--costing-params", str(costing)]
    )
    assert result.exit_code == 0, result.output
    assert "NOT PUBLISHABLE" not in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(benefits.read_text(encoding="utf-8").replace("discount_rate:", "discount_rate_typo:", 1), encoding="utf-8")
    failed = CliRunner().invoke(app, ["economics", "run", "--project-dir", str(project), "--params", str(bad)])
    assert failed.exit_code == 1 and "bad.yaml" in failed.output


@pytest.mark.journey
@pytest.mark.usefixtures("prefect_api")
def test_the_flow_fans_the_psa_out_and_equals_the_command(project: Path) -> None:
    from proximite.flows.economics import economics

    result = economics(str(project), draws=1200, chunk=300, seed=7, publish=True)
    assert result["chunks"] == 4
    flow_summary = json.loads((Path(result["economics_dir"]) / "economics.json").read_text(encoding="utf-8"))
    command = CliRunner().invoke(
        app, ["economics", "run", "--project-dir", str(project), "--draws", "1200", "--chunk", "300", "--seed", "7"]
    )
    assert command.exit_code == 0, command.output
    command_summary = json.loads((Path(result["economics_dir"]) / "economics.json").read_text(encoding="utf-8"))
    assert flow_summary["psa"] == command_summary["psa"]
    assert flow_summary["cost_benefit"] == command_summary["cost_benefit"]

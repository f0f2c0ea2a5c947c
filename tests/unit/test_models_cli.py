"""`proximite models run|list`, the example specs and the worked example, on a tiny synthetic project.

The worked example (docs/examples/worked_example.py) builds the project once for the module
(240 families, no validation gates to keep it quick); the CLI tests then run the example specs on it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cli.models import copy_example_specs
from proximite.cohort.models.specs import load_specs, spec_hash
from proximite.cohort.warehouse import current_build
from proximite.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
SPECS = ROOT / "cohort" / "models" / "examples"  # the example specs ship with the package
runner = CliRunner()


def _load_worked_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("worked_example", EXAMPLES / "worked_example.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Settings]:
    """Run the worked example once: its figures, what it printed, and the project it built."""
    workdir = tmp_path_factory.mktemp("worked-example")
    module = _load_worked_example()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        # Complete follow-up (no gate): the planted T24 effect is recovered from every wave.
        figures = module.main(["--workdir", str(workdir), "--families", "240", "--territories", "9", "--seed", "3",
                               "--complete-follow-up", "--no-validate"])
    return figures, printed.getvalue(), load_settings(workdir / "project")


def invoke(*arguments: str) -> Any:
    return runner.invoke(app, list(arguments), catch_exceptions=False)


# ------------------------------------------------------------------------------ worked example
def test_the_worked_example_fits_compares_and_writes(worked: tuple[dict[str, Any], str, Settings]) -> None:
    figures, printed, settings = worked
    # the planted fall of isolation shows: T24 below T0, the whole interval below zero
    assert figures["fe_wave24"] < 0 and figures["fe_wave24_ci"][1] < 0
    assert figures["growth_slope"] < 0
    # the spec fits the same PanelOLS as the code does
    assert figures["spec_fe_wave24"] == pytest.approx(figures["fe_wave24"])
    assert figures["gee_ipw_wave24"] != pytest.approx(figures["gee_wave24"])
    assert figures["build_id"] == current_build(settings).build_id
    for heading in ("1. Linear panel models", "2. Growth curve", "3. Time to a need being met", "4. A YAML spec", "Key figures"):
        assert heading in printed
    assert "Side by side" in printed and "Attrition by wave" in printed and "Cox PH" in printed
    out = Path(figures["spec_out_dir"])
    assert out == settings.reporting_dir / "models" / f"isolation_panel-{figures['build_id']}"
    for name in ("fe", "re", "fd", "ols"):
        for suffix in ("summary.csv", "statistics.csv", "html", "tex", "png"):
            assert (out / f"{name}.{suffix}").is_file(), f"{name}.{suffix}"
    manifest = json.loads(Path(figures["spec_manifest"]).read_text(encoding="utf-8"))
    assert manifest["build_id"] == figures["build_id"]
    assert manifest["spec_sha256"] == spec_hash(load_specs(SPECS / "isolation_panel.yaml"))
    assert manifest["comparison"]["models"] == ["fe", "re", "ols"]
    assert f"Manifest: {figures['spec_manifest']}" in printed


# ------------------------------------------------------------------------------ the CLI
def test_models_list_names_every_kind_and_its_options() -> None:
    result = invoke("models", "list")
    assert result.exit_code == 0, result.output
    kinds = [
        "aalen_johansen", "attrition", "cox", "cox_time_varying", "first_difference", "gee", "growth_curve",
        "kaplan_meier", "panel_ols", "pooled_ols", "random_effects", "rmst",
    ]
    for kind in kinds:
        assert f"\n{kind}  " in "\n" + result.output, kind
    assert "formula (required)" in result.output and "cluster=family" in result.output and "tau (required)" in result.output


def test_the_empowerment_and_stress_example_finds_the_planted_changes(
    worked: tuple[dict[str, Any], str, Settings], tmp_path: Path
) -> None:
    # The generator plants empowerment rising and parental stress falling with time in follow-up
    # (truth.json: empowerment_and_stress); every model of the example fits, and the
    # within-family T24 changes have the planted signs with intervals that exclude 0.
    _, _, settings = worked
    out = tmp_path / "out"
    result = invoke("models", "run", str(SPECS / "empowerment_stress.yaml"), "--project-dir", str(settings.project_dir),
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    fitted = [line.split()[1] for line in result.output.splitlines() if line.strip().startswith("fitted ")]
    assert fitted == ["empowerment_growth", "empowerment_fe", "stress_growth", "stress_fe", "stress_gee_ipw"]
    folder = out  # one spec file: its results are the folder itself
    assert json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["comparison"]["models"] == [
        "stress_fe", "stress_gee_ipw"]
    empowerment = pd.read_csv(folder / "empowerment_fe.summary.csv", index_col="term").loc["C(wave)[T.24]"]
    stress = pd.read_csv(folder / "stress_fe.summary.csv", index_col="term").loc["C(wave)[T.24]"]
    assert 0 < empowerment["ci_lower"] < empowerment["estimate"]
    assert stress["estimate"] < stress["ci_upper"] < 0
    growth = pd.read_csv(folder / "empowerment_growth.summary.csv", index_col="term")
    assert growth.loc["years", "estimate"] > 0

def test_the_isolation_groups_example_fits_trajectory_groups(worked: tuple[dict[str, Any], str, Settings], tmp_path: Path) -> None:
    # The group-based trajectory model of the example runs on the demo panel through the CLI and
    # writes its tables (estimates and counts): never a family id.
    _, _, settings = worked
    out = tmp_path / "out"
    result = invoke("models", "run", str(SPECS / "isolation_groups.yaml"), "--project-dir", str(settings.project_dir),
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    for table in ("summary", "statistics", "adequacy", "trajectories", "selection", "membership"):
        assert (out / f"isolation_groups.{table}.csv").is_file(), table
    assert (out / "isolation_groups.png").read_bytes().startswith(b"\x89PNG")
    selection = pd.read_csv(out / "isolation_groups.selection.csv", index_col="groups")
    assert selection.index.tolist() == [1, 2, 3, 4] and int(selection["chosen"].sum()) == 1
    [record] = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["models"]
    from proximite import cohort

    rows = cohort.panel(settings=settings, waves=[0, 6, 12, 24])
    families = rows.index.get_level_values("family_id").unique()
    observed = rows.loc[rows["isolation_index"].notna()].index.get_level_values("family_id").nunique()
    assert record["statistics"]["bic_n"] == record["statistics"]["entities"] == observed
    assert record["statistics"]["groups"] == int(selection.index[selection["chosen"]][0])
    written = " ".join(path.read_text(encoding="utf-8") for path in out.iterdir() if path.suffix in {".csv", ".html", ".tex", ".json"})
    assert not any(str(family) in written for family in families)


def test_models_run_fits_the_example_specs(worked: tuple[dict[str, Any], str, Settings], tmp_path: Path) -> None:
    _, _, settings = worked
    specs = [SPECS / "growth.yaml", SPECS / "time_to_need_met.yaml"]
    result = invoke("models", "run", *map(str, specs), "--project-dir", str(settings.project_dir), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines() if line.strip()]
    fitted = [line for line in lines if line.startswith("fitted ")]
    assert [line.split()[1] for line in fitted] == ["growth", "gee", "gee_ipw", "attrition", "km", "cox", "cif", "rmst"]
    assert lines[-1] == f"Manifest: {tmp_path / 'out' / 'time_to_need_met' / 'manifest.json'}"
    build_id = current_build(settings).build_id
    growth = json.loads((tmp_path / "out" / "growth" / "manifest.json").read_text(encoding="utf-8"))
    assert growth["build_id"] == build_id and growth["comparison"]["models"] == ["gee", "gee_ipw"]
    assert [record["request"] for record in growth["data"]] == [
        {"panel": {"waves": [0, 6, 12, 24]}},
        {"panel": {"waves": [0, 6, 12, 24], "weights": "attrition_weight"}},
    ]
    comparison = pd.read_csv(tmp_path / "out" / "growth" / "comparison.csv", index_col="term")
    assert "C(wave)[T.24]" in comparison.index
    survival = json.loads((tmp_path / "out" / "time_to_need_met" / "manifest.json").read_text(encoding="utf-8"))
    assert survival["data"][0]["request"] == {"survival": {"event": "need_met", "time_varying": False}}
    assert survival["comparison"] is None
    assert (tmp_path / "out" / "time_to_need_met" / "km.survival_curve.csv").is_file()
    assert (tmp_path / "out" / "time_to_need_met" / "cox.proportional_hazards.csv").is_file()


def test_a_bad_spec_exits_1_naming_the_file_spec_and_key(worked: tuple[dict[str, Any], str, Settings], tmp_path: Path) -> None:
    _, _, settings = worked
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - {name: fe, kind: panel_ols, formula: 'isolation_index ~ 1', options: {clustr: territory}}\n", encoding="utf-8")
    result = invoke("models", "run", str(path), "--project-dir", str(settings.project_dir))
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "error:" in message and "bad.yaml: model 'fe' (#1): options.clustr: unknown option(s) of panel_ols" in message
    assert "its options are: formula, entity_effects" in message


def test_a_failed_run_keeps_the_previous_results(worked: tuple[dict[str, Any], str, Settings], tmp_path: Path) -> None:
    _, _, settings = worked
    out = tmp_path / "results"
    path = tmp_path / "panel.yaml"
    path.write_text(
        "models:\n"
        "  - {name: fe, kind: panel_ols, formula: 'isolation_index ~ 1 + C(wave)', options: {cluster: territory}}\n"
        "  - {name: ols, kind: pooled_ols, formula: 'isolation_index ~ 1 + C(wave)'}\n",
        encoding="utf-8",
    )
    first = invoke("models", "run", str(path), "--project-dir", str(settings.project_dir), "--out", str(out))
    assert first.exit_code == 0, first.output
    before = {item.name: item.read_bytes() for item in out.iterdir()}
    path.write_text(path.read_text(encoding="utf-8").replace("1 + C(wave)'}\n", "1 + C(wave) + shoe_size'}\n"), encoding="utf-8")
    second = invoke("models", "run", str(path), "--project-dir", str(settings.project_dir), "--out", str(out))
    assert second.exit_code == 1
    message = " ".join(second.output.split())
    assert "panel.yaml: model 'ols' (#2): pooled_ols failed" in message
    assert "fitted fe" in message  # the first model was fitted before the failure
    assert {item.name: item.read_bytes() for item in out.iterdir()} == before
    assert sorted(item.name for item in tmp_path.iterdir()) == ["panel.yaml", "results"]


def test_models_run_without_a_warehouse_says_so(tmp_path: Path) -> None:
    result = invoke("models", "run", str(SPECS / "growth.yaml"), "--project-dir", str(tmp_path))
    assert result.exit_code == 1
    assert "error:" in result.output and "warehouse" in result.output.lower()


def test_the_demo_copies_the_example_specs_without_overwriting(tmp_path: Path) -> None:
    copied = copy_example_specs(tmp_path)
    assert sorted(path.name for path in copied) == [
        "empowerment_stress.yaml", "growth.yaml", "isolation_groups.yaml", "isolation_panel.yaml", "time_to_need_met.yaml"]
    edited = tmp_path / "models" / "growth.yaml"
    edited.write_text("# mine\n", encoding="utf-8")
    assert copy_example_specs(tmp_path) == []
    assert edited.read_text(encoding="utf-8") == "# mine\n"

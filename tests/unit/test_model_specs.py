"""Model specs in YAML: parsing (every error names the file, the spec and the key) and the runner.

The runner's tests fit on a tiny warehouse (120 synthetic families) made once for this module;
the error paths use a toy model registered for the test only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from proximite.cohort.models.base import MODELS, Model, ModelError, ModelResults
from proximite.cohort.models.specs import (
    DataRequest,
    ModelSpec,
    SpecError,
    describe_kinds,
    load_specs,
    parse_specs,
    run_specs,
    spec_hash,
)
from proximite.config import Settings, load_settings

TEST_KEY = "test-key-not-secret-0123456789abcdef"


class ToyMeans(Model):
    """Mean of the outcome by wave (a toy model of the tests)."""

    kind = "toy_means"

    def __init__(self, formula: str, *, scale: float = 1.0, fail: bool = False) -> None:
        self.formula = formula
        self.scale = scale
        self.fail = fail

    def fit(self, data: pd.DataFrame) -> ModelResults:
        if self.fail:
            raise ModelError("toy_means: asked to fail")
        outcome = self.formula.split("~")[0].strip()
        if outcome not in data.columns:
            raise ModelError(f"toy_means: no column {outcome}")
        groups = pd.to_numeric(data[outcome], errors="coerce").groupby(level="wave")
        mean, error = groups.mean() * self.scale, groups.sem()
        summary = pd.DataFrame(
            {"estimate": mean, "std_error": error, "ci_lower": mean - 1.96 * error, "ci_upper": mean + 1.96 * error, "p_value": np.nan}
        )
        summary.index = [f"wave[{wave}]" for wave in summary.index]
        return ModelResults(
            "toy_means",
            summary,
            statistics={"nobs": int(groups.count().sum())},
            title=f"toy_means: {self.formula}",
            extra={"counts": groups.count().rename("n").to_frame()},
        )


class ToyColumns(Model):
    """A toy model that takes no formula: the mean of one column."""

    kind = "toy_columns"

    def __init__(self, *, column: str = "isolation_index") -> None:
        self.column = column

    def fit(self, data: pd.DataFrame) -> ModelResults:
        values = pd.to_numeric(data[self.column], errors="coerce").dropna()
        mean, error = float(values.mean()), float(values.sem())
        summary = pd.DataFrame(
            {"estimate": [mean], "std_error": [error], "ci_lower": [mean - 2 * error], "ci_upper": [mean + 2 * error], "p_value": [np.nan]},
            index=["mean"],
        )
        return ModelResults("toy_columns", summary, statistics={"nobs": int(values.size)})


@pytest.fixture(autouse=True)
def toy_kinds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Register the toy kinds for one test (removed afterwards)."""
    import proximite.cohort.models.specs as specs_module

    specs_module.register_all()
    monkeypatch.setitem(MODELS, "toy_means", ToyMeans)
    monkeypatch.setitem(MODELS, "toy_columns", ToyColumns)
    yield


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A tiny built warehouse: 120 families in 3 territories, 4 waves."""
    from proximite import pipeline
    from proximite.pipeline import ingest
    from proximite.cohort.sandbox.synth import generate_cohort

    root = tmp_path_factory.mktemp("model-specs")
    generate_cohort(root / "input", families=120, territories=3, seed=11)
    settings = load_settings(root / "project")
    ingest(root / "input", settings=settings, validate=False)
    harmonised = pipeline.harmonise_staged(settings, key=TEST_KEY.encode())
    pipeline.build_from_harmonised(settings, harmonised, validate=False)
    return settings


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


TWO_MODELS = """\
description: two toys on the same panel
data: {panel: {waves: [0, 12, 24]}}
models:
  - name: raw
    kind: toy_means
    formula: isolation_index ~ 1
  - name: doubled
    kind: toy_means
    formula: isolation_index ~ 1
    options: {scale: 2}
"""


# ---------------------------------------------------------------------------------- parsing
def test_one_spec_file(tmp_path: Path) -> None:
    path = write(tmp_path, "kind: toy_means\nformula: 'isolation_index ~ 1'\noptions:\n  scale: 0.5\n")
    (spec,) = load_specs(path)
    assert spec.name == "toy_means" and spec.kind == "toy_means"
    assert spec.formula == "isolation_index ~ 1"
    assert spec.options == {"scale": 0.5}
    assert spec.data == DataRequest("panel")
    assert spec.model_options() == {"formula": "isolation_index ~ 1", "scale": 0.5}
    assert isinstance(spec.build(), ToyMeans)


def test_several_specs_share_the_default_data_and_get_unique_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
data: {panel: {waves: [24, 0], columns: [isolation_index]}}
models:
  - {kind: toy_means, formula: isolation_index ~ 1}
  - {kind: toy_means, formula: isolation_index ~ 1}
  - {kind: toy_columns, data: {survival: {event: need_met}}}
""",
    )
    specs = load_specs(path)
    assert [spec.name for spec in specs] == ["toy_means", "toy_means_2", "toy_columns"]
    assert specs[0].data == DataRequest("panel", waves=(0, 24), columns=("isolation_index",))
    assert specs[2].data == DataRequest("survival", event="need_met")
    assert [spec.position for spec in specs] == [1, 2, 3]


def test_data_weights_join_the_columns_and_reach_a_model_taking_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Weighted(ToyColumns):
        def __init__(self, *, column: str = "isolation_index", weights: str | None = None) -> None:
            super().__init__(column=column)
            self.weights = weights

    monkeypatch.setitem(MODELS, "toy_weighted", Weighted)
    path = write(tmp_path, "kind: toy_weighted\ndata: {panel: {columns: [isolation_index], weights: attrition_weight}}\n")
    (spec,) = load_specs(path)
    assert spec.data.columns == ("isolation_index", "attrition_weight")
    assert spec.model_options() == {"weights": "attrition_weight"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: [unclosed\n", r"spec\.yaml: line 2, column 1: not valid YAML \(expected .,. or .\]."),
        ("kind: toy_means\nformula: a ~ 1\n  options: {}\n", r"spec\.yaml: line 3, column \d+: not valid YAML"),
        ("kind: toy_means\nkind: toy_columns\n", r"spec\.yaml: line 2, column 1: not valid YAML \(the key 'kind' is given twice\)"),
        ("", r"spec\.yaml: the file is empty"),
        ("- kind: toy_means\n", r"spec\.yaml: expected a mapping"),
        ("kind: toy_mean\nformula: a ~ 1\n", r"spec\.yaml: model #1: kind: unknown model kind 'toy_mean'; the kinds are: .*toy_columns, toy_means"),
        ("formula: a ~ 1\n", r"spec\.yaml: model #1: kind: required"),
        (
            "name: m\nkind: toy_means\nformula: a ~ 1\noptions: {scael: 2}\n",
            r"spec\.yaml: model 'm' \(#1\): options\.scael: unknown option\(s\) of toy_means; its options are: formula, scale, fail",
        ),
        ("name: m\nkind: toy_means\n", r"spec\.yaml: model 'm' \(#1\): formula: required by toy_means"),
        ("kind: toy_columns\nformula: a ~ 1\n", r"model 'toy_columns' \(#1\): formula: toy_columns takes no formula; its options are: column"),
        ("kind: toy_means\nformula: a ~ 1\noptions: {formula: b ~ 1}\n", r"options\.formula: give the formula once"),
        ("kind: toy_means\nformula: a ~ 1\nmodel: x\n", r"model #1: unknown key\(s\) model; a spec takes name, kind"),
        ("kind: toy_means\nformula: a ~ 1\noptions: [1]\n", r"model 'toy_means' \(#1\): options: expected a mapping"),
        ("name: a b\nkind: toy_means\nformula: a ~ 1\n", r"model 'a b' \(#1\): name: letters, digits"),
        ("kind: toy_means\nformula: a ~ 1\ndata: cohort\n", r"model 'toy_means' \(#1\): data: unknown data 'cohort'; the data are: panel, survival"),
        ("kind: toy_means\nformula: a ~ 1\ndata: {panel: {wave: [0]}}\n", r"data\.panel: unknown key\(s\) wave; panel takes waves, columns, weights"),
        ("kind: toy_means\nformula: a ~ 1\ndata: {panel: {waves: 12}}\n", r"data\.panel\.waves: expected a list of months"),
        ("kind: toy_columns\ndata: {survival: {event: death}}\n", r"data\.survival\.event: expected one of first_referral, need_met, dropout"),
        ("kind: toy_columns\ndata: survival\n", r"data: survival needs an event"),
        ("kind: toy_columns\ndata: {survival: {event: dropout, time_varying: 1}}\n", r"data\.survival\.time_varying: expected true or false"),
        ("models: []\n", r"spec\.yaml: models: must be a non-empty list"),
        ("kind: toy_means\nmodels: [{kind: toy_columns}]\n", r"spec\.yaml: unknown key\(s\) kind beside models:"),
        (
            "models:\n  - {name: a, kind: toy_columns}\n  - {name: a, kind: toy_columns}\n",
            r"spec\.yaml: model 'a' \(#2\): name: another model of this file is already named 'a'",
        ),
        (
            "models:\n  - {kind: toy_columns}\n  - {kind: toy_means, formula: a ~ 1, options: {scale: 1, colour: red}}\n",
            r"spec\.yaml: model 'toy_means' \(#2\): options\.colour: unknown option",
        ),
        ("compare: [a, b]\nmodels: [{name: a, kind: toy_columns}]\n", r"spec\.yaml: compare: no model named b; the models are: a"),
        ("compare: [a]\nmodels: [{name: a, kind: toy_columns}]\n", r"spec\.yaml: compare: expected true, false or a list of two or more"),
        ("compare: yes please\nmodels: [{name: a, kind: toy_columns}]\n", r"spec\.yaml: compare: expected true, false"),
    ],
)
def test_errors_name_the_file_the_spec_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SpecError, match=expected):
        load_specs(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nothere\.yaml: no such spec file"):
        load_specs(tmp_path / "nothere.yaml")


def test_the_real_kinds_are_listed_with_their_options() -> None:
    kinds = {entry["kind"]: entry for entry in describe_kinds()}
    assert "attrition" in kinds and "toy_means" in kinds
    options = {option["name"]: option for option in kinds["toy_means"]["options"]}
    assert options["formula"]["required"] and not options["scale"]["required"] and options["scale"]["default"] == 1.0
    assert kinds["toy_means"]["summary"] == "Mean of the outcome by wave (a toy model of the tests)."


def test_the_example_specs_parse() -> None:
    examples = Path(__file__).resolve().parents[2] / "cohort" / "models" / "examples"
    files = sorted(examples.glob("*.yaml"))
    assert files, "cohort/models/examples/*.yaml"
    for path in files:
        specs = load_specs(path)
        assert specs and all(spec.description for spec in specs), path.name


# ---------------------------------------------------------------------------------- the hash
def test_the_spec_hash_is_canonical_and_changes_with_the_spec() -> None:
    one = parse_specs({"kind": "toy_means", "formula": "y ~ 1", "options": {"scale": 2, "fail": False}})[0]
    same = parse_specs({"options": {"fail": False, "scale": 2}, "formula": "y ~ 1", "kind": "toy_means"})[0]
    assert spec_hash(one) == spec_hash(same) == one.sha256
    assert len(one.sha256) == 64
    changed = [
        {"kind": "toy_means", "formula": "y ~ 1", "options": {"scale": 3, "fail": False}},
        {"kind": "toy_means", "formula": "y ~ 1 + x", "options": {"scale": 2, "fail": False}},
        {"kind": "toy_means", "formula": "y ~ 1", "options": {"scale": 2, "fail": False}, "data": {"panel": {"waves": [0]}}},
    ]
    for document in changed:
        assert parse_specs(document)[0].sha256 != one.sha256


# ---------------------------------------------------------------------------------- running
def test_a_run_writes_every_file_and_the_manifest(tmp_path: Path, project: Settings) -> None:
    path = write(tmp_path, TWO_MODELS, name="toys.yaml")
    specs = load_specs(path)
    lines: list[str] = []
    run = run_specs(specs, project, echo=lines.append)

    from proximite.cohort.warehouse import current_build

    build_id = current_build(project).build_id
    assert run.out_dir == project.reporting_dir / "models" / f"toys-{build_id}"
    names = sorted(item.name for item in run.out_dir.iterdir())
    for model in ("raw", "doubled"):
        for suffix in ("summary.csv", "statistics.csv", "counts.csv", "html", "tex", "png"):
            assert f"{model}.{suffix}" in names
    assert {"comparison.csv", "comparison.statistics.csv", "comparison.png", "manifest.json"} <= set(names)
    assert not [name for name in run.out_dir.parent.iterdir() if name.name.startswith(".")]
    assert (run.out_dir / "raw.png").read_bytes().startswith(b"\x89PNG")

    manifest = json.loads(run.manifest_path.read_text(encoding="utf-8"))
    assert manifest == run.manifest
    assert manifest["build_id"] == build_id
    from proximite.version import code_version

    assert manifest["code_version"] == code_version()
    assert manifest["spec_sha256"] == spec_hash(specs)
    assert [model["spec_sha256"] for model in manifest["models"]] == [spec.sha256 for spec in specs]
    assert manifest["data"] == [{"request": {"panel": {"waves": [0, 12, 24]}}, "rows": manifest["models"][0]["rows"], "families": 120}]
    assert manifest["comparison"]["models"] == ["raw", "doubled"]
    assert {entry["path"] for entry in manifest["files"]} == set(names) - {"manifest.json"}
    assert manifest["started_at"].endswith("Z") and manifest["finished_at"] >= manifest["started_at"]
    assert len(lines) == 2 and lines[0].startswith("fitted raw (toy_means) on panel (waves 0, 12, 24):")

    summary = pd.read_csv(run.out_dir / "raw.summary.csv", index_col="term")
    doubled = pd.read_csv(run.out_dir / "doubled.summary.csv", index_col="term")
    assert list(summary.index) == ["wave[0]", "wave[12]", "wave[24]"]
    np.testing.assert_allclose(doubled["estimate"], 2 * summary["estimate"])
    comparison = pd.read_csv(run.out_dir / "comparison.csv", index_col="term")
    np.testing.assert_allclose(comparison["doubled:estimate"], doubled["estimate"])

    # counts only: no family identifier in anything written
    from proximite.cohort.warehouse import panel

    family_ids = set(panel(settings=project, columns=["isolation_index"]).index.get_level_values("family_id").astype(str))
    for item in run.out_dir.iterdir():
        if item.suffix in {".csv", ".json", ".html", ".tex"}:
            text = item.read_text(encoding="utf-8")
            assert not [family for family in list(family_ids)[:50] if family in text], item.name


def test_data_is_loaded_once_per_distinct_request(tmp_path: Path, project: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from proximite.cohort import warehouse

    calls: list[dict[str, Any]] = []
    original = warehouse.panel

    def counting(*args: Any, **kwargs: Any) -> pd.DataFrame:
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(warehouse, "panel", counting)
    text = TWO_MODELS + "  - {name: all_waves, kind: toy_columns, data: panel}\n"
    run = run_specs(load_specs(write(tmp_path, text)), project, tmp_path / "out")
    assert len(calls) == 2
    assert [record["request"] for record in run.manifest["data"]] == [{"panel": {"waves": [0, 12, 24]}}, {"panel": {}}]
    # the toy_columns model shares no term with the others: not compared
    assert run.manifest["comparison"]["models"] == ["raw", "doubled"]


def test_no_comparison_for_a_single_model(tmp_path: Path, project: Settings) -> None:
    run = run_specs(load_specs(write(tmp_path, "kind: toy_columns\n")), project, tmp_path / "one")
    assert run.comparison is None and run.manifest["comparison"] is None
    assert not (run.out_dir / "comparison.csv").exists()


def test_a_failing_model_names_the_spec_and_keeps_the_previous_results(tmp_path: Path, project: Settings) -> None:
    out = tmp_path / "out"
    first = run_specs(load_specs(write(tmp_path, TWO_MODELS)), project, out)
    before = {item.name: item.read_bytes() for item in out.iterdir()}
    failing = TWO_MODELS.replace("options: {scale: 2}", "options: {scale: 2, fail: true}")
    with pytest.raises(SpecError, match=r"spec\.yaml: model 'doubled' \(#2\): toy_means failed: toy_means: asked to fail"):
        run_specs(load_specs(write(tmp_path, failing)), project, out)
    assert {item.name: item.read_bytes() for item in out.iterdir()} == before
    assert first.manifest_path.is_file()
    assert sorted(item.name for item in tmp_path.iterdir()) == ["out", "spec.yaml"]


def test_a_library_error_is_named_too(tmp_path: Path, project: Settings) -> None:
    path = write(tmp_path, "kind: toy_columns\noptions: {column: no_such_column}\n")
    with pytest.raises(SpecError, match=r"model 'toy_columns' \(#1\): toy_columns failed: KeyError"):
        run_specs(load_specs(path), project, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_unknown_panel_column_names_the_key(tmp_path: Path, project: Settings) -> None:
    path = write(tmp_path, "kind: toy_columns\ndata: {panel: {columns: [isolation_index, shoe_size]}}\n")
    with pytest.raises(SpecError, match=r"model 'toy_columns' \(#1\): data\.panel\.columns: not panel columns: shoe_size"):
        run_specs(load_specs(path), project, tmp_path / "out")


def test_a_spec_built_in_code_runs_too(tmp_path: Path, project: Settings) -> None:
    spec = ModelSpec(name="direct", kind="toy_means", formula="parental_stress ~ 1", data=DataRequest("panel", waves=(0, 6)))
    run = run_specs([spec], project, tmp_path / "direct")
    assert list(run.results) == ["direct"]
    assert run.manifest["spec_file"] is None
    assert run.results["direct"].statistics["nobs"] == run.manifest["models"][0]["statistics"]["nobs"]


def test_compare_chooses_the_models_or_none(tmp_path: Path, project: Settings) -> None:
    three = TWO_MODELS.replace("models:\n", "compare: [doubled, raw]\nmodels:\n") + "  - {name: third, kind: toy_means, formula: isolation_index ~ 1}\n"
    run = run_specs(load_specs(write(tmp_path, three)), project, tmp_path / "chosen")
    assert run.manifest["comparison"]["models"] == ["doubled", "raw"]
    assert list(pd.read_csv(tmp_path / "chosen" / "comparison.csv").columns[1:4]) == ["doubled:estimate", "doubled:std_error", "doubled:p_value"]
    none = TWO_MODELS.replace("models:\n", "compare: false\nmodels:\n")
    specs = load_specs(write(tmp_path, none))
    assert specs.compare is False and spec_hash(specs) != spec_hash(load_specs(write(tmp_path, TWO_MODELS, name="other.yaml")))
    run = run_specs(specs, project, tmp_path / "none")
    assert run.comparison is None and not (tmp_path / "none" / "comparison.csv").exists()


def test_intercepts_alone_do_not_make_models_comparable(tmp_path: Path, project: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    class WithIntercept(ToyColumns):
        def fit(self, data: pd.DataFrame) -> ModelResults:
            result = super().fit(data)
            result.summary.index = ["Intercept"]
            return result

    monkeypatch.setitem(MODELS, "toy_intercept", WithIntercept)
    path = write(tmp_path, "models:\n  - {name: a, kind: toy_intercept}\n  - {name: b, kind: toy_intercept, options: {column: parental_stress}}\n")
    run = run_specs(load_specs(path), project, tmp_path / "out")
    assert run.comparison is None


def test_a_bad_option_value_fails_before_any_data_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "name: fe\nkind: panel_ols\nformula: isolation_index ~ 1 + C(wave)\noptions: {cluster: region}\n")
    empty = load_settings(tmp_path / "no-warehouse")
    with pytest.raises(SpecError, match=r"spec\.yaml: model 'fe' \(#1\): panel_ols: cluster must be 'family', 'territory' or None"):
        run_specs(load_specs(path), empty)


def test_survival_data_requests_reach_the_survival_table(tmp_path: Path, project: Settings) -> None:
    path = write(
        tmp_path,
        """\
models:
  - name: tv
    kind: cox_time_varying
    data: {survival: {event: dropout, time_varying: true}}
    options: {covariates: [isolated_at_contact], n_boot: 5, cluster_col: family_id}
  - name: km
    kind: kaplan_meier
    data: {survival: {event: first_referral, closed_unmet: censored}}
    options: {duration: duration_months}
""",
    )
    run = run_specs(load_specs(path), project, tmp_path / "out")
    assert [record["request"] for record in run.manifest["data"]] == [
        {"survival": {"event": "dropout", "time_varying": True}},
        {"survival": {"event": "first_referral", "time_varying": False, "closed_unmet": "censored"}},
    ]
    assert run.manifest["data"][1]["rows"] == run.manifest["data"][1]["families"] == 120
    assert "isolated_at_contact" in run.results["tv"].summary.index
    assert (tmp_path / "out" / "km.survival_curve.csv").is_file()

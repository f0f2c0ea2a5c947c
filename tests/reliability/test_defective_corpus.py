"""The corpus of defective cohorts: every defect is caught by the rule meant for it, and the clean
synthetic cohort passes every gate with no error (no false alarms).

A clean cohort (60 families, 4 territories, seed 5) is generated once and built once into a
project (pull ``clean``: ingest with the staged gates, harmonise, build with the harmonised gate).
Each case copies that input and that project, plants one defect (``tests/defects.py``), and runs
the real path again on the copy (pull ``bad``): ingest every source, then
``pipeline.harmonise_staged`` and ``pipeline.build_from_harmonised``. The defect must be caught by:

- typing: an :class:`InputError` naming the file (as sent), the column and the row; or
- a gate: :class:`GateFailed` whose result fails the intended rule on exactly the planted keys and
  no other error rule, with a report under ``data/quarantine/<id>/``.

Either way the previous warehouse stays byte for byte, and a refused pull leaves every ``LATEST``
on ``clean``.
"""

from __future__ import annotations

import io
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import defects  # noqa: E402
from defects import (  # noqa: E402
    ActivityRow,
    AssessmentRow,
    Expected,
    FamilyRow,
    FileRow,
    InstanceRow,
    RedcapRow,
)

from proximite import pipeline  # noqa: E402
from proximite.errors import InputError  # noqa: E402
from proximite.pipeline import ingest  # noqa: E402
from proximite.cohort.layers import QUARANTINE, SOURCES, latest_pull  # noqa: E402
from proximite.cohort.privacy.storage import read_protected  # noqa: E402
from proximite.cohort.pseudonym import pseudonymise, pseudonymise_instances  # noqa: E402
from proximite.cohort.sandbox.synth import generate_cohort  # noqa: E402
from proximite.config import Settings, load_settings  # noqa: E402
from proximite.expectations.gates import GateFailed, validation_reporting_dir  # noqa: E402
from synth_dates import SYNTH_AS_OF  # noqa: E402

KEY = b"test-key-not-secret-0123456789abcdef"
CLEAN, BAD = "20240101T000000Z-c1ea00", "20240101T000000Z-bad000"
#: As of a past day: a clean cohort has no REDCap date after the pull.
CORPUS_COHORT = {"families": 60, "territories": 4, "seed": 5, "as_of": SYNTH_AS_OF}


# ------------------------------------------------------------------------------------ set-up


@dataclass
class Built:
    """A project after a clean ingest and build."""

    input_dir: Path
    project_dir: Path


def build(input_dir: Path, settings: Settings, pull_id: str) -> Path:
    """The real path: ingest every source, harmonise, build. Returns the layer-03 directory."""
    ingest(input_dir, settings=settings, pull_id=pull_id)
    harmonised = pipeline.harmonise_staged(settings, key=KEY)
    pipeline.build_from_harmonised(settings, harmonised)
    return harmonised


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("corpus")
    input_dir = root / "input"
    generate_cohort(input_dir, **CORPUS_COHORT)
    project_dir = root / "project"
    project_dir.mkdir()
    # Data Docs are rebuilt on every gate and are most of a small gate's time; this corpus checks
    # which rule catches each defect, not the site (tests/reliability/test_gates.py does).
    (project_dir / "proximite.toml").write_text("[validation]\ndata_docs = false\n", encoding="utf-8")
    build(input_dir, load_settings(project_dir), CLEAN)
    return Built(input_dir, project_dir)


@dataclass
class Case:
    input_dir: Path
    settings: Settings
    warehouse_before: bytes


@pytest.fixture
def case(clean: Built, tmp_path: Path) -> Case:
    """A copy of the clean input and of the clean project (its warehouse already built)."""
    input_dir = tmp_path / "input"
    shutil.copytree(clean.input_dir, input_dir)
    project_dir = tmp_path / "project"
    shutil.copytree(clean.project_dir, project_dir)
    settings = load_settings(project_dir)
    return Case(input_dir, settings, settings.warehouse_path.read_bytes())


# ------------------------------------------------------------------------------------ keys


def planted_row(planted: object, settings: Settings) -> dict[str, str]:
    """A planted row as the engine's failures frame names it, every value as text.

    Staged REDCap rows: ``record_id``, ``event``, ``instance``; staged file rows: ``source_file``,
    ``source_row``; harmonised rows: their ``key`` (``family_id=…|wave=6``) split into its parts,
    the pseudonymous ids computed with the test key.
    """
    project = settings.project_name
    length = int(settings["pseudonym"].get("id_length", 16))

    def family(record_id: str) -> str:
        return str(pseudonymise(pd.Series([record_id]), key=KEY, project=project, length=length).iloc[0])

    if isinstance(planted, RedcapRow):
        instance = "" if planted.instance is None else str(planted.instance)
        return {"record_id": planted.record_id, "event": planted.event, "instance": instance}
    if isinstance(planted, FileRow):
        return {"source_file": planted.source_file, "source_row": str(planted.source_row)}
    if isinstance(planted, FamilyRow):
        return {"family_id": family(planted.record_id)}
    if isinstance(planted, InstanceRow):
        identifier = pseudonymise_instances(
            pd.Series([planted.record_id]), pd.Series([planted.instance]), form=planted.form,
            key=KEY, project=project, length=length,
        ).iloc[0]
        return {f"{planted.table}_id": str(identifier)}
    if isinstance(planted, AssessmentRow):
        return {"family_id": family(planted.record_id), "wave": str(planted.wave)}
    if isinstance(planted, ActivityRow):
        return {"activity_id": planted.activity_id, "territory_id": planted.territory_id}
    raise TypeError(f"unknown planted key {planted!r}")


def _text(value: object) -> str:
    return "" if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) else str(value)


def failing_rows(failures: pd.DataFrame, rule_id: str, *, layer: str) -> list[dict[str, str]]:
    """The rows a rule failed on, named as :func:`planted_row` names them."""
    rows = failures[failures["rule_id"] == rule_id]
    named = []
    for row in rows.to_dict("records"):
        if layer == "harmonised":
            named.append(dict(part.split("=", 1) for part in _text(row["key"]).split("|")))
        elif _text(row["source_file"]):
            named.append({"source_file": _text(row["source_file"]), "source_row": _text(row["source_row"])})
        else:
            named.append({column: _text(row[column]) for column in ("record_id", "event", "instance")})
    return named


# ------------------------------------------------------------------------------------ assertions


def error_rules_failing(results) -> dict[str, int]:
    """Rules of severity error with at least one failing row (below their threshold too)."""
    failing = {}
    for result in results:
        summary = result.summary
        for row in summary[(summary["severity"] == "error") & (summary["failed"] > 0)].itertuples():
            failing[row.rule_id] = failing.get(row.rule_id, 0) + int(row.failed)
    return failing


def assert_flags_exactly(result, expected: Expected, case: Case) -> None:
    """The intended rule fails on exactly the planted rows, and no other error rule fails."""
    failing = error_rules_failing([result])
    assert failing == {expected.rule_id: len(expected.keys)}, (
        f"expected only {expected.rule_id} to fail on {len(expected.keys)} row(s); error rules failing: {failing}"
    )
    wanted = sorted(planted_row(planted, case.settings).items() for planted in expected.keys)
    got = sorted(row.items() for row in failing_rows(result.failures, expected.rule_id, layer=expected.layer))
    assert got == wanted, f"{expected.rule_id} failed on {got}; planted {wanted}"


def assert_caught_by_gate(caught: GateFailed, expected: Expected, case: Case, *, batch: str) -> None:
    """One gate refused the batch, for the planted rows only, and wrote its report in quarantine."""
    assert [(result.layer, result.source) for result in caught.results] == [
        (expected.layer, expected.source if expected.layer == "staged" else None)
    ], f"refused by {[(result.layer, result.source) for result in caught.results]}"
    result = caught.result
    assert not result.passed
    assert_flags_exactly(result, expected, case)
    folder = expected.source if expected.layer == "staged" else "harmonised"
    quarantine = case.settings.data_dir / QUARANTINE / batch / folder
    report = Path(caught.report_dir)
    assert report.is_relative_to(quarantine), f"the report {report} is not under {quarantine}"
    assert (report / "report.html").is_file(), f"no report.html in {report}"
    # The row-level report lists the planted rows under the rule (keys, not values).
    listed = pd.read_csv(  # encrypted at rest (record ids), read through the project's keys
        io.BytesIO(read_protected(report / "failures.csv", settings=case.settings)), dtype=str, keep_default_na=False,
        encoding="utf-8-sig",
    )
    wanted = sorted(planted_row(planted, case.settings).items() for planted in expected.keys)
    assert sorted(row.items() for row in failing_rows(listed, expected.rule_id, layer=expected.layer)) == wanted


def assert_previous_state_kept(case: Case, *, staged_moved: bool) -> None:
    assert case.settings.warehouse_path.read_bytes() == case.warehouse_before, "the previous warehouse was changed"
    for source in SOURCES:
        assert latest_pull(case.settings, source) == (BAD if staged_moved else CLEAN)


# ------------------------------------------------------------------------------------ the corpus


@pytest.mark.parametrize("name", list(defects.DEFECTS))
def test_each_defect_is_caught_by_its_rule(name: str, case: Case) -> None:
    expected = defects.DEFECTS[name](case.input_dir)
    if expected.stage == "ingest":
        with pytest.raises(InputError) as caught:
            ingest(case.input_dir, settings=case.settings, pull_id=BAD)
        error = caught.value
        assert Path(error.path) == (case.input_dir / expected.file).resolve(), str(error)
        assert (error.column, error.row) == (expected.column, expected.row), str(error)
        if expected.rule is not None:
            assert error.rule == expected.rule, str(error)
        assert_previous_state_kept(case, staged_moved=False)
        return

    if expected.layer == "staged":
        with pytest.raises(GateFailed) as caught:
            ingest(case.input_dir, settings=case.settings, pull_id=BAD)
        assert_caught_by_gate(caught.value, expected, case, batch=BAD)
        assert_previous_state_kept(case, staged_moved=False)
        return

    ingest(case.input_dir, settings=case.settings, pull_id=BAD)
    harmonised = pipeline.harmonise_staged(case.settings, key=KEY)
    try:
        pipeline.build_from_harmonised(case.settings, harmonised)
    except GateFailed as error:
        assert_caught_by_gate(error, expected, case, batch=harmonised.name)
        assert_previous_state_kept(case, staged_moved=True)
        return
    # Not blocked: say what the harmonised gate made of it (its last summary, counts only), then fail.
    summary = pd.read_csv(validation_reporting_dir(case.settings) / "harmonised.csv")
    flagged = summary[summary["failed"] > 0]
    found = {row.rule_id: f"{row.severity}, {row.failed} row(s), threshold {row.threshold}" for row in flagged.itertuples()}
    pytest.fail(
        f"{name}: the harmonised gate let the defect through and the warehouse was rebuilt; "
        f"{expected.rule_id} was meant to block it; rules flagging rows: {found or 'none'}"
    )


# ------------------------------------------------------------------------------------ no false alarms


def gate_summaries(settings: Settings) -> pd.DataFrame:
    """Every gate's last summary (``reporting/validation/<gate>.csv``: one row per rule, counts only)."""
    directory = validation_reporting_dir(settings)
    names = [f"staged-{source}" for source in SOURCES] + ["harmonised"]
    missing = [name for name in names if not (directory / f"{name}.csv").is_file()]
    assert not missing, f"no gate result for {missing} in {directory}"
    return pd.concat([pd.read_csv(directory / f"{name}.csv") for name in names], ignore_index=True)


def check_clean_cohort(tmp_path: Path, *, families: int, territories: int, seed: int) -> None:
    input_dir = tmp_path / "input"
    generate_cohort(input_dir, families=families, territories=territories, seed=seed, as_of=SYNTH_AS_OF)
    settings = load_settings(tmp_path / "project")
    build(input_dir, settings, CLEAN)  # a gate refusing anything raises GateFailed here
    assert settings.warehouse_path.is_file()
    quarantine = settings.data_dir / QUARANTINE
    assert not quarantine.exists() or not any(quarantine.iterdir())
    # Below their thresholds too: not one row of an error rule fails on a clean cohort.
    summary = gate_summaries(settings)
    errors = summary[(summary["severity"] == "error") & (summary["failed"] > 0)]
    assert errors.empty, f"false alarms on a clean cohort: {dict(zip(errors['rule_id'], errors['failed']))}"
    # Warnings do not block, but on a clean cohort they are false alarms as well.
    warnings = summary[(summary["severity"] == "warning") & (summary["failed"] > 0)]
    assert warnings.empty, f"warnings on a clean cohort: {dict(zip(warnings['rule_id'], warnings['failed']))}"


@pytest.mark.journey
@pytest.mark.parametrize(
    "families, territories, seed", [(30, 2, 3), (200, 6, 17)], ids=["30-families", "200-families"]
)
def test_clean_cohorts_pass_with_no_error(tmp_path: Path, families: int, territories: int, seed: int) -> None:
    check_clean_cohort(tmp_path, families=families, territories=territories, seed=seed)


@pytest.mark.slow
def test_clean_pilot_scale_cohort_passes_with_no_error(tmp_path: Path) -> None:
    """The pilot's scale: 5,305 families in 50 territories."""
    check_clean_cohort(tmp_path, families=5305, territories=50, seed=2019)

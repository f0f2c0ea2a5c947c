"""Bad qualitative input: a clear error naming the file, the row or source, and the field.

The register and the coding are ingested (pull ``good``), one thing is broken in a copy, and:

- a defect of one file (a malformed ``.qdpx``, a duplicate register entry, a missing
  ``themes.yaml``) stops the ingest (pull ``bad``) with an :class:`InputError` naming the file as
  sent; the raw copy is kept and ``LATEST`` stays on ``good``;
- a defect between files (a register row of an unknown territory, a QDA source the register does
  not list) stops harmonisation with a :class:`HarmoniseError` naming the file and the row or
  source: the register and the coding may arrive at different times, they meet there.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_inputs import build_input_dir  # noqa: E402
from qualitative_inputs import REGISTER_ROWS, TRANSCRIPT_MARK, write_qualitative  # noqa: E402

from proximite.cohort.codebook import load_codebook  # noqa: E402
from proximite.cohort.layers import latest_pull, raw_dir  # noqa: E402
from proximite.config import Settings, load_settings  # noqa: E402
from proximite.errors import HarmoniseError, InputError  # noqa: E402
from proximite.pipeline import harmonise_staged, ingest  # noqa: E402

GOOD, BAD = "20240101T000000Z-000001", "20240101T000000Z-000002"
KEY = b"k" * 32
QUALITATIVE = ["qual_register", "qual_coding"]


@pytest.fixture(scope="module")
def good_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The good input, ingested once through the staged gate (each test works on a copy)."""
    root = tmp_path_factory.mktemp("qualitative-good")
    good = build_input_dir(root / "good", load_codebook())
    write_qualitative(good)
    ingest(good, settings=load_settings(root / "project"), pull_id=GOOD)
    return good, root / "project"


@pytest.fixture
def project(good_project: tuple[Path, Path], tmp_path: Path) -> tuple[Settings, Path]:
    good, project_dir = good_project
    shutil.copytree(project_dir, tmp_path / "project")
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    return load_settings(tmp_path / "project"), bad


def refused(settings: Settings, input_dir: Path, source: str) -> InputError:
    with pytest.raises(InputError) as caught:
        ingest(input_dir, settings=settings, pull_id=BAD, sources=[source])
    assert latest_pull(settings, source) == GOOD
    assert raw_dir(settings, source, BAD).is_dir()  # the evidence is kept
    assert TRANSCRIPT_MARK not in str(caught.value)
    return caught.value


def test_a_qdpx_that_is_not_a_zip(project: tuple[Settings, Path]) -> None:
    settings, bad = project
    (bad / "qualitative" / "entrevues.qdpx").write_bytes(b"<Project/>")
    error = refused(settings, bad, "qual_coding")
    assert error.path == str(bad / "qualitative" / "entrevues.qdpx") and error.rule == "not a zip archive"


def test_a_qdpx_without_its_project_document(project: tuple[Settings, Path]) -> None:
    settings, bad = project
    import zipfile

    with zipfile.ZipFile(bad / "qualitative" / "entrevues.qdpx", "w") as archive:
        archive.writestr("codebook.qdc", '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"/>')
    error = refused(settings, bad, "qual_coding")
    assert error.rule == "no project.qde in the archive" and ".qdc file is a codebook alone" in str(error)


def test_a_missing_themes_file(project: tuple[Settings, Path]) -> None:
    settings, bad = project
    (bad / "qualitative" / "themes.yaml").unlink()
    error = refused(settings, bad, "qual_coding")
    assert error.path.endswith("qualitative/themes.yaml") and error.rule == "required file missing"


def test_a_duplicate_register_entry_names_both_rows(project: tuple[Settings, Path]) -> None:
    settings, bad = project
    write_qualitative(bad, register_rows=[*REGISTER_ROWS, list(REGISTER_ROWS[1])])
    error = refused(settings, bad, "qual_register")
    assert (error.rule, error.row, error.column) == ("duplicate register entry", 5, "session_id")
    assert error.path.endswith("qualitative/register.csv") and "'ENT-002' is already on row 2" in str(error)


def test_a_register_code_outside_its_list_names_row_and_column(project: tuple[Settings, Path]) -> None:
    settings, bad = project
    rows = [list(row) for row in REGISTER_ROWS]
    rows[2][4] = "educatrice"
    write_qualitative(bad, register_rows=rows)
    error = refused(settings, bad, "qual_register")
    assert (error.row, error.column) == (3, "participant_type") and "educatrice" in str(error)


def test_an_unknown_territory_stops_the_build(project: tuple[Settings, Path]) -> None:
    settings, bad = project
    rows = [list(row) for row in REGISTER_ROWS]
    rows[1][1] = "T99-99"
    write_qualitative(bad, register_rows=rows)
    ingest(bad, settings=settings, pull_id=BAD, sources=["qual_register"])
    with pytest.raises(HarmoniseError) as caught:
        harmonise_staged(settings, key=KEY)
    message = str(caught.value)
    assert "qualitative/register.csv, row 2, column 'territory_id': unknown territory 'T99-99'" in message


def test_a_source_not_in_the_register_stops_the_build(project: tuple[Settings, Path]) -> None:
    settings, bad = project
    write_qualitative(bad, register_rows=[row for row in REGISTER_ROWS if row[0] != "GD-001"])
    ingest(bad, settings=settings, pull_id=BAD, sources=["qual_register"])
    with pytest.raises(HarmoniseError) as caught:
        harmonise_staged(settings, key=KEY)
    message = str(caught.value)
    assert "qualitative/entrevues.qdpx: source 'GD-001' is not in the qualitative register (qualitative/register.csv" in message
    assert TRANSCRIPT_MARK not in message


def test_the_good_pulls_build(project: tuple[Settings, Path]) -> None:
    settings, _ = project
    harmonised = harmonise_staged(settings, key=KEY)
    assert {path.stem for path in harmonised.glob("qual_*.parquet")} == {"qual_session", "qual_code", "qual_coding"}


def test_a_name_in_participant_ids_is_refused_by_the_staged_gate(project: tuple[Settings, Path]) -> None:
    from proximite.expectations.gates import GateFailed

    settings, bad = project
    rows = [list(row) for row in REGISTER_ROWS]
    rows[0][8] = "Marie Tremblay"
    write_qualitative(bad, register_rows=rows)
    with pytest.raises(GateFailed) as caught:
        ingest(bad, settings=settings, pull_id=BAD, sources=["qual_register"])
    failures = caught.value.result.failures
    failing = failures[failures["rule_id"] == "staged.qual_session.participant_ids.format"]
    assert (failing["source_file"].tolist(), failing["source_row"].tolist()) == (["register.csv"], [1])
    assert "Marie" not in failures.astype(str).to_csv() and "Marie" not in str(caught.value)
    assert latest_pull(settings, "qual_register") == GOOD

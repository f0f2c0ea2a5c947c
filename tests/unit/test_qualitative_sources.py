"""Reading REFI-QDA projects (.qdpx), themes.yaml, and staging the qualitative strand's two sources."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_inputs import build_input_dir  # noqa: E402
from qualitative_inputs import CODES, TRANSCRIPT_MARK, sources, write_qualitative  # noqa: E402

from proximite.cohort.codebook import load_codebook  # noqa: E402
from proximite.cohort.ingest import ingest  # noqa: E402
from proximite.cohort.layers import raw_dir, read_staged  # noqa: E402
from proximite.cohort.sandbox._qdpx import SynthCode, SynthSource, project_document, qdpx_bytes, write_qdpx  # noqa: E402
from proximite.cohort.sources import SOURCES  # noqa: E402
from proximite.cohort.sources.qdpx import read_qdpx  # noqa: E402
from proximite.cohort.sources.qual_themes import assign_themes, load_themes  # noqa: E402
from proximite.cohort.sources.qualitative import session_of  # noqa: E402
from proximite.config import load_settings  # noqa: E402
from proximite.errors import InputError  # noqa: E402

AXES = load_codebook().codes("qual_axis")


def project(tmp_path: Path, codes=CODES, built=None) -> Path:
    return write_qdpx(tmp_path / "p.qdpx", codes, sources() if built is None else built)


def test_codes_keep_their_place_in_the_tree_and_sources_count_segments(tmp_path: Path) -> None:
    read = read_qdpx(project(tmp_path))
    paths = {code.name: code.path for code in read.codes}
    assert paths["Confiance"] == ("Relation", "Confiance") and paths["Divers"] == ("Divers",)
    parents = {code.name: code.parent_id for code in read.codes}
    assert parents["Transport"] == CODES[1].guid and parents["Obstacles"] is None
    counts = {source.name: dict(source.segments) for source in read.sources}
    assert counts["ENT-001.docx"] == {CODES[0].children[0].guid: 2, CODES[1].children[0].guid: 1}
    assert {source.kind for source in read.sources} == {"TextSource"}


def test_the_same_arguments_write_the_same_bytes() -> None:
    assert qdpx_bytes(CODES, sources()) == qdpx_bytes(CODES, sources())


@pytest.mark.parametrize(
    ("name", "session"),
    [("ENT-001.docx", "ENT-001"), ("ENT-001", "ENT-001"), ("GD.2024.03", "GD.2024.03"), (" ENT-7.MP3 ", "ENT-7")],
)
def test_a_source_is_its_session_id_without_a_document_extension(name: str, session: str) -> None:
    assert session_of(name) == session


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_malformed_projects_are_refused_with_the_file_and_the_rule(tmp_path: Path) -> None:
    cases = {
        "not a zip archive": (tmp_path / "a.qdpx").write_bytes(b"PK? not really") and tmp_path / "a.qdpx",
        "no project.qde in the archive": _zip(tmp_path / "b.qdpx", {"sources/x.txt": b"x"}),
        "unknown schema": _zip(tmp_path / "c.qdpx", {"project.qde": b'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"/>'}),
        "not well-formed XML": _zip(tmp_path / "d.qdpx", {"project.qde": b"<Project xmlns='urn:QDA-XML:project:1.0'>"}),
        "document type declaration": _zip(
            tmp_path / "e.qdpx",
            {"project.qde": b'<?xml version="1.0"?>\n<!DOCTYPE p [<!ENTITY a "aa">]><Project xmlns="urn:QDA-XML:project:1.0"/>'},
        ),
    }
    for rule, path in cases.items():
        with pytest.raises(InputError, match=rule) as caught:
            read_qdpx(path)
        assert caught.value.path == str(path)
    with pytest.raises(InputError, match="codebook exchange file"):
        read_qdpx(tmp_path / "c.qdpx")


def test_a_coding_of_an_unknown_code_is_refused(tmp_path: Path) -> None:
    stray = SynthSource("00000000-0000-4000-8000-000000000999", "ENT-9", "texte", ((0, 2, "ffffffff-0000-4000-8000-000000000000"),))
    with pytest.raises(InputError, match="names a code that is not in the codebook") as caught:
        read_qdpx(project(tmp_path, built=[stray]))
    assert "ENT-9" in str(caught.value) and "texte" not in str(caught.value)


def test_text_and_selections_are_never_read(tmp_path: Path) -> None:
    document = project_document(CODES, sources(), name="p").decode("utf-8")
    assert TRANSCRIPT_MARK in document  # the export holds the transcripts inline ...
    read = read_qdpx(project(tmp_path))
    assert TRANSCRIPT_MARK not in repr(read)  # ... the reader keeps names and counts only


# --------------------------------------------------------------------------- themes.yaml
def themes(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "themes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_code_counts_for_the_nearest_listed_code_above_it(tmp_path: Path) -> None:
    read = read_qdpx(project(tmp_path))
    mapping = load_themes(themes(tmp_path, "themes:\n  Relation:\n    axis: acceptabilite\n"
                                          "  Transport:\n    axis: pertinence\n    codes: [obstacles  >  TRANSPORT]\n"), axes=AXES)
    assigned = {code_id: theme.name for (_, code_id), theme in assign_themes(mapping, [read]).items()}
    by_name = {code.name: assigned.get(code.code_id) for code in read.codes}
    assert by_name == {"Relation": "Relation", "Confiance": "Relation", "Obstacles": None, "Transport": "Transport",
                       "Décloisonnement": None, "Divers": None}


@pytest.mark.parametrize(
    ("text", "rule", "field"),
    [
        ("themes: []\n", "no themes", "themes"),
        ("themes:\n  Transport: {}\n", "axis missing", "themes.Transport.axis"),
        ("themes:\n  Transport:\n    axis: utilite\n", "unknown axis", "themes.Transport.axis"),
        ("themes:\n  Transport:\n    axis: pertinence\n    couleur: bleu\n", "unknown key", "themes.Transport.couleur"),
        ("themes:\n  A:\n    axis: autre\n    codes: [Divers]\n  B:\n    axis: autre\n    codes: [divers]\n",
         "code listed in two themes", "themes.B.codes"),
        ("themes:\n  Transport:\n    axis: pertinence\n  [broken\n", "not a readable YAML file", None),
    ],
)
def test_a_bad_themes_file_names_the_field(tmp_path: Path, text: str, rule: str, field: str | None) -> None:
    with pytest.raises(InputError, match=rule) as caught:
        load_themes(themes(tmp_path, text), axes=AXES)
    assert caught.value.column == field


def test_a_code_the_projects_lack_is_named_with_look_alikes(tmp_path: Path) -> None:
    read = read_qdpx(project(tmp_path))
    mapping = load_themes(themes(tmp_path, "themes:\n  Transports:\n    axis: pertinence\n"), axes=AXES)
    with pytest.raises(InputError, match="code not found") as caught:
        assign_themes(mapping, [read])
    assert caught.value.column == "themes.Transports.codes" and "close names: Transport" in str(caught.value)


def test_a_name_shared_by_two_codes_asks_for_the_path(tmp_path: Path) -> None:
    twins = (SynthCode("00000000-0000-4000-8000-000000000011", "Parents", (SynthCode("00000000-0000-4000-8000-000000000012", "Autre"),)),
             SynthCode("00000000-0000-4000-8000-000000000013", "PTP", (SynthCode("00000000-0000-4000-8000-000000000014", "Autre"),)))
    read = read_qdpx(project(tmp_path, codes=twins, built=[]))
    mapping = load_themes(themes(tmp_path, "themes:\n  Autre:\n    axis: autre\n"), axes=AXES)
    with pytest.raises(InputError, match="ambiguous code name") as caught:
        assign_themes(mapping, [read])
    assert "Parents > Autre" in str(caught.value)
    ok = load_themes(themes(tmp_path, "themes:\n  Autre:\n    axis: autre\n    codes: [PTP > Autre]\n"), axes=AXES)
    assert [theme.name for theme in assign_themes(ok, [read]).values()] == ["Autre"]


# --------------------------------------------------------------------------- the two sources
def test_both_sources_read_the_qualitative_folder_and_stage_counts_only(tmp_path: Path) -> None:
    assert list(SOURCES)[-2:] == ["qual_register", "qual_coding"]
    input_dir = build_input_dir(tmp_path / "input", load_codebook())
    folder = write_qualitative(input_dir)
    (folder / "transcription ENT-001.docx").write_text(TRANSCRIPT_MARK, encoding="utf-8")  # left there by mistake
    settings = load_settings(tmp_path / "project")
    ingest(input_dir, settings=settings, sources=["qual_register", "qual_coding"], pull_id="p1")
    assert sorted(p.name for p in raw_dir(settings, "qual_register", "p1").iterdir()) == ["manifest.json", "register.csv"]
    assert sorted(p.name for p in raw_dir(settings, "qual_coding", "p1").iterdir()) == [
        "entrevues.qdpx", "manifest.json", "themes.yaml"]
    coding = read_staged(settings, "qual_coding")
    assert set(coding) == {"qual_code", "qual_coding", "qual_document"}
    for frame in [*coding.values(), *read_staged(settings, "qual_register").values()]:
        text = frame.astype("string").to_csv()
        assert TRANSCRIPT_MARK not in text and "Passage" not in text
    code = coding["qual_code"].set_index("name")
    assert code.loc["Confiance", ["path", "theme", "axis"]].tolist() == ["Relation > Confiance", "Confiance envers la PTP", "acceptabilite"]
    assert pd.isna(code.loc["Divers", "theme"])
    segments = coding["qual_coding"].groupby("session_id")["segments"].sum().to_dict()
    assert segments == {"ENT-001": 3, "ENT-002": 2, "GD-001": 3, "ENT-003": 1}

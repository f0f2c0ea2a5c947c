"""`proximite codebook` writes a readable page in French (default) or English."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app


def test_markdown_page_in_french_lists_tables_codes_and_events(tmp_path: Path) -> None:
    out = tmp_path / "codebook.md"
    result = CliRunner().invoke(app, ["codebook", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Proximité — dictionnaire des données")
    assert "### `assessment`" in text
    assert "| aucune_ressource | Aucune ressource disponible ou accessible | No resource available or reachable |" in text
    assert "| t12_arm_1 | T12 | 12 | suivi |" in text
    assert "2–3 → 1, ≥ 4 → 0" in text


def test_html_page_in_english_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "codebook.html"
    result = CliRunner().invoke(app, ["codebook", "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html><html lang='en'>")
    assert "<h1>Proximité — codebook</h1>" in page
    assert "http://" not in page and "https://" not in page
    assert "Identifier (stays in REDCap)" in page


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["codebook", "--out", str(tmp_path / "codebook.pdf")])
    assert result.exit_code != 0
    assert "must end in .md or .html" in result.output


def test_export_redcap_xml_writes_a_project_the_sandbox_loads_back(tmp_path: Path) -> None:
    from proximite.cohort.codebook import load_codebook
    from proximite.cohort.redcap.loaders import load_project

    out = tmp_path / "proximite.REDCap.xml"
    result = CliRunner().invoke(app, ["codebook", "export", "--format", "redcap-xml", "--out", str(out)])
    assert result.exit_code == 0, result.output
    project = load_project(out)
    cb = load_codebook()
    assert project.metadata["field_name"].tolist() == cb.data_dictionary["field_name"].tolist()
    assert project.events["unique_event_name"].tolist() == cb.event_names
    assert project.dags["unique_group_name"].tolist() == cb.territories["redcap_dag"].tolist()
    assert project.records.empty


def test_export_refuses_an_unknown_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["codebook", "export", "--format", "spss", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0
    assert "unknown format 'spss'" in result.output


@pytest.mark.parametrize(("survey", "repeating"), [("partner_survey", {"partenaire"}), ("staff_survey", set())])
def test_export_a_questionnaire_writes_its_survey_project(tmp_path: Path, survey: str, repeating: set[str]) -> None:
    from proximite.cohort.codebook import load_codebook
    from proximite.cohort.redcap.loaders import load_project, project_from_directory

    out = tmp_path / f"{survey}.REDCap.xml"
    result = CliRunner().invoke(app, ["codebook", "export", "--project", survey, "--out", str(out)])
    assert result.exit_code == 0, result.output
    cb = load_codebook()
    spec, project = cb.survey(survey), load_project(out)
    # What REDCap creates from the XML is the project whose files the codebook ships.
    shipped = project_from_directory(cb.directory / "surveys" / survey, records=False)
    pd.testing.assert_frame_equal(project.metadata, shipped.metadata)
    for name in ("events", "arms", "form_event_mapping", "repeating_forms_events", "dags"):
        ours, theirs = getattr(project, name), getattr(shipped, name)
        if theirs.empty:  # the XML of a project without repeating forms has no such table at all
            assert ours.empty, name
        else:
            pd.testing.assert_frame_equal(ours, theirs, obj=name)
    assert project.events["unique_event_name"].tolist() == [f"annee_{year}_arm_1" for year in spec.years]
    assert set(project.repeating) == repeating
    assert project.survey_forms == list(spec.forms) and project.records.empty  # every form is a survey; no data


def test_export_refuses_an_unknown_project(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["codebook", "export", "--project", "famille", "--out", str(tmp_path / "x.xml")])
    assert result.exit_code != 0
    assert "unknown project 'famille'" in result.output and "partner_survey" in result.output
    assert not (tmp_path / "x.xml").exists()


def test_the_page_has_a_section_per_questionnaire(tmp_path: Path) -> None:
    out = tmp_path / "codebook.md"
    result = CliRunner().invoke(app, ["codebook", "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    from proximite.cohort.codebook import load_codebook

    for survey in load_codebook().surveys.values():
        assert f"Yearly questionnaire: {survey.project['title']}" in text
        years = ", ".join(str(year) for year in survey.years)
        assert f"one event per year ({years})" in text
    assert "### `partenaire` (repeating)" in text and "### `questionnaire`" in text


def test_english_page_describes_every_column_grain_field_and_registry_column_in_english(tmp_path: Path) -> None:
    from proximite.cohort.codebook import load_codebook

    cb = load_codebook()
    out = tmp_path / "codebook.md"
    result = CliRunner().invoke(app, ["codebook", "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    model = text[text.index("## Harmonised model (layer 03)") : text.index("## Code lists")]
    for table in cb.tables:
        assert f"Grain: {cb.grain(table, lang='en')}" in model
        assert f"Grain : {cb.grain(table)}" not in model
        for name in cb.columns(table):
            row = next(line for line in model[model.index(f"### `{table}`") :].splitlines() if line.startswith(f"| {name} |"))
            assert row.endswith(f"| {cb.description(table, name, lang='en')} |"), row
    assert "| wave | int | yes | yes | 0 –  |  | Wave (months after T0) |" in model
    assert "| iso_mefiance | radio | Distrust of institutions | isolation_score |  | assessment.mefiance_institutions |" in text
    assert "| kind | string | yes | supervision_kind | Kind of session (drop-down list). |" in text
    assert "Vague (mois après T0)" not in text and "Type de séance (liste déroulante)" not in text


def test_french_page_keeps_the_french_descriptions(tmp_path: Path) -> None:
    out = tmp_path / "codebook.md"
    result = CliRunner().invoke(app, ["codebook", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "Grain : une famille à une vague" in text
    assert "| wave | int | oui | oui | 0 –  |  | Vague (mois après T0) |" in text
    assert "| iso_mefiance | radio | Méfiance envers les institutions | isolation_score |  | assessment.mefiance_institutions |" in text
    assert "Wave (months after T0)" not in text

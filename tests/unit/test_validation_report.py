"""The validation report and the one-screen summary, from a ValidationResult made by hand."""

from __future__ import annotations

import json
import re
import pickle
from pathlib import Path

import pandas as pd
import pytest

from proximite.errors import ProximiteError
from proximite.config import load_settings
from proximite.expectations.base import FAILURE_COLUMNS, SUMMARY_COLUMNS, ValidationResult
from proximite.expectations.gates import GateFailed, write_last_result
from proximite.expectations.report import HTML_ROWS_PER_RULE, safe_failures, summary_lines, write_report

RANGE = "staged.suivi.pa_1.between"
ORPHAN = "harmonised.referral.family_exists"
WARN = "staged.famille.date_contact.format"
TOLERATED = "staged.besoin.statut.required"
CLEAN = "staged.famille.record_id.required"


def _summary_row(rule_id: str, table: str, *, severity: str, failed: int, checked: int, passed: bool,
                 category: str = "plausibility", threshold: float = 0.0, description: str = "") -> dict:
    return {
        "layer": "staged", "source": "redcap", "table": table, "rule_id": rule_id, "category": category,
        "severity": severity, "threshold": threshold, "checked": checked, "failed": failed,
        "failed_share": failed / checked if checked else 0.0, "passed": passed, "engine": "great_expectations",
        "description": description or f"what {rule_id} asks",
    }


def _failure(rule_id: str, table: str, *, severity: str, column: str | None, record: str, value: object = None,
             event: str | None = "t0_arm_1", instance: object = None, row: int = 1) -> dict:
    return {
        "layer": "staged", "source": "redcap", "table": table, "rule_id": rule_id, "category": "plausibility",
        "severity": severity, "column": column, "record_id": record, "event": event, "instance": instance,
        "key": None, "value": value, "source_file": "records.csv", "source_row": row,
    }


def make_result(*, range_rows: int = 3) -> ValidationResult:
    summary = pd.DataFrame(
        [
            _summary_row(CLEAN, "famille", severity="error", failed=0, checked=40, passed=True, category="completeness"),
            _summary_row(WARN, "famille", severity="warning", failed=2, checked=40, passed=False, category="conformance"),
            _summary_row(TOLERATED, "besoin", severity="error", failed=1, checked=200, passed=True, threshold=0.01,
                         category="completeness"),
            _summary_row(RANGE, "suivi", severity="error", failed=range_rows, checked=120, passed=False,
                         description="an empowerment item is <between 1 and 5> & never \"other\""),
            _summary_row(ORPHAN, "referral", severity="error", failed=1, checked=60, passed=False, category="conformance"),
        ],
        columns=SUMMARY_COLUMNS,
    )
    failures = [
        _failure(RANGE, "suivi", severity="error", column="pa_1", record=f"{1000 + n}", value=9.0, row=n + 2)
        for n in range(range_rows)
    ]
    failures += [
        _failure(WARN, "famille", severity="warning", column="date_contact", record="1001", value=pd.Timestamp("2031-02-03")),
        _failure(WARN, "famille", severity="warning", column="date_contact", record="1002", value=None),
        _failure(TOLERATED, "besoin", severity="error", column="statut", record="1003", event="accompagnement_arm_1", instance=2),
        _failure(ORPHAN, "referral", severity="error", column="family_id", record="<script>alert(1)</script>", value="x&y"),
    ]
    return ValidationResult(
        layer="staged", source="redcap", pull_id="20240101T000000Z-aaaaaa",
        summary=summary, failures=pd.DataFrame(failures, columns=FAILURE_COLUMNS), seconds=1.25,
    )


def test_report_files_hold_every_failure_and_the_summary(tmp_path: Path) -> None:
    result = make_result()
    paths = write_report(result, tmp_path / "report")
    assert paths.directory == tmp_path / "report"
    for path in (paths.failures_csv, paths.summary_csv, paths.summary_json, paths.html):
        assert path.is_file()
    failures = pd.read_csv(paths.failures_csv, encoding="utf-8-sig", dtype=str)
    assert list(failures.columns) == FAILURE_COLUMNS
    assert len(failures) == len(result.failures)
    assert failures["rule_id"].value_counts()[RANGE] == 3
    summary = pd.read_csv(paths.summary_csv)
    assert list(summary.columns) == SUMMARY_COLUMNS
    # Blocking rules first, the most failing rows first; passed rules last.
    assert list(summary["rule_id"]) == [RANGE, ORPHAN, WARN, TOLERATED, CLEAN]
    payload = json.loads(paths.summary_json.read_text(encoding="utf-8"))
    assert payload == json.loads(json.dumps(result.to_dict()))
    assert payload["passed"] is False
    assert {item["rule_id"] for item in payload["blocking"]} == {RANGE, ORPHAN}
    assert not list(paths.directory.glob(".*.tmp"))


def test_html_is_one_language_per_page_escaped_and_self_contained(tmp_path: Path) -> None:
    paths = write_report(make_result(), tmp_path)
    html = paths.html.read_text(encoding="utf-8")
    english = paths.html_en.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="fr">' in html and '<html lang="en">' in english
    # One language per page, each linking to the other.
    assert "Rapport de validation" in html and "Validation report" not in html
    assert "Validation report" in english and "Rapport de validation" not in english
    assert "<th>Dossier</th>" in html and "<th>Record id</th>" in english
    assert "Lot refusé" in html and "Batch refused" not in html and "Batch refused" in english
    assert 'href="report.en.html"' in html and 'href="report.html"' in english
    assert paths.html_en.name == "report.en.html"
    # Every value is escaped: a record id or a description cannot inject markup.
    for page in (html, english):
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "x&amp;y" in page
        assert "&lt;between 1 and 5&gt; &amp; never &#34;other&#34;" in page
        # Self-contained: no external resource, no script.
        for marker in ("http://", "https://", "<script", "<link", "src="):
            assert marker not in page
        # A table per failing rule with its facts; passed rules only in the folded list.
        for rule in (RANGE, ORPHAN, WARN, TOLERATED):
            assert f">{rule}</h3>" in page
        assert f">{CLEAN}</h3>" not in page and f"<code>{CLEAN}</code>" in page
        assert "2031-02-03" in page and ">9<" in page  # a date without its midnight, a whole number without .0
        assert "accompagnement_arm_1" in page
    assert ">bloquante<" in html and ">avertissement<" in html and "(error)" not in html
    assert ">error<" in english and ">warning<" in english
    assert ">plausibilité<" in html and "1,00 %" in html  # the tolerated rule's threshold, French decimal
    assert ">plausibility<" in english and "1.00 %" in english


def test_rule_descriptions_are_in_french_on_the_french_page() -> None:
    from proximite.expectations.descriptions import in_french

    assert in_french("the record id is filled in") == "Le numéro de dossier est rempli"
    assert in_french("pa_1 is ≥ 1 and ≤ 5") == "pa_1 est ≥ 1 et ≤ 5"
    assert in_french("(family_id, wave) identifies one row") == "(family_id, wave) identifie une seule ligne"
    assert in_french("exit_date is filled in when exit_reason is") == "exit_date est rempli quand exit_reason l'est"
    assert in_french("an activity lasts 1 to 720 minutes") == "Une activité dure de 1 à 720 minutes"
    # A sentence no template knows stays as written rather than mistranslated.
    assert in_french("something new") == "something new"


def test_every_rule_of_the_gates_has_its_french() -> None:
    from proximite.cohort.codebook import load_codebook
    from proximite.config import load_settings
    from proximite.expectations.descriptions import has_french
    from proximite.expectations.rules import STAGED_SOURCES, ValidationConfig, harmonised_rules, staged_rules

    codebook = load_codebook()
    rules = harmonised_rules(codebook=codebook, config=ValidationConfig.from_settings(load_settings()))
    for source in ("redcap", *STAGED_SOURCES):
        rules += staged_rules(source, codebook=codebook)
    untranslated = sorted({rule.description for rule in rules if not has_french(rule.description)})
    assert not untranslated, untranslated


def test_html_caps_the_rows_of_a_rule_and_the_csv_keeps_them_all(tmp_path: Path) -> None:
    rows = HTML_ROWS_PER_RULE + 37
    paths = write_report(make_result(range_rows=rows), tmp_path)
    html = paths.html.read_text(encoding="utf-8")
    assert html.count(">records.csv</td>") == HTML_ROWS_PER_RULE + 4  # capped rule + the other rules' rows
    assert "37 autre(s) ligne(s)" in html and "37 more row(s)" in paths.html_en.read_text(encoding="utf-8")
    assert len(pd.read_csv(paths.failures_csv, encoding="utf-8-sig")) == rows + 4
    small = write_report(make_result(range_rows=rows), tmp_path / "small", max_rows_per_rule=5)
    assert f"{rows - 5:,}".replace(",", "\u202f") + " autre(s) ligne(s)" in small.html.read_text(encoding="utf-8")


def test_no_column_outside_failure_columns_is_ever_written(tmp_path: Path) -> None:
    result = make_result()
    leaked = result.failures.assign(notes="Maman seule, 3 enfants, appelle au 514-555-0199")
    with pytest.raises(ValueError, match="notes"):
        safe_failures(leaked)
    with pytest.raises(ValueError, match="outside FAILURE_COLUMNS"):
        write_report(
            ValidationResult(layer="staged", source="redcap", pull_id="p", summary=result.summary, failures=leaked),
            tmp_path / "leak",
        )
    assert not (tmp_path / "leak" / "failures.csv").exists()
    # The free text of the frame reaches no file of a normal report either.
    paths = write_report(result, tmp_path / "ok")
    for path in (paths.failures_csv, paths.summary_csv, paths.summary_json, paths.html):
        assert "514-555" not in path.read_text(encoding="utf-8-sig")


def test_a_missing_failure_column_is_written_empty(tmp_path: Path) -> None:
    result = make_result()
    result.failures = result.failures.drop(columns=["key", "source_file"])
    failures = pd.read_csv(write_report(result, tmp_path).failures_csv, encoding="utf-8-sig")
    assert list(failures.columns) == FAILURE_COLUMNS
    assert failures["source_file"].isna().all()


def test_a_clean_result_makes_a_short_report(tmp_path: Path) -> None:
    summary = pd.DataFrame(
        [_summary_row(CLEAN, "famille", severity="error", failed=0, checked=40, passed=True)], columns=SUMMARY_COLUMNS
    )
    result = ValidationResult(layer="harmonised", source=None, pull_id="abc", summary=summary,
                              failures=pd.DataFrame(columns=FAILURE_COLUMNS))
    paths = write_report(result, tmp_path)
    html = paths.html.read_text(encoding="utf-8")
    assert "Lot accepté" in html and "Lot refusé" not in html
    assert pd.read_csv(paths.failures_csv, encoding="utf-8-sig").empty
    lines = summary_lines(result)
    assert lines == ["Validation harmonised · abc: accepté; 1 / 1 règles respectées"]
    assert summary_lines(result, lang="en") == ["Validation harmonised · abc: passed; 1 / 1 rules passed"]


def test_summary_lines_list_blocking_rules_first_then_the_report(tmp_path: Path) -> None:
    result = make_result()
    lines = summary_lines(result, tmp_path / "report")
    assert "REFUSÉ" in lines[0] and "2 règle(s) bloquante(s)" in lines[0] and "2 / 5 règles" in lines[0]
    assert lines[1].split()[:2] == ["BLOQUANT", RANGE] and "3 / 120" in lines[1]
    assert lines[2].split()[:2] == ["BLOQUANT", ORPHAN]
    assert lines[3].split()[:2] == ["avert.", WARN]
    assert lines[4].split()[:2] == ["toléré", TOLERATED]
    assert lines[-1] == f"Rapport : {tmp_path / 'report' / 'report.html'}"
    assert len(lines) == 6
    assert not any("[" in line for line in lines)  # no rich markup by accident
    assert not any("1001" in line or "9" == line.split()[-1] for line in lines)  # no record ids or values
    short = summary_lines(result, max_rules=1)
    assert "… 3 autre(s) règle(s)" in short[-1]
    english = summary_lines(result, tmp_path / "report", lang="en")
    assert english[0].endswith("REFUSED: 2 blocking rule(s); 2 / 5 rules passed")
    assert english[1].split()[:2] == ["BLOCKING", RANGE] and english[-1].startswith("Report: ")


def test_summary_lines_use_one_language() -> None:
    """Never a French word with its English in brackets: each language alone."""
    result = make_result()
    french, english = summary_lines(result, "r", lang="fr"), summary_lines(result, "r", lang="en")
    assert not any(re.search(r"\((passed|rules|refused|report|rows|blocking|see)", line, re.I) for line in french)
    assert not any(word in " ".join(english) for word in ("règle", "REFUSÉ", "lignes", "Rapport"))
    assert not any(word in " ".join(french) for word in ("rules", "REFUSED", " rows", "Report"))
    with pytest.raises(ValueError, match="lang"):
        summary_lines(result, lang="de")


def test_summary_lines_of_warnings_only_say_passed() -> None:
    result = make_result()
    result.summary = result.summary[result.summary["severity"] == "warning"].reset_index(drop=True)
    assert result.passed
    assert "accepté avec 1 avertissement(s)" in summary_lines(result)[0]


def test_gate_failed_names_counts_rules_tables_and_the_report(tmp_path: Path) -> None:
    result = make_result(range_rows=12)
    error = GateFailed(result, tmp_path / "report", quarantine_dir=tmp_path / "q")
    message = str(error)
    assert isinstance(error, ProximiteError)
    assert error.result is result and error.report_dir == tmp_path / "report"
    assert f"12 row(s) broke {RANGE} (suivi)" in message
    assert f"1 row(s) broke {ORPHAN} (referral)" in message
    assert message.index(RANGE) < message.index(ORPHAN)
    assert str(tmp_path / "report" / "report.html") in message and str(tmp_path / "q") in message
    assert "2 blocking rule(s)" in message
    assert WARN not in message  # warnings do not block and are not named
    assert "1001" not in message and "x&y" not in message  # no record ids, no values
    few = str(GateFailed(result, tmp_path, top=1))
    assert "1 more row(s) broke 1 other rule(s)" in few
    restored = pickle.loads(pickle.dumps(error))
    assert str(restored) == message and restored.report_dir == error.report_dir


def test_last_result_is_written_under_reporting(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    json_path, csv_path = write_last_result(settings, make_result(), gate="staged-redcap")
    assert json_path == settings.reporting_dir / "validation" / "staged-redcap.json"
    payload = json.loads(json_path.read_text(encoding="utf-8"))
    assert payload["gate"] == "staged-redcap" and payload["passed"] is False and payload["report"] is None
    summary = pd.read_csv(csv_path)
    assert list(summary.columns) == SUMMARY_COLUMNS and len(summary) == 5
    assert "1001" not in csv_path.read_text(encoding="utf-8")  # counts per rule, no row of data

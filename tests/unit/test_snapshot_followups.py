"""The follow-ups page of an internal snapshot, from tiny tables written here.

Five families in three territories (the spec tables of ``tests/spec/test_followups.py``, plus a
territory with no family): on 2024-08-15 fa and fb (T1) are closing at T6 and fe (T2) is overdue
at T0. The indicator table is a handful of rows: the page under test is the follow-ups page, and
the index pages only for their link to it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from proximite.cohort.codebook import load_codebook
from proximite.cohort.followups import FollowupReport, FollowupSchedule, followup_completion, followups_due
from proximite.indicators.base import indicator_frame
from proximite.indicators.snapshot import SnapshotError, scope_territories, write_snapshot
from proximite.indicators.snapshot.formatting import format_percent
from page_text import number_faults

CB = load_codebook()
AS_OF = dt.date(2024, 8, 15)
SCHEDULE = FollowupSchedule(waves=(0, 6, 12), window_days=45, baseline_within_days=30, closing_days=14)
TERRITORY = pd.DataFrame(
    {
        "territory_id": ["T1", "T2", "T3"],
        "name": ["Quartier Brisson", "Grand-Clairval", "Petit-Desrosiers"],
        "region_code": ["06", "06", "03"],
        "environment": ["urbain", "rural", "mixte"],
        "host_type": ["OCF", "CPSC", "OCF"],
        "redcap_dag": ["t1", "t2", "t3"],
    }
).astype("string")
REGION = pd.DataFrame({"region_code": ["03", "06"], "name_fr": ["Capitale-Nationale", "Montréal"],
                       "name_en": ["Capitale-Nationale", "Montreal"]})
# Pseudonymous-looking ids, so that a scan for ids finds them wherever they leak.
IDS = {name: hashlib.sha256(name.encode()).hexdigest()[:16] for name in ("fa", "fb", "fc", "fd", "fe")}


def _cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    family = pd.DataFrame(
        {
            "family_id": [IDS[name] for name in ("fa", "fb", "fc", "fd", "fe")],
            "territory_id": ["T1", "T1", "T1", "T2", "T2"],
            "first_contact_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01", "2024-02-01", "2024-06-20"]),
            "exit_date": pd.to_datetime([None, None, "2024-05-01", None, None]),
        }
    )
    assessment = pd.DataFrame(
        {
            "family_id": [IDS[name] for name in ("fa", "fb", "fc", "fd", "fd")],
            "wave": [0, 0, 0, 0, 6],
            "assessment_date": pd.to_datetime(["2024-01-10", "2024-01-10", "2024-01-10", "2024-02-05", "2024-08-01"]),
        }
    )
    return family, assessment


def _report(territories: tuple[str, ...] = ("T1", "T2", "T3")) -> FollowupReport:
    family, assessment = _cohort()
    family = family[family["territory_id"].isin(territories)]
    return FollowupReport(
        due=followups_due(family, assessment, as_of=AS_OF, schedule=SCHEDULE),
        completion=followup_completion(family, assessment, as_of=AS_OF, schedule=SCHEDULE),
        as_of=AS_OF,
        build_id="20240815T000000Z-abc123",
        territories=territories,
        territory_names=dict(zip(TERRITORY["territory_id"], TERRITORY["name"])),
        closing_days=SCHEDULE.closing_days,
    )


def _indicators() -> pd.DataFrame:
    rows = [{"scope": "quebec", "scope_id": "QC"}, {"scope": "region", "scope_id": "06"},
            {"scope": "region", "scope_id": "03"}] + [{"scope": "territory", "scope_id": t} for t in ("T1", "T2", "T3")]
    return indicator_frame(
        [{**row, "indicator": "reach.families_reached", "value": 40.0, "numerator": 40.0, "n": 40, "unit": "count",
          "method": "count"} for row in rows]
    )


def _write(tmp_path: Path, *, level: str = "internal", lang: str = "fr", scope: str = "quebec",
           report: FollowupReport | None = None) -> Path:
    context = {"lang": lang, "level": level, "scope": scope, "build_id": "b1", "code_version": "c1"}
    return write_snapshot(_indicators(), tmp_path / "snapshot-2024-08-15", territory=TERRITORY, region=REGION,
                          context=context, followups=report)


def _section(page: str, anchor: str) -> str:
    start = page.index(f'id="{anchor}"')
    end = page.find("</section>", start)
    return page[start:end]


def test_the_internal_snapshot_writes_the_page_in_both_languages_with_the_due_families(tmp_path: Path) -> None:
    report = _report()
    out = _write(tmp_path, report=report)
    assert {"followups.html", "followups.en.html"} <= {path.name for path in out.iterdir()}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    files = {entry["path"]: entry for entry in manifest["files"]}
    for name in ("followups.html", "followups.en.html"):
        assert files[name]["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    assert manifest["followups"] == {"as_of": "2024-08-15", "closing_days": 14}

    due = report.due.set_index("family_id")
    assert set(due.index) == {IDS["fa"], IDS["fb"], IDS["fe"]}
    for name, lang in (("followups.html", "fr"), ("followups.en.html", "en")):
        page = (out / name).read_text(encoding="utf-8")
        assert f'<html lang="{lang}">' in page
        assert "<script" not in page and "http" not in page and "<link" not in page and "src=" not in page
        assert number_faults(page, lang) == []  # completion rates, counts: the reader's way
        for key in ("followups_pseudonymous", "followups_internal"):
            assert CB.snapshot_text(key, lang=lang) in page.replace("&#39;", "'")
        # Each due family in its territory's section, with its wave, status and days left.
        for ident, row in due.iterrows():
            section = _section(page, f"territory-{row['territory_id']}")
            status = CB.snapshot_text(f"followups_status_{row['status']}", lang=lang)
            wave = CB.snapshot_text("wave_label", lang=lang, wave=int(row["wave"]))
            cells = re.search(rf'<th scope="row">{ident}</th><td>{wave}</td><td>{row["due_date"]:%Y-%m-%d}</td>'
                              rf'<td>[^<]+</td><td class="status status-{row["status"]}">{status}</td>'
                              rf'<td class="num">([^<]+)</td>', section)
            assert cells, (lang, ident)
            assert cells.group(1).replace("\u2212", "-") == str(row["days_left"])
        # The families not due (completed, exited, or without an open window) are not listed.
        assert IDS["fc"] not in page and IDS["fd"] not in page
        # A territory with nobody due says so.
        assert CB.snapshot_text("followups_none_due", lang=lang) in _section(page, "territory-T3")
    # The pages link to each other and back to their index page.
    fr, en = (out / "followups.html").read_text(encoding="utf-8"), (out / "followups.en.html").read_text(encoding="utf-8")
    assert 'href="followups.en.html"' in fr and 'href="index.html"' in fr
    assert 'href="followups.html"' in en and 'href="index.en.html"' in en


def test_the_index_pages_link_to_the_followups_page_in_their_language(tmp_path: Path) -> None:
    out = _write(tmp_path, lang="en", report=_report())
    assert (out / "followups.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert '<html lang="fr">' in (out / "followups.fr.html").read_text(encoding="utf-8")
    index_en = (out / "index.html").read_text(encoding="utf-8")
    index_fr = (out / "index.fr.html").read_text(encoding="utf-8")
    assert f'<a href="followups.html">{CB.snapshot_text("followups_link", lang="en")}</a>' in index_en
    assert f'<a href="followups.fr.html">{CB.snapshot_text("followups_link", lang="fr")}</a>' in index_fr


def test_completion_and_attrition_are_shown_as_counted(tmp_path: Path) -> None:
    report = _report()
    out = _write(tmp_path, report=report)
    page = (out / "followups.en.html").read_text(encoding="utf-8")
    completion = report.completion.set_index(["territory_id", "wave"])
    for (territory, wave), row in completion.iterrows():
        anchor = "all-territories" if territory == "all" else f"territory-{territory}"
        expected = "".join(
            f'<td class="num">{text}</td>'
            for text in (
                *(str(int(row[column])) for column in ("due", "completed", "missed", "exited")),
                format_percent(row["completion_rate"], lang="en"),
                format_percent(row["attrition_rate"], lang="en"),
            )
        )
        assert f'<th scope="row">T{wave}</th>{expected}' in _section(page, anchor), (territory, wave)


def test_a_public_snapshot_refuses_followups_and_holds_no_id(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="internal"):
        _write(tmp_path, level="public", report=_report())
    assert not (tmp_path / "snapshot-2024-08-15").exists()
    out = _write(tmp_path, level="public")
    assert not list(out.glob("followups*"))
    for path in (path for path in out.rglob("*") if path.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "followups" not in text and not any(ident in text for ident in IDS.values()), path.name


def test_an_internal_snapshot_without_followups_has_no_page_and_no_link(tmp_path: Path) -> None:
    out = _write(tmp_path)
    assert not list(out.glob("followups*"))
    assert "followups" not in (out / "index.html").read_text(encoding="utf-8")


def test_scope_territories() -> None:
    assert scope_territories("quebec", territory=TERRITORY) is None
    assert scope_territories("region:06", territory=TERRITORY) == ["T1", "T2"]
    assert scope_territories("territory:T3", territory=TERRITORY) == ["T3"]
    with pytest.raises(SnapshotError, match="99"):
        scope_territories("region:99", territory=TERRITORY)


def test_a_region_snapshot_shows_its_territories_only(tmp_path: Path) -> None:
    out = _write(tmp_path, scope="region:06", report=_report(("T1", "T2")))
    page = (out / "followups.html").read_text(encoding="utf-8")
    assert 'id="territory-T1"' in page and 'id="territory-T2"' in page and 'id="territory-T3"' not in page
    assert 'id="all-territories"' in page


#: REDCap record ids of the due families, as ``followups_from_warehouse`` puts them beside the pseudonyms.
RECORDS = {IDS["fa"]: "REC-1001", IDS["fe"]: "REC-1005"}


def _report_with_records(reason: str | None) -> FollowupReport:
    report = _report()
    due = report.due.copy()
    due.insert(2, "record_id", due["family_id"].map(RECORDS).astype("string"))
    return dataclasses.replace(report, due=due, record_ids_reason=reason)


def test_the_page_shows_each_record_id_beside_its_pseudonym_and_says_once_why_one_is_missing(tmp_path: Path) -> None:
    out = _write(tmp_path, report=_report_with_records("not_found"))
    for name, lang in (("followups.html", "fr"), ("followups.en.html", "en")):
        page = (out / name).read_text(encoding="utf-8")
        assert f"<th>{CB.snapshot_text('followups_col_record', lang=lang)}</th>" in page.replace(' scope="col"', "")
        for ident, record in RECORDS.items():
            assert re.search(rf'<th scope="row">{ident}</th><td>{record}</td>', page), (lang, ident)
        # fb is due but not in the pull: an empty cell, and one sentence saying why.
        assert re.search(rf'<th scope="row">{IDS["fb"]}</th><td></td>', page), lang
        note = CB.snapshot_text("followups_record_ids_not_found", lang=lang, count="1")
        assert page.replace("&#39;", "'").count(note) == 1, lang


def test_without_the_key_every_record_cell_is_empty_and_the_page_says_so(tmp_path: Path) -> None:
    report = _report_with_records("no_key")
    report = dataclasses.replace(report, due=report.due.assign(record_id=pd.Series(pd.NA, dtype="string")))
    page = (_write(tmp_path, report=report) / "followups.en.html").read_text(encoding="utf-8")
    assert CB.snapshot_text("followups_record_ids_no_key", lang="en") in page
    assert not any(record in page for record in RECORDS.values())


def test_a_page_with_every_record_id_found_has_no_missing_note(tmp_path: Path) -> None:
    report = _report_with_records(None)
    page = (_write(tmp_path, report=report) / "followups.en.html").read_text(encoding="utf-8")
    assert "Record ids missing" not in page and "without a record id" not in page


def test_record_ids_are_in_the_internal_follow_up_page_and_in_no_file_of_a_public_snapshot(tmp_path: Path) -> None:
    internal = _write(tmp_path / "internal", report=_report_with_records(None))
    pages = [(internal / name).read_text(encoding="utf-8") for name in ("followups.html", "followups.en.html")]
    assert all(record in page for page in pages for record in RECORDS.values())
    public = _write(tmp_path / "public", level="public")
    written = [path for path in public.rglob("*") if path.is_file()]
    assert written
    for path in written:
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert not any(record in text for record in RECORDS.values()), path.name
        assert CB.snapshot_text("followups_col_record", lang="fr") not in text, path.name

"""``proximite snapshot`` on a built warehouse: layer 04, the snapshot folder, languages, scopes, errors.

The project is built the demo's way without the flow (synthetic cohort → ingest → harmonise →
warehouse), small: 200 families in 4 territories.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite import pipeline
from proximite.cohort.codebook import load_codebook
from proximite.pipeline import ingest
from proximite.cohort.sandbox.synth import generate_cohort
from proximite.cohort.warehouse import current_build, table
from proximite.config import load_settings
from proximite.indicators import FAMILIES

runner = CliRunner()
KEY = b"snapshot-cli-test-key-0123456789abcdef"
HEX_RUN = re.compile(r"[0-9a-fA-F]{16,}")


@pytest.fixture(scope="module")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with a warehouse (no layer 04, no snapshot yet); copy it before writing into it."""
    root = tmp_path_factory.mktemp("snapshot-cli")
    input_dir = root / "input"
    generate_cohort(input_dir, families=200, territories=4, seed=11)
    settings = load_settings(root / "project")
    ingest(input_dir, settings=settings, validate=False)
    harmonised = pipeline.harmonise_staged(settings, key=KEY)
    pipeline.build_from_harmonised(settings, harmonised, validate=False)
    # Layer 04 once for every test (each works on a copy); the reuse test recomputes it.
    pipeline.compute_indicators(settings)
    return root / "project"


@pytest.fixture()
def project(built_project: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(built_project, copy)
    return copy


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.output


def _snapshot_path(output: str) -> Path:
    match = re.search(r"Snapshot: (.+index\.html)", " ".join(output.split()).replace("index. html", "index.html"))
    assert match, output
    return Path(match.group(1).replace(" ", ""))


def _row_level_ids(settings_dir: Path) -> set[str]:
    settings = load_settings(settings_dir)
    ids: set[str] = set()
    for name, column in (("family", "family_id"), ("child", "child_id"), ("need", "need_id"), ("referral", "referral_id")):
        ids |= set(table(settings, name)[column].astype(str))
    return ids


def _leaks(path: Path, identifiers: set[str]) -> list[str]:
    """Every pseudonymous id (16 hex characters) found anywhere in the file, read as text."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    found = set()
    for run in HEX_RUN.findall(text):
        found |= {run[i:i + 16] for i in range(len(run) - 15)} & identifiers
    return sorted(found)


def test_snapshot_writes_layer_04_and_a_dated_snapshot_without_any_row_level_id(project: Path) -> None:
    shutil.rmtree(project / "data" / "04_indicators")
    output = _invoke("snapshot", "--project-dir", str(project))
    index = _snapshot_path(output)
    settings = load_settings(project)
    build = current_build(settings)
    assert build is not None
    out = settings.reporting_dir / f"snapshot-{dt.date.today().isoformat()}-public-quebec"
    assert index == out / "index.html"
    assert {path.name for path in out.iterdir()} == {
        "index.html", "index.en.html", "indicators.csv", "indicators.json", "manifest.json",
        "overview.html", "overview.en.html", "glossary.html", "glossary.en.html", "regions", "territories",
    }

    layer = settings.data_dir / "04_indicators" / build.build_id
    indicators = pd.read_parquet(layer / "indicators.parquet")
    layer_manifest = json.loads((layer / "manifest.json").read_text())
    assert layer_manifest["build_id"] == build.build_id
    assert layer_manifest["rows"] == len(indicators) > 0
    assert set(layer_manifest["seconds"]) >= {"reach", "isolation", "needs_offer", "concertation", "implementation"}
    assert layer_manifest["parameters"]["confidence"] == 0.95
    assert layer_manifest["code_version"] == pipeline.code_version()

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data_version"] == build.build_id
    assert manifest["code_version"] == layer_manifest["code_version"]
    assert manifest["language"] == "fr" and manifest["scope"] == "quebec"
    assert manifest["disclosure"]["level"] == "public"
    for entry in manifest["files"]:
        assert hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]

    page = index.read_text(encoding="utf-8")
    assert '<html lang="fr">' in page and build.build_id in page
    cb = load_codebook()
    assert cb.indicator_label("reach.families_reached", lang="fr") in page
    assert "https://" not in page and "<script" not in page

    identifiers = _row_level_ids(project)
    assert len(identifiers) > 200
    for path in [*(path for path in out.rglob("*") if path.is_file()), *layer.iterdir()]:
        assert not _leaks(path, identifiers), f"{path.name} holds a row-level id"


def test_layer_04_is_reused_for_the_same_build_and_recomputed_on_request(project: Path) -> None:
    _invoke("snapshot", "--project-dir", str(project))
    settings = load_settings(project)
    layer = next((settings.data_dir / "04_indicators").iterdir())
    first = json.loads((layer / "manifest.json").read_text())["computed_at"]
    parquet_before = (layer / "indicators.parquet").read_bytes()
    _invoke("snapshot", "--project-dir", str(project), "--lang", "en")
    assert json.loads((layer / "manifest.json").read_text())["computed_at"] == first
    assert (layer / "indicators.parquet").read_bytes() == parquet_before
    output = _invoke("snapshot", "--project-dir", str(project), "--recompute")
    assert "Snapshot:" in output
    assert [path.name for path in (settings.data_dir / "04_indicators").iterdir()] == [layer.name]
    assert pd.read_parquet(layer / "indicators.parquet").shape == pd.read_parquet(
        pd.io.common.BytesIO(parquet_before)
    ).shape


def test_an_internal_region_snapshot_gets_its_own_folder_beside_the_public_quebec_one(project: Path) -> None:
    public = _snapshot_path(_invoke("snapshot", "--project-dir", str(project))).parent
    public_files = {str(path.relative_to(public)): path.read_bytes() for path in public.rglob("*") if path.is_file()}
    settings = load_settings(project)
    region = str(table(settings, "territory")["region_code"].iloc[0])
    output = _invoke("snapshot", "--project-dir", str(project), "--lang", "en", "--scope", f"region:{region}", "--level", "internal")
    out = _snapshot_path(output).parent
    today = dt.date.today().isoformat()
    assert public.name == f"snapshot-{today}-public-quebec"
    assert out.name == f"snapshot-{today}-internal-region-{region}"
    # An internal snapshot also lists the follow-ups due (pseudonymous ids), in both languages.
    names = {path.name for path in out.iterdir()}
    assert {
        "index.html", "index.fr.html", "indicators.csv", "indicators.json", "manifest.json", "followups.html", "followups.fr.html"
    } <= names
    # Beside them, only the transfer pages (overview, glossary, region and territory files).
    assert all(name.startswith(("index", "indicators", "manifest", "followups", "overview", "glossary"))
               or name in {"regions", "territories"} for name in names)
    assert '<html lang="en">' in (out / "index.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in (out / "index.fr.html").read_text(encoding="utf-8")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scope"] == f"region:{region}" and manifest["disclosure"]["level"] == "internal"
    csv = pd.read_csv(out / "indicators.csv", dtype=str, keep_default_na=False)
    assert set(csv["scope"]) <= {"region", "territory"} and "QC" not in set(csv["scope_id"])
    # The public Québec snapshot of the same day is untouched: same files, same bytes, no follow-ups page.
    assert {str(path.relative_to(public)): path.read_bytes() for path in public.rglob("*") if path.is_file()} == public_files
    assert not any(name.startswith("followups") for name in public_files)
    # Writing the public Québec snapshot again replaces only its own folder.
    _invoke("snapshot", "--project-dir", str(project), "--lang", "en")
    assert sorted(path.name for path in settings.reporting_dir.iterdir() if path.name.startswith((".snapshot", "snapshot"))) == sorted(
        [public.name, out.name]
    )
    assert '<html lang="en">' in (public / "index.html").read_text(encoding="utf-8")


def test_out_chooses_the_folder_and_never_mixes_levels_or_scopes(project: Path, tmp_path: Path) -> None:
    chosen = tmp_path / "for-the-ministry"
    output = _invoke("snapshot", "--project-dir", str(project), "--out", str(chosen))
    assert _snapshot_path(output) == chosen / "index.html"
    assert json.loads((chosen / "manifest.json").read_text())["disclosure"]["level"] == "public"
    before = {str(path.relative_to(chosen)): path.read_bytes() for path in chosen.rglob("*") if path.is_file()}
    # An internal snapshot into the public one's folder is refused, and the folder left as it was.
    result = runner.invoke(app, ["snapshot", "--project-dir", str(project), "--out", str(chosen), "--level", "internal"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "public snapshot of quebec" in text and "internal" in text and "--out" in text
    assert {str(path.relative_to(chosen)): path.read_bytes() for path in chosen.rglob("*") if path.is_file()} == before
    # So is another scope, and a folder that holds something else than a snapshot.
    region = str(table(load_settings(project), "territory")["region_code"].iloc[0])
    result = runner.invoke(app, ["snapshot", "--project-dir", str(project), "--out", str(chosen), "--scope", f"region:{region}"])
    assert result.exit_code == 1 and f"region:{region}" in " ".join(result.output.split())
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "minutes.txt").write_text("kept", encoding="utf-8")
    result = runner.invoke(app, ["snapshot", "--project-dir", str(project), "--out", str(notes)])
    assert result.exit_code == 1 and "manifest.json" in " ".join(result.output.split())
    assert (notes / "minutes.txt").read_text(encoding="utf-8") == "kept"
    # The same level and scope again replaces the folder.
    _invoke("snapshot", "--project-dir", str(project), "--out", str(chosen), "--lang", "en")
    assert '<html lang="en">' in (chosen / "index.html").read_text(encoding="utf-8")


def test_bad_options_and_a_missing_warehouse_fail_clearly(project: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["snapshot", "--project-dir", str(project), "--scope", "region:99"])
    assert result.exit_code == 1 and "region" in result.output and "99" in result.output
    result = runner.invoke(app, ["snapshot", "--project-dir", str(project), "--lang", "de"])
    assert result.exit_code == 2 and "fr or en" in result.output
    result = runner.invoke(app, ["snapshot", "--project-dir", str(project), "--level", "open"])
    assert result.exit_code == 2 and "public or internal" in result.output
    result = runner.invoke(app, ["snapshot", "--project-dir", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "proximite build" in result.output
    assert not (tmp_path / "empty" / "reporting").exists()


@pytest.mark.journey
def test_the_indicators_and_snapshot_flows_write_layer_04_and_the_snapshot(project: Path, prefect_api: None) -> None:
    from proximite.flows.indicators import indicators
    from proximite.flows.snapshot import snapshot

    shutil.rmtree(project / "data" / "04_indicators")
    build = current_build(load_settings(project))
    assert build is not None
    computed = indicators(str(project), build.build_id)
    indicators_dir = computed["indicators_dir"]
    assert Path(indicators_dir) == project / "data" / "04_indicators" / build.build_id
    assert (Path(indicators_dir) / "indicators.parquet").is_file() and computed["units"] == len(FAMILIES)
    snapshot_dir = snapshot(str(project), indicators_dir)["snapshot_dir"]
    assert Path(snapshot_dir) == project / "reporting" / f"snapshot-{dt.date.today().isoformat()}-public-quebec"
    assert json.loads((Path(snapshot_dir) / "manifest.json").read_text())["data_version"] == build.build_id

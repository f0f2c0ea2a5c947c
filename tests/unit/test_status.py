"""`project_status`: the last pulls, the current build and the last snapshot, from a real project."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_inputs import build_input_dir, write_csv  # noqa: E402

from proximite.cohort.codebook import load_codebook  # noqa: E402
from proximite.errors import InputError  # noqa: E402
from proximite.pipeline import ingest  # noqa: E402
from proximite.cohort.status import project_status, pull_history  # noqa: E402
from proximite.config import load_settings  # noqa: E402

GOOD, BAD = "20240101T000000Z-000001", "20240102T000000Z-000002"


def test_status_of_a_good_then_a_refused_pull(tmp_path: Path) -> None:
    good_input = build_input_dir(tmp_path / "good", load_codebook())
    settings = load_settings(tmp_path / "project")
    ingest(good_input, settings=settings, pull_id=GOOD)

    status = project_status(settings)
    assert status["build"] is None and status["snapshot"] is None
    assert {(pull["source"], pull["outcome"], pull["latest"]) for pull in status["pulls"]} == {
        (source, "staged", True) for source in ("reference", "redcap", "registry", "cost")
    }
    assert all(pull["rows"] > 0 and pull["mode"] == "files" for pull in status["pulls"])
    json.dumps(status)  # plain Python types only

    bad_input = tmp_path / "bad"
    shutil.copytree(good_input, bad_input)
    costs = next((bad_input / "costs").glob("*.csv"))
    write_csv(costs, ["nothing", "useful"], [["1", "2"]])
    with pytest.raises(InputError):
        ingest(bad_input, settings=settings, pull_id=BAD, sources=["cost"])

    history = pull_history(settings)
    newest = history.iloc[0]
    assert (newest["source"], newest["pull_id"], newest["outcome"], bool(newest["latest"])) == ("cost", BAD, "failed", False)
    assert pd_isna(newest["rows"]) and newest["error"]
    good_cost = history[(history["source"] == "cost") & (history["pull_id"] == GOOD)].iloc[0]
    assert bool(good_cost["latest"]) and good_cost["outcome"] == "staged"
    assert len(pull_history(settings, limit=2)) == 2


def test_last_snapshot_is_the_newest_manifest(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "project")
    for day, build in (("2026-01-01", "b1"), ("2026-01-02", "b2")):
        folder = settings.reporting_dir / f"snapshot-{day}"
        folder.mkdir(parents=True)
        (folder / "index.html").write_text("<html></html>", encoding="utf-8")
        (folder / "manifest.json").write_text(json.dumps({"data_version": build}), encoding="utf-8")
    status = project_status(settings)
    assert status["snapshot"]["data_version"] == "b2"
    assert status["snapshot"]["path"].endswith("snapshot-2026-01-02/index.html")


def pd_isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))

"""Journey: a coordinator acts on a refused pull.

Five defects are planted in five records of a sandbox project (as a REDCap project holds them when
its dictionary changed after data entry: a choice removed, a validation added). The coordinator:

1. ``proximite pull redcap`` → refused; the message counts the defects and names the report;
2. opens ``failures.csv``: one row per defect with its record id, event, instance, field, rule,
   allowed values and value;
3. corrects the five values through PyCap's ``import_records`` (as from REDCap's import tool);
4. ``proximite pull redcap`` again → staged, ``LATEST`` moves.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort import layers
from proximite.cohort.privacy.encryption import is_encrypted
from proximite.cohort.privacy.storage import read_protected
from proximite.cohort.sandbox.server import SandboxServer
from proximite.config import load_settings

runner = CliRunner()

EVENT, INSTRUMENT, INSTANCE = "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"
#: field → (bad value, the rule the report gives); one defect per record.
PLANTED = {
    "iso_transport": ("9", "unknown code"),
    "suivi_date": ("2024-13-01", "date cannot be parsed"),
    "monoparentale": ("peut-etre", "not a yes/no value"),
    "canal_recrutement": ("porte_a_porte", "unknown code"),
    "stress_2": ("six", "unknown code"),
}


def _plant(records: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Put each defect on a row of a different record; return ``{record: {field, event, instrument, instance, good}}``."""
    planted: dict[str, dict[str, str]] = {}
    for field, (bad, _) in PLANTED.items():
        candidates = records[(records[field].astype(str).str.strip() != "") & ~records["record_id"].isin(list(planted))]
        index = candidates.index[0]
        row = records.loc[index]
        planted[str(row["record_id"])] = {
            "field": field, "event": row[EVENT], "instrument": row.get(INSTRUMENT, ""),
            "instance": row.get(INSTANCE, ""), "good": row[field],
        }
        records.loc[index, field] = bad
    return planted


def test_a_refused_pull_lists_every_defect_then_passes_once_they_are_corrected(
    sandbox_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redcap

    started = time.monotonic()
    served = sandbox_project.copy()
    planted = _plant(served.records)
    project_dir = tmp_path / "project"
    with SandboxServer(served) as server:
        monkeypatch.setenv("SANDBOX_TOKEN", server.token)
        pull = ["pull", "redcap", "--url", server.url, "--token-env", "SANDBOX_TOKEN", "--project-dir", str(project_dir)]

        refused = runner.invoke(app, pull)
        assert refused.exit_code != 0
        output = " ".join(refused.output.split())
        assert "5 defect(s) in 5 record(s)" in output, refused.output
        settings = load_settings(project_dir)
        assert layers.latest_pull(settings, "redcap") is None
        reports = list((settings.data_dir / "quarantine").glob("*/redcap/report/failures.csv"))
        assert len(reports) == 1
        assert is_encrypted(reports[0])  # record ids: encrypted at rest, read through the project's keys
        failures = pd.read_csv(
            io.BytesIO(read_protected(reports[0], settings=settings)), dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
        assert sorted(failures["record_id"]) == sorted(planted)
        for record, where in planted.items():
            row = failures[failures["record_id"] == record].iloc[0]
            bad, rule = PLANTED[where["field"]]
            assert (row["field"], row["rule"], row["value"], row["event"]) == (where["field"], rule, bad, where["event"])
            assert row["source_file"].startswith("records_") and int(row["source_row"]) >= 1
        assert failures["allowed"].str.len().gt(0).all()
        # Each defect links to its record's home page in this REDCap (the version asked once, on refusal).
        base = server.url.removesuffix("api/")
        for row in failures.itertuples(index=False):
            assert row.link.startswith(f"{base}redcap_v") and "/DataEntry/record_home.php?pid=" in row.link
            assert row.link.split("&id=")[1].split("&")[0] == row.record_id

        corrections = [
            {"record_id": record, EVENT: where["event"], INSTRUMENT: where["instrument"] or "",
             INSTANCE: where["instance"] or "", where["field"]: where["good"]}
            for record, where in planted.items()
        ]
        answer = redcap.Project(server.url, server.token).import_records(corrections, import_format="json")
        assert answer["count"] == len(planted)

        passed = runner.invoke(app, pull)
        assert passed.exit_code == 0, passed.output
        assert layers.latest_pull(settings, "redcap") is not None
    print(f"journey (b): {time.monotonic() - started:.1f} s")

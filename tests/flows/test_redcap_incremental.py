"""Pulls through PyCap against the REDCap sandbox: an incremental pull after changes and deletions
gives the same warehouse as a full pull, and a token bound to a data access group pulls only
its territory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import redcap

from proximite.cohort.codebook import load_codebook
from proximite.expectations.gates import GateFailed
from proximite.pipeline import ingest
from proximite.cohort.layers import latest_pull, read_staged
from proximite.cohort.privacy.encryption import is_encrypted
from proximite.cohort.raw_files import read_raw_file
from proximite.cohort.redcap.pull import PullResult
from proximite.cohort.redcap.watermark import read_watermark
from proximite.pipeline import pull_redcap
from proximite.config import load_settings

FAST = {"pause_seconds": 0.0, "backoff_seconds": 0.01, "retries": 2, "timeout_seconds": 30}
OTHER_SOURCES = ["reference", "registry", "cost"]


# ------------------------------------------------------------------------------------ helpers
def _pull(server, settings, *, token: str | None = None, batch_size: int = 7, **options) -> PullResult:
    return pull_redcap(server.url, token=token or server.token, settings=settings, batch_size=batch_size, **{**FAST, **options})


def _build(settings, input_dir: Path, key: bytes) -> None:
    """Ingest the file sources once, then harmonise the latest staged pulls and build the warehouse."""
    from proximite import pipeline

    if latest_pull(settings, "reference") is None:
        ingest(input_dir, settings=settings, sources=OTHER_SOURCES)
    harmonised = pipeline.harmonise_staged(settings, key=key)
    pipeline.build_from_harmonised(settings, harmonised)


def _accept_orphan_activities(settings):
    """The project's settings with orphan activities reported, not blocking (until the partner's next file)."""
    settings.project_dir.mkdir(parents=True, exist_ok=True)
    (settings.project_dir / "proximite.toml").write_text(
        '[validation.rules]\n"harmonised.activity.family_exists" = { severity = "warning" }\n', encoding="utf-8"
    )
    return load_settings(settings.project_dir)


def _warehouse(settings) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return {table: connection.execute(f"SELECT * FROM {table}").df() for table in load_codebook().tables}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame.reset_index(drop=True)
    return frame.sort_values(list(frame.columns), kind="stable", na_position="first").reset_index(drop=True)


def _assert_same_warehouse(one: dict[str, pd.DataFrame], other: dict[str, pd.DataFrame]) -> None:
    assert set(one) == set(other)
    for table in one:
        assert list(one[table].columns) == list(other[table].columns), table
        pd.testing.assert_frame_equal(_sorted(one[table]), _sorted(other[table]), check_dtype=True, obj=table)


def _assert_same_staged(incremental: dict[str, pd.DataFrame], full: dict[str, pd.DataFrame]) -> None:
    """Same rows per form (``source_row`` aside: it points into each pull's own files)."""
    assert set(incremental) == set(full)
    for form in full:
        a, b = incremental[form].drop(columns="source_row"), full[form].drop(columns="source_row")
        # A missing-reason column can outlive the last record that needed it; it is then empty.
        for column in set(a.columns) - set(b.columns):
            assert column.endswith("__missing_reason") and a[column].isna().all(), (form, column)
        a = a[list(b.columns)]
        pd.testing.assert_frame_equal(_sorted(a), _sorted(b), obj=form)


def _age_records(server) -> None:
    """Make every record look last changed an hour ago, so only later changes count as changes."""
    earlier = (dt.datetime.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    records = server.project.records
    server.project.modified.update({str(record): earlier for record in records[records.columns[0]].unique()})


def _rows(project: redcap.Project, record: str) -> list[dict[str, str]]:
    return project.export_records(format_type="json", records=[record], export_data_access_groups=True)


def _choose(records: pd.DataFrame, *, having: str, exclude: set[str]) -> str:
    """A record that has rows of a repeating instrument or event (``having``), not yet used."""
    mask = (records["redcap_repeat_instrument"] == having) | (records["redcap_event_name"] == having)
    for record in records.loc[mask, "record_id"]:
        if record not in exclude:
            return str(record)
    raise AssertionError(f"no record with {having}")


def _make_changes(server) -> tuple[set[str], set[str]]:
    """Update fields, add a record with an extra wave and an instance, delete records, through PyCap.

    Returns the records changed (existing at the end) and the records deleted.
    """
    codebook = load_codebook()
    project = redcap.Project(server.url, server.token)
    records = server.project.records.copy()
    used: set[str] = set()

    # 1. Update a family's recruitment channel and another family's T0 transport score.
    family = _choose(records, having="inclusion_arm_1", exclude=used)
    used.add(family)
    current = records.loc[(records["record_id"] == family) & (records["redcap_repeat_instrument"] == ""), "canal_recrutement"].iloc[0]
    other_channel = next(code for code in codebook.field_choices("canal_recrutement") if code != current)
    assessed = _choose(records, having="t0_arm_1", exclude=used)
    used.add(assessed)
    t0 = records.loc[(records["record_id"] == assessed) & (records["redcap_event_name"] == "t0_arm_1")].iloc[0]
    new_score = "3" if t0["iso_transport"] != "3" else "0"
    project.import_records(
        [
            {"record_id": family, "redcap_event_name": "inclusion_arm_1", "canal_recrutement": other_channel},
            {"record_id": assessed, "redcap_event_name": "t0_arm_1", "iso_transport": new_score},
        ]
    )

    # 2. A new record (a copy of one with a T0) with an extra wave, T24.
    template = _choose(records, having="t0_arm_1", exclude=used)
    used.add(template)
    rows = _rows(project, template)
    new_id = "9001"
    for row in rows:
        row["record_id"] = new_id
    has_t24 = any(row["redcap_event_name"] == "t24_arm_1" for row in rows)
    if not has_t24:
        extra = dict(next(row for row in rows if row["redcap_event_name"] == "t0_arm_1"))
        extra["redcap_event_name"] = "t24_arm_1"
        extra["suivi_date"] = (pd.Timestamp(extra["suivi_date"]) + pd.Timedelta(days=730)).strftime("%Y-%m-%d")
        rows.append(extra)
    project.import_records(rows)

    # 3. A new instance of a repeating instrument (besoin) for another record.
    needy = _choose(records, having="besoin", exclude=used)
    used.add(needy)
    needs = [row for row in _rows(project, needy) if row["redcap_repeat_instrument"] == "besoin"]
    instance = dict(needs[-1])
    instance["redcap_repeat_instance"] = str(max(int(row["redcap_repeat_instance"]) for row in needs) + 1)
    instance["bes_statut"] = "identifie"
    project.import_records([{key: value for key, value in instance.items() if key != "redcap_data_access_group"}])

    # 4. Two records deleted; a third deleted and created again (its rows come back changed).
    candidates = [str(record) for record in records["record_id"].unique() if str(record) not in used]
    deleted, reborn = set(candidates[:2]), candidates[2]
    reborn_rows = [row for row in _rows(project, reborn) if row["redcap_repeat_instrument"] != "enfant"]
    project.delete_records(sorted(deleted | {reborn}))
    project.import_records(reborn_rows)
    changed = {family, assessed, new_id, needy, reborn}
    return changed, deleted


# ------------------------------------------------------------------------------------ tests
@pytest.mark.journey
def test_incremental_pull_gives_the_warehouse_of_a_full_pull(
    redcap_sandbox, sandbox_project_dir: Path, tmp_path: Path, pseudonym_env: bytes
) -> None:
    server = redcap_sandbox
    _age_records(server)
    settings = load_settings(tmp_path / "incremental")
    first = _pull(server, settings)
    assert first.mode == "full" and first.reason == "no previous pull"
    _build(settings, sandbox_project_dir, pseudonym_env)
    families_before = len(_warehouse(settings)["family"])

    changed, deleted = _make_changes(server)
    second = _pull(server, settings)
    assert second.mode == "incremental" and second.previous_pull == first.pull_id
    assert second.records == len(changed)  # only what changed is fetched
    assert second.deleted == len(deleted)
    assert read_watermark(settings).pull_id == second.pull_id == latest_pull(settings, "redcap")
    # The partners' registry still names the deleted records: by default the build refuses the orphans.
    with pytest.raises(GateFailed, match="harmonised.activity.family_exists"):
        _build(settings, sandbox_project_dir, pseudonym_env)
    settings = _accept_orphan_activities(settings)
    _build(settings, sandbox_project_dir, pseudonym_env)
    incremental = _warehouse(settings)
    assert len(incremental["family"]) == families_before + 1 - len(deleted)

    reference = _accept_orphan_activities(load_settings(tmp_path / "full"))
    full = _pull(server, reference)
    assert full.mode == "full"
    _build(reference, sandbox_project_dir, pseudonym_env)
    _assert_same_warehouse(incremental, _warehouse(reference))
    _assert_same_staged(read_staged(settings, "redcap"), read_staged(reference, "redcap"))


def test_a_pull_with_nothing_changed_fetches_no_record_and_keeps_the_state(redcap_sandbox, tmp_path: Path) -> None:
    server = redcap_sandbox
    _age_records(server)
    settings = load_settings(tmp_path / "project")
    first = _pull(server, settings)
    again = _pull(server, settings)
    assert (again.mode, again.records, again.deleted) == ("incremental", 0, 0)
    assert again.rows == first.rows
    before, after = read_staged(settings, "redcap", first.pull_id), read_staged(settings, "redcap", again.pull_id)
    for form, frame in before.items():
        pd.testing.assert_frame_equal(_sorted(after[form]), _sorted(frame), obj=form)
        # Unchanged forms are not written again: the new pull's file is the previous one's.
        assert (again.staged_dir / f"{form}.parquet").stat().st_ino == (first.staged_dir / f"{form}.parquet").stat().st_ino
    forced = _pull(server, settings, full=True)
    assert (forced.mode, forced.reason, forced.records) == ("full", "asked for (--full)", first.records)


def test_raw_layer_keeps_every_answer_with_its_manifest_and_no_token(redcap_sandbox, tmp_path: Path) -> None:
    import hashlib
    import json

    server = redcap_sandbox
    settings = load_settings(tmp_path / "project")
    result = _pull(server, settings, batch_size=15)
    manifest = json.loads((result.raw_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["source"] == "redcap" and manifest["staged"] is True and manifest["error"] is None
    assert manifest["parameters"]["url"] == server.url and manifest["parameters"]["batch_size"] == 15
    assert manifest["parameters"]["watermark"] == result.watermark
    names = [entry["path"] for entry in manifest["files"]]
    assert {"project_info.csv", "metadata.csv", "events.csv", "form_event_mapping.csv", "dags.csv", "record_ids.csv"} <= set(names)
    assert [name for name in names if name.startswith("records_")] == ["records_0001.csv", "records_0002.csv", "records_0003.csv"]
    for entry in manifest["files"]:  # size and digest of each answer as received (stored encrypted)
        assert is_encrypted(result.raw_dir / entry["path"])
        data = read_raw_file(result.raw_dir / entry["path"], settings=settings)
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    batches = sum(entry["rows"] for entry in manifest["files"] if entry["path"].startswith("records_"))
    assert batches == sum(result.rows.values())  # every row lands in one form table
    for path in [*result.raw_dir.iterdir(), *result.staged_dir.iterdir()]:
        assert server.token.encode() not in path.read_bytes(), path.name
    assert server.token not in json.dumps(result.summary())


@pytest.mark.journey
def test_a_token_bound_to_a_data_access_group_pulls_only_its_territory(
    redcap_sandbox, sandbox_project_dir: Path, tmp_path: Path, pseudonym_env: bytes
) -> None:
    server = redcap_sandbox
    _age_records(server)
    records = server.project.records
    inclusion = records.loc[records["redcap_repeat_instrument"] == ""].drop_duplicates("record_id")
    groups = inclusion["redcap_data_access_group"].value_counts()
    group = str(groups.index[0])
    own = set(inclusion.loc[inclusion["redcap_data_access_group"] == group, "record_id"])
    token = server.add_token(dag=group)
    # The input holds every territory's registry while the token sees one group: the other
    # territories' activities have no family here, which this project accepts as a warning.
    settings = _accept_orphan_activities(load_settings(tmp_path / "territory"))

    result = _pull(server, settings, token=token)
    famille = read_staged(settings, "redcap")["famille"]
    assert set(famille["record_id"]) == own and result.records == len(own)
    for frame in read_staged(settings, "redcap").values():
        assert set(frame["redcap_data_access_group"].dropna()) <= {group}
    _build(settings, sandbox_project_dir, pseudonym_env)
    territories = pd.read_csv(sandbox_project_dir / "reference" / "territories.csv", dtype=str)
    territory = territories.loc[territories["redcap_dag"] == group, "territory_id"].item()
    family = _warehouse(settings)["family"]
    assert len(family) == len(own) and set(family["territory_id"]) == {territory}

    # Changes elsewhere are invisible to the group's incremental pull; its own are fetched.
    project = redcap.Project(server.url, server.token)
    elsewhere = sorted(set(inclusion["record_id"]) - own)
    project.delete_records(elsewhere[:1])
    mine = sorted(own)[0]
    current = inclusion.loc[inclusion["record_id"] == mine, "monoparentale"].item()
    project.import_records([{"record_id": mine, "redcap_event_name": "inclusion_arm_1", "monoparentale": "0" if current == "1" else "1"}])
    again = _pull(server, settings, token=token)
    assert (again.mode, again.records, again.deleted) == ("incremental", 1, 0)
    assert set(read_staged(settings, "redcap")["famille"]["record_id"]) == own


def test_cli_pull_reads_the_token_from_the_environment_and_never_prints_it(
    redcap_sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from proximite.cli import app

    monkeypatch.setenv("PROX_TEST_REDCAP_TOKEN", redcap_sandbox.token)
    result = CliRunner().invoke(
        app,
        ["pull", "redcap", "--url", redcap_sandbox.url, "--token-env", "PROX_TEST_REDCAP_TOKEN",
         "--project-dir", str(tmp_path / "project"), "--batch-size", "10"],
    )
    assert result.exit_code == 0, result.output
    assert "full" in result.output and redcap_sandbox.token not in result.output
    monkeypatch.setenv("PROX_TEST_REDCAP_TOKEN", "not-a-token")
    refused = CliRunner().invoke(
        app, ["pull", "redcap", "--url", redcap_sandbox.url, "--token-env", "PROX_TEST_REDCAP_TOKEN", "--project-dir", str(tmp_path / "p2")]
    )
    assert refused.exit_code == 1 and "PROX_TEST_REDCAP_TOKEN" in refused.output and "not-a-token" not in refused.output

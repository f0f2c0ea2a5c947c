"""A REDCap pull under every fault the sandbox injects: it recovers, or it fails clearly and the
last good state is intact.

Faults: 5xx answers (``error``), a body cut short of its ``Content-Length`` (``truncate``), a
connection closed without an answer (``drop``), REDCap's out-of-memory answer (status 200, PHP's
HTML error then REDCap's), and latency beyond the time-out. For each:

- with fewer failures in a row than the retry budget, the pull succeeds and stages exactly what
  a clean pull stages;
- with more, it raises :class:`RedcapPullError` naming the request and the tries; the raw
  directory stays with its manifest saying ``staged: false`` and why; ``LATEST`` and the warehouse
  are untouched;
- the token appears nowhere: not in the error, the manifest or any raw file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from proximite.cohort.ingest import MANIFEST_NAME
from proximite.pipeline import ingest
from proximite.cohort.layers import latest_pull, raw_dir, read_staged
from proximite.cohort.sandbox.server import FAULT_MODES
from proximite.cohort.redcap.errors import RedcapPullError
from proximite.cohort.redcap.fetch import STEP_RECORDS
from proximite.pipeline import pull_redcap
from proximite.config import Settings, load_settings

RETRIES = 3
FAST = {"backoff_seconds": 0.001, "pause_seconds": 0.0, "timeout_seconds": 10, "batch_size": 10}


def _pull(server, settings: Settings, **options):
    return pull_redcap(server.url, token=server.token, settings=settings, **{**FAST, "retries": RETRIES, **options})


def _staged(settings: Settings) -> dict[str, pd.DataFrame]:
    return read_staged(settings, "redcap")


def _assert_same_staged(one: dict[str, pd.DataFrame], other: dict[str, pd.DataFrame]) -> None:
    assert list(one) == list(other)
    for form in one:
        pd.testing.assert_frame_equal(one[form], other[form], obj=form)


def _token_nowhere(token: str, directory: Path, *texts: str) -> None:
    for text in texts:
        assert token not in text
    for path in directory.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def clean(redcap_sandbox, tmp_path: Path) -> dict[str, pd.DataFrame]:
    """What a pull without faults stages."""
    settings = load_settings(tmp_path / "clean")
    _pull(redcap_sandbox, settings)
    return _staged(settings)


@pytest.fixture
def built(redcap_sandbox, sandbox_project_dir: Path, tmp_path: Path, pseudonym_env: bytes) -> Settings:
    """A project with a good pull of every source and a warehouse built from them."""
    from proximite import pipeline

    settings = load_settings(tmp_path / "project")
    _pull(redcap_sandbox, settings)
    ingest(sandbox_project_dir, settings=settings, sources=["reference", "registry", "cost"])
    pipeline.build_from_harmonised(settings, pipeline.harmonise_staged(settings, key=pseudonym_env))
    return settings


@pytest.mark.journey
@pytest.mark.parametrize("mode", FAULT_MODES)
def test_failures_within_the_budget_are_retried_and_the_pull_equals_a_clean_one(
    redcap_sandbox, clean: dict[str, pd.DataFrame], tmp_path: Path, mode: str
) -> None:
    server = redcap_sandbox
    settings = load_settings(tmp_path / "faulty")
    server.faults.fail_next_mode = mode
    server.faults.fail_next = RETRIES  # the first request fails RETRIES times, then succeeds
    result = _pull(server, settings, full=True)
    assert server.faults.fail_next == 0
    _assert_same_staged(_staged(settings), clean)
    manifest = json.loads((result.raw_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["staged"] is True
    assert manifest["files"][0]["attempts"] == RETRIES + 1
    assert result.requests == sum(entry["attempts"] for entry in manifest["files"]) + 1  # + PyCap's own metadata call


@pytest.mark.journey
@pytest.mark.parametrize("mode", FAULT_MODES)
def test_faults_midway_through_the_records_are_retried(redcap_sandbox, clean, tmp_path: Path, mode: str) -> None:
    server = redcap_sandbox
    settings = load_settings(tmp_path / "faulty")

    def strike(step: str, done: int, total: int) -> None:
        if step == STEP_RECORDS and done == 10:  # after the first batch: the second fails twice
            server.faults.fail_next_mode = mode
            server.faults.fail_next = 2

    _pull(server, settings, progress=strike)
    _assert_same_staged(_staged(settings), clean)


def test_random_faults_of_every_kind_are_absorbed(redcap_sandbox, clean, tmp_path: Path) -> None:
    server = redcap_sandbox
    faults = server.faults
    faults.error_rate, faults.truncate_rate, faults.drop_rate, faults.out_of_memory_rate = 0.1, 0.05, 0.05, 0.05
    faults.seed = 2024
    result = _pull(server, load_settings(tmp_path / "faulty"), retries=8)
    assert result.requests > 13  # some tries failed
    _assert_same_staged(read_staged(load_settings(tmp_path / "faulty"), "redcap"), clean)


@pytest.mark.journey
@pytest.mark.parametrize("mode", FAULT_MODES)
def test_failures_beyond_the_budget_stop_the_pull_and_keep_the_last_good_state(
    redcap_sandbox, built: Settings, mode: str
) -> None:
    server = redcap_sandbox
    settings = built
    good = latest_pull(settings, "redcap")
    warehouse = _digest(settings.warehouse_path)
    staged_before = _staged(settings)

    def strike(step: str, done: int, total: int) -> None:
        if step == STEP_RECORDS and done == 10:  # a partial pull: the first batch is in 01 raw
            server.faults.fail_next_mode = mode
            server.faults.fail_next = 100

    with pytest.raises(RedcapPullError) as error:
        _pull(server, settings, full=True, progress=strike)
    message = str(error.value)
    assert f"records batch 2 of 4 failed after {RETRIES + 1} tries" in message
    assert "untouched" in message
    assert error.value.attempts == RETRIES + 1

    failed = error.value.raw_dir
    assert failed is not None and failed.parent == raw_dir(settings, "redcap", "x").parent
    manifest = json.loads((failed / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["staged"] is False and "records batch 2 of 4" in manifest["error"]
    assert "records_0001.csv" in [entry["path"] for entry in manifest["files"]]
    assert (failed / "records_0001.csv").is_file() and not (failed / "records_0002.csv").exists()

    assert latest_pull(settings, "redcap") == good
    assert _digest(settings.warehouse_path) == warehouse
    _assert_same_staged(_staged(settings), staged_before)
    assert not any(path.name.endswith(".partial") for path in (settings.data_dir / "02_staged" / "redcap").iterdir())
    _token_nowhere(server.token, settings.data_dir, message, json.dumps(manifest))


def test_an_incremental_pull_that_fails_keeps_the_previous_watermark(redcap_sandbox, tmp_path: Path) -> None:
    from proximite.cohort.redcap.watermark import read_watermark

    server = redcap_sandbox
    settings = load_settings(tmp_path / "project")
    first = _pull(server, settings)
    server.faults.fail_next_mode = "error"
    server.faults.fail_next = 100
    with pytest.raises(RedcapPullError, match="project information failed after"):
        _pull(server, settings)
    assert read_watermark(settings).pull_id == first.pull_id
    server.faults.fail_next = 0
    assert _pull(server, settings).mode == "incremental"


def test_latency_under_the_timeout_is_waited_for(redcap_sandbox, clean, tmp_path: Path) -> None:
    server = redcap_sandbox
    server.faults.latency_seconds = 0.05
    settings = load_settings(tmp_path / "slow")
    result = _pull(server, settings, timeout_seconds=5, batch_size=20)
    assert result.requests == 12  # no try failed (11 requests of the pull, 1 of PyCap's own)
    assert _staged(settings)["famille"]["record_id"].tolist() == clean["famille"]["record_id"].tolist()


def test_latency_beyond_the_timeout_fails_clearly(redcap_sandbox, tmp_path: Path) -> None:
    server = redcap_sandbox
    server.faults.latency_seconds = 0.6
    settings = load_settings(tmp_path / "slow")
    with pytest.raises(RedcapPullError) as error:
        _pull(server, settings, timeout_seconds=0.15, retries=1)
    message = str(error.value)
    assert "project information failed after 2 tries" in message and "time-out" in message
    assert latest_pull(settings, "redcap") is None
    _token_nowhere(server.token, settings.data_dir, message)


def test_a_refused_token_is_not_retried_and_not_shown(redcap_sandbox, tmp_path: Path) -> None:
    server = redcap_sandbox
    wrong = "0" * 32
    settings = load_settings(tmp_path / "project")
    with pytest.raises(RedcapPullError, match="refused") as error:
        pull_redcap(server.url, token=wrong, settings=settings, **FAST)
    assert "HTTP 403" in str(error.value) and wrong not in str(error.value)
    assert server.requests == 1
    _token_nowhere(wrong, settings.data_dir, str(error.value))


def test_a_value_that_does_not_fit_the_dictionary_names_the_batch_file_and_row(redcap_sandbox, tmp_path: Path) -> None:
    from proximite.errors import InputError

    server = redcap_sandbox
    records = server.project.records.copy()
    # A follow-up row of the record that opens the second batch (of 10 records) gets an impossible date.
    second = sorted(records["record_id"].unique(), key=int)[10]
    rows = records.index[records["record_id"] == second]
    target = next(index for index in rows if records.loc[index, "suivi_date"] != "")
    records.loc[target, "suivi_date"] = "2024-02-30"
    server.project.records = records
    settings = load_settings(tmp_path / "project")
    with pytest.raises(InputError) as error:
        _pull(server, settings)
    message = str(error.value)
    assert "records_0002.csv" in message and "suivi_date" in message and "2024-02-30" not in message
    # The row within records_0002.csv (the batch starts with the record's first row).
    assert error.value.row == int(records.index.get_loc(target)) - int(records.index.get_loc(rows[0])) + 1
    assert latest_pull(settings, "redcap") is None
    manifest = json.loads(next((settings.data_dir / "01_raw" / "redcap").iterdir()).joinpath(MANIFEST_NAME).read_text())
    assert manifest["staged"] is False and "records_0002.csv" in manifest["error"]

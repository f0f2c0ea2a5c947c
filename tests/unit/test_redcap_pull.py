"""The pure parts of the REDCap pull: batching, id checks, incremental merge, redaction, retries,
answer checks, and the missing-data codes of the REDCap typing (file export and API alike)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_inputs import build_input_dir, redcap_records  # noqa: E402

from proximite.cohort.codebook import load_codebook  # noqa: E402
from proximite.pipeline import ingest  # noqa: E402
from proximite.cohort.layers import read_staged  # noqa: E402
from proximite.cohort.redcap.answers import parse_csv_body  # noqa: E402
from proximite.cohort.redcap.batches import batch_mismatch, id_batches, unique_ids  # noqa: E402
from proximite.cohort.redcap.client import open_project  # noqa: E402
from proximite.cohort.redcap.dictionary import parse_missing_codes  # noqa: E402
from proximite.cohort.redcap.errors import (  # noqa: E402
    REDACTED,
    AnswerError,
    RedcapPullError,
    RefusedError,
    TransientError,
    public_url,
    redact,
    token_from_env,
)
from proximite.cohort.redcap.incremental import deleted_records, merge_incremental  # noqa: E402
from proximite.cohort.redcap.layout import flat_columns  # noqa: E402
from proximite.cohort.redcap.project import RedcapProject  # noqa: E402
from proximite.cohort.redcap.pull import PullResult  # noqa: E402
from proximite.cohort.redcap.records import stage_records  # noqa: E402
from proximite.cohort.redcap.retries import RetryPolicy, call_with_retries, is_transient  # noqa: E402
from proximite.cohort.redcap.watermark import parse_server_date, structure_fingerprint  # noqa: E402
from proximite.config import load_settings  # noqa: E402

TOKEN = "0123456789ABCDEF0123456789ABCDEF"


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


# ----------------------------------------------------------------------------------- batching
def test_unique_ids_keep_first_seen_order_and_drop_blanks() -> None:
    assert unique_ids(["3", "3", "1", "", None, " 2 ", "1", "10"]) == ["3", "1", "2", "10"]


@pytest.mark.parametrize(("n", "size", "expected"), [(0, 3, []), (5, 2, [2, 2, 1]), (6, 3, [3, 3]), (2, 500, [2])])
def test_id_batches_cover_every_id_once_in_order(n: int, size: int, expected: list[int]) -> None:
    ids = [str(i) for i in range(1, n + 1)]
    batches = id_batches(ids, size)
    assert [len(batch) for batch in batches] == expected
    assert [record for batch in batches for record in batch] == ids


def test_id_batches_refuse_a_size_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        id_batches(["1"], 0)


def test_batch_mismatch_names_missing_and_unexpected_ids() -> None:
    assert batch_mismatch(["1", "2", "3"], ["1", "2", "3", "3"]) == ([], [])
    assert batch_mismatch(["1", "2", "3"], ["1", "4"]) == (["2", "3"], ["4"])


# ----------------------------------------------------------------------------------- deletions
def _log(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["timestamp", "action", "record"])


def test_deleted_records_are_those_whose_last_action_is_a_deletion() -> None:
    entries = _log(
        [
            ("2026-01-02 10:00", "Update record 1", "1"),
            ("2026-01-02 10:01", "Delete record 2", "2"),
            ("2026-01-02 10:02", "Delete record 3", "3"),
            ("2026-01-02 10:03", "Create record 3", "3"),  # deleted, then created again
            ("2026-01-02 10:04", "Create record 4", "4"),
            ("2026-01-02 10:05", "Delete record 4", "4"),  # created, then deleted
        ]
    )
    assert deleted_records(entries) == ["2", "4"]
    # The same log newest first (as REDCap's log page lists it) gives the same answer.
    assert deleted_records(entries.iloc[::-1]) == ["2", "4"]


def test_deleted_records_read_the_id_from_the_action_without_a_record_column() -> None:
    entries = pd.DataFrame({"timestamp": ["2026-01-02 10:00"], "action": ["Deleted Record 17"]})
    assert deleted_records(entries) == ["17"]
    assert deleted_records(pd.DataFrame()) == []


# ----------------------------------------------------------------------------------- merge
def _form(rows: list[tuple[str, str, float | None]], *, reason: list[str | None] | None = None) -> pa.Table:
    """Rows of a staged form as the staged Parquet holds them (pandas metadata included)."""
    frame = pd.DataFrame(
        {
            "record_id": pd.array([r[0] for r in rows], dtype="string"),
            "redcap_event_name": pd.array([r[1] for r in rows], dtype="string"),
            "redcap_repeat_instrument": pd.array([None] * len(rows), dtype="string"),
            "redcap_repeat_instance": pd.array([None] * len(rows), dtype="Int64"),
            "score": pd.array([r[2] for r in rows], dtype="Float64"),
        }
    )
    if reason is not None:
        frame["score__missing_reason"] = pd.array(reason, dtype="string")
    return pa.Table.from_pandas(frame, preserve_index=False)


def test_merge_replaces_changed_records_drops_deleted_ones_and_keeps_the_rest() -> None:
    previous = {
        "suivi": _form([("1", "t0_arm_1", 1.0), ("1", "t6_arm_1", 2.0), ("2", "t0_arm_1", 3.0), ("3", "t0_arm_1", 4.0)]),
        "sortie": _form([("3", "inclusion_arm_1", 9.0)]),
    }
    # Record 1 lost its t6 row and changed its t0 row; record 10 is new; record 3 is deleted.
    fresh = {
        "suivi": _form([("1", "t0_arm_1", 5.0), ("10", "t0_arm_1", 6.0), ("10", "t6_arm_1", 7.0)]),
        "sortie": _form([]),
    }
    merged = merge_incremental(previous, fresh, changed=["10", "1"], deleted=["3"])
    suivi = merged["suivi"].to_pandas()
    assert list(zip(suivi["record_id"], suivi["redcap_event_name"], suivi["score"], strict=True)) == [
        ("1", "t0_arm_1", 5.0), ("2", "t0_arm_1", 3.0), ("10", "t0_arm_1", 6.0), ("10", "t6_arm_1", 7.0),
    ]
    assert merged["sortie"].num_rows == 0 and merged["sortie"].schema.names == previous["sortie"].schema.names
    assert merged["suivi"].schema.equals(previous["suivi"].schema, check_metadata=True)
    assert previous["suivi"].num_rows == 4  # inputs untouched


def test_merge_keeps_a_missing_reason_column_present_on_one_side_only() -> None:
    previous = {"suivi": _form([("1", "t0_arm_1", 1.0), ("2", "t0_arm_1", None)])}
    fresh = {"suivi": _form([("1", "t0_arm_1", None)], reason=["Ne sait pas"])}
    merged = merge_incremental(previous, fresh, changed=["1"])["suivi"]
    frame = merged.to_pandas()  # as read_staged reads it: the pandas metadata knows the new column
    assert frame["score__missing_reason"].dtype == "string"
    assert frame["score__missing_reason"].tolist()[0] == "Ne sait pas" and pd.isna(frame["score__missing_reason"].iloc[1])
    # The other way round: the previous side's column is null for the fresh rows.
    back = merge_incremental({"suivi": merged}, {"suivi": _form([("1", "t0_arm_1", 2.0)])}, changed=["1"])["suivi"]
    assert back.column("score__missing_reason").null_count == 2
    # A form that only the fresh rows have appears too.
    assert merge_incremental({}, fresh, changed=["1"])["suivi"].num_rows == 1


def test_merge_with_nothing_changed_is_the_previous_state_and_orders_ids_as_numbers() -> None:
    previous = {"suivi": _form([("2", "t0_arm_1", 3.0), ("10", "t0_arm_1", 1.0)])}
    assert merge_incremental(previous, {}, changed=[], deleted=[])["suivi"].equals(previous["suivi"])
    fresh = {"suivi": _form([("9", "t0_arm_1", 1.0)])}
    merged = merge_incremental(previous, fresh, changed=["9"])["suivi"]
    assert merged.column("record_id").to_pylist() == ["2", "9", "10"]
    text_ids = merge_incremental({"suivi": _form([("B-2", "t0_arm_1", 1.0)])}, {"suivi": _form([("A-1", "t0_arm_1", 1.0)])}, changed=["A-1"])
    assert text_ids["suivi"].column("record_id").to_pylist() == ["A-1", "B-2"]


# ----------------------------------------------------------------------------------- secrets
def test_redact_removes_the_token_in_every_spelling() -> None:
    text = f"token '{TOKEN}' bad; payload token={TOKEN.lower()}&content=record"
    cleaned = redact(text, TOKEN)
    assert TOKEN not in cleaned and TOKEN.lower() not in cleaned
    assert cleaned.count(REDACTED) == 2
    assert redact("a+b c", "a+b c") == REDACTED
    assert redact("q=a%2Bb+c", "a+b c") == "q=" + REDACTED


def test_public_url_drops_credentials_and_query() -> None:
    assert public_url("https://user:secret@redcap.example.org:8443/api/?x=1#f") == "https://redcap.example.org:8443/api/"


def test_token_from_env_names_the_variable_never_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROX_TEST_TOKEN", raising=False)
    with pytest.raises(RedcapPullError, match="PROX_TEST_TOKEN is not set"):
        token_from_env("PROX_TEST_TOKEN")
    bad = "not-a-token-value-1234"
    monkeypatch.setenv("PROX_TEST_TOKEN", bad)
    with pytest.raises(RedcapPullError, match="32 hexadecimal") as error:
        token_from_env("PROX_TEST_TOKEN")
    assert bad not in str(error.value) and "PROX_TEST_TOKEN" in str(error.value)
    monkeypatch.setenv("PROX_TEST_TOKEN", f"  {TOKEN}\n")
    assert token_from_env("PROX_TEST_TOKEN") == TOKEN


def test_pycaps_own_message_about_a_malformed_token_is_redacted() -> None:
    malformed = "SECRET-TOKEN-WITH-THE-WRONG-LENGTH"
    with pytest.raises(RedcapPullError) as error:
        open_project("http://127.0.0.1:9/api/", malformed)
    assert malformed not in str(error.value)
    assert REDACTED in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_pull_refuses_a_malformed_token_before_any_request(tmp_path: Path) -> None:
    from proximite.pipeline import pull_redcap

    secret = "abc" * 12
    with pytest.raises(RedcapPullError, match="malformed") as error:
        pull_redcap("http://127.0.0.1:9/api/", token=secret, settings=load_settings(tmp_path))
    assert secret not in str(error.value)
    assert not (tmp_path / "data").exists()


def test_summary_is_json_ready_counts_only(tmp_path: Path) -> None:
    result = PullResult(
        pull_id="p", mode="full", watermark="2026-01-01T00:00:00Z", records=3, deleted=0, rows={"famille": 3},
        raw_dir=tmp_path, staged_dir=tmp_path, requests=9, seconds=1.23456,
    )
    summary = result.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["seconds"] == 1.235 and summary["rows"] == {"famille": 3}


# ----------------------------------------------------------------------------------- retries
class FakeCalls:
    """Fails with the given errors in turn, then answers ``"ok"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_retry_policy_backs_off_exponentially_up_to_a_cap() -> None:
    policy = RetryPolicy(retries=6, backoff_seconds=0.5, max_backoff_seconds=4)
    assert [policy.delay(k) for k in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]
    assert policy.attempts == 7
    with pytest.raises(ValueError):
        RetryPolicy(retries=-1)


@pytest.mark.parametrize(
    "error",
    [
        TransientError("HTTP 503"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError("connection reset"),
        requests.exceptions.ChunkedEncodingError("incomplete read"),
    ],
)
def test_transient_failures_are_retried_then_succeed(error: BaseException) -> None:
    sleeps: list[float] = []
    fake = FakeCalls(error, error)
    result, attempts = call_with_retries(fake, policy=RetryPolicy(retries=2, backoff_seconds=0.1), what="records batch 1 of 1", sleep=sleeps.append)
    assert (result, attempts, fake.calls) == ("ok", 3, 3)
    assert sleeps == [0.1, 0.2]
    assert is_transient(error)


def test_after_the_last_try_the_error_names_the_request_and_the_tries_without_the_token() -> None:
    fake = FakeCalls(*[requests.exceptions.ConnectionError(f"POST token={TOKEN}")] * 4)
    with pytest.raises(RedcapPullError) as error:
        call_with_retries(fake, policy=RetryPolicy(retries=3, backoff_seconds=0), what="records batch 2 of 5", secrets=(TOKEN,), sleep=lambda s: None)
    message = str(error.value)
    assert "records batch 2 of 5 failed after 4 tries" in message
    assert "untouched" in message and "01 raw" in message
    assert TOKEN not in message
    assert (error.value.request, error.value.attempts, fake.calls) == ("records batch 2 of 5", 4, 4)


def test_a_refusal_is_not_retried_and_other_errors_pass_through() -> None:
    fake = FakeCalls(RefusedError(f"HTTP 403: You do not have permissions to use the API ({TOKEN})"))
    with pytest.raises(RedcapPullError, match="refused the request") as error:
        call_with_retries(fake, policy=RetryPolicy(retries=5, backoff_seconds=0), what="metadata", secrets=(TOKEN,), sleep=lambda s: None)
    assert fake.calls == 1 and TOKEN not in str(error.value)
    with pytest.raises(KeyError):
        call_with_retries(FakeCalls(KeyError("bug")), policy=RetryPolicy(), what="x", sleep=lambda s: None)


# ----------------------------------------------------------------------------------- answers
def test_parse_csv_body_reads_strings_without_guessing() -> None:
    table = parse_csv_body(b"record_id,score\n007,1.50\n8,\n", required=("record_id",))
    assert table.column("record_id").to_pylist() == ["007", "8"]
    assert table.column("score").to_pylist() == ["1.50", ""]
    assert parse_csv_body(b"", required=("record_id",)).num_rows == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'<br />\n<b>Fatal error</b>: Allowed memory size of 134217728 bytes exhausted\n{"error":"out of memory"}', "memory"),
        (b"record_id,score\n1,2\n3", "wrong length"),
    ],
)
def test_parse_csv_body_retries_what_another_try_may_cure(body: bytes, reason: str) -> None:
    with pytest.raises(TransientError, match=reason):
        parse_csv_body(body, required=("record_id",))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html><body>Connexion SSO</body></html>", "HTML or XML page"),
        (b"id,score\n1,2\n", "has no record_id field"),
        (b'{"error":"The value is not valid"}', "is JSON"),
        (b"record_id,record_id\n1,2\n", "repeats a column"),
        ("record_id,scoré\n1,2\n".encode("cp1252"), "not UTF-8"),
    ],
)
def test_parse_csv_body_refuses_at_once_a_complete_answer_that_is_not_the_csv_asked_for(body: bytes, reason: str) -> None:
    with pytest.raises(AnswerError, match=reason) as error:
        parse_csv_body(body, required=("record_id",))
    assert not is_transient(error.value)


def test_parse_csv_body_refuses_an_empty_answer_where_rows_are_expected() -> None:
    with pytest.raises(AnswerError, match="empty"):
        parse_csv_body(b"\n", required=("record_id",), allow_empty=False)


def test_an_unusable_answer_is_not_retried_and_gives_no_batch_size_advice() -> None:
    fake = FakeCalls(AnswerError("the answer has no project_id field, which REDCap always sends"))
    sleeps: list[float] = []
    with pytest.raises(RedcapPullError) as error:
        call_with_retries(fake, policy=RetryPolicy(retries=5, backoff_seconds=1), what="project information", sleep=sleeps.append)
    message = str(error.value)
    assert fake.calls == 1 and sleeps == [] and error.value.attempts == 1
    assert message.startswith("project information: the answer has no project_id field")
    assert "not retried" in message and "untouched" in message
    assert "batch-size" not in message and "failed after" not in message


def test_the_batch_size_advice_comes_only_where_the_batch_size_matters() -> None:
    def last_message(what: str, error: BaseException) -> str:
        with pytest.raises(RedcapPullError) as caught:
            call_with_retries(FakeCalls(error, error), policy=RetryPolicy(retries=1, backoff_seconds=0), what=what, sleep=lambda s: None)
        return str(caught.value)

    assert "--batch-size" in last_message("records batch 2 of 3", requests.exceptions.ReadTimeout("slow"))
    assert "--batch-size" in last_message("metadata", TransientError("REDCap ran out of memory (an HTML error page)"))
    refused_connection = last_message("project information", requests.exceptions.ConnectionError("refused"))
    assert "--batch-size" not in refused_connection and "the URL, the network" in refused_connection


def test_server_date_and_structure_fingerprint() -> None:
    moment = parse_server_date("Wed, 21 Jan 2026 06:00:00 GMT")
    assert moment is not None and moment.isoformat() == "2026-01-21T06:00:00+00:00"
    assert parse_server_date("not a date") is None and parse_server_date(None) is None
    one = structure_fingerprint({"metadata": b"a,b\r\n1,2\r\n", "events": b"e"})
    assert one == structure_fingerprint({"events": b"e", "metadata": b"a,b\n1,2\n"})
    assert one != structure_fingerprint({"events": b"e", "metadata": b"a,b\n1,3\n"})


# ----------------------------------------------------------------------------------- missing-data codes
def test_parse_missing_codes() -> None:
    assert parse_missing_codes("NSP, Ne sait pas | REF, Refus") == {"NSP": "Ne sait pas", "REF": "Refus"}
    assert parse_missing_codes("UNK, Unknown\nNA") == {"UNK": "Unknown", "NA": ""}
    assert parse_missing_codes("") == {}
    with pytest.raises(Exception, match="declared twice"):
        parse_missing_codes("NSP, a | NSP, b")


def _records(cb, edits: dict[tuple[int, str], str], extra: dict[str, str] | None = None) -> pd.DataFrame:
    columns, rows = redcap_records(cb)
    frame = pd.DataFrame(rows, columns=columns)
    for (row, column), value in edits.items():
        frame.loc[row, column] = value
    for column, value in (extra or {}).items():
        frame[column] = value
    return frame


def test_missing_codes_become_missing_with_their_reason(cb) -> None:
    project = dataclasses.replace(
        RedcapProject.from_codebook(cb), info={"missing_data_codes": "NSP, Ne sait pas | REF, Refus | UNK"}
    )
    # Row 3 is record 1001 at T0 (suivi); row 0 its inclusion (famille).
    records = _records(cb, {(3, "iso_transport"): "NSP", (3, "suivi_date"): "REF", (0, "monoparentale"): "UNK"})
    tables = stage_records(records, project)
    suivi, famille = tables["suivi"], tables["famille"]
    assert pd.isna(suivi.loc[0, "iso_transport"]) and suivi.loc[0, "iso_transport__missing_reason"] == "Ne sait pas"
    assert pd.isna(suivi.loc[0, "suivi_date"]) and suivi.loc[0, "suivi_date__missing_reason"] == "Refus"
    assert suivi["iso_transport__missing_reason"].isna().sum() == len(suivi) - 1
    assert famille.loc[0, "monoparentale__missing_reason"] == "code UNK" and pd.isna(famille.loc[0, "monoparentale"])
    assert famille["monoparentale"].dtype == "boolean"
    # Fields without a missing code get no companion column.
    assert "iso_mefiance__missing_reason" not in suivi.columns


def test_a_checkbox_missing_code_column_blanks_the_boxes(cb) -> None:
    project = dataclasses.replace(RedcapProject.from_codebook(cb), info={"missing_data_codes": "NSP, Ne sait pas"})
    records = _records(cb, {}, extra={"ressources_3m___nsp": ""})
    records.loc[records["redcap_event_name"].isin(["t0_arm_1", "t6_arm_1"]), "ressources_3m___nsp"] = "0"
    records.loc[4, "ressources_3m___nsp"] = "1"  # record 1001 at T6
    suivi = stage_records(records, project)["suivi"]
    boxes = [c for c in suivi.columns if c.startswith("ressources_3m___")]
    assert "ressources_3m___nsp" not in boxes
    t6 = suivi["redcap_event_name"] == "t6_arm_1"
    assert suivi.loc[t6, boxes].isna().all(axis=None)
    assert suivi.loc[t6, "ressources_3m__missing_reason"].tolist() == ["Ne sait pas"]
    assert suivi.loc[~t6, boxes].notna().all(axis=None)


def test_without_declared_codes_a_code_in_a_radio_field_is_still_refused(cb) -> None:
    from proximite.errors import InputError

    records = _records(cb, {(3, "iso_transport"): "NSP"})
    with pytest.raises(InputError, match="unknown code"):
        stage_records(records, RedcapProject.from_codebook(cb))


def test_file_export_path_reads_the_codes_from_project_json(tmp_path: Path, cb, pseudonym_env: bytes) -> None:
    input_dir = build_input_dir(tmp_path / "input", cb)
    redcap = input_dir / "redcap"
    info = json.loads((redcap / "project.json").read_text(encoding="utf-8"))
    info["missing_data_codes"] = "NSP, Ne sait pas | REF, Refus"
    (redcap / "project.json").write_text(json.dumps(info), encoding="utf-8")
    records = pd.read_csv(redcap / "records.csv", dtype=str, keep_default_na=False)
    records.loc[3, "iso_transport"] = "NSP"
    records.to_csv(redcap / "records.csv", index=False, lineterminator="\n")
    settings = load_settings(tmp_path / "project")
    ingest(input_dir, settings=settings)
    suivi = read_staged(settings, "redcap")["suivi"]
    assert suivi["iso_transport__missing_reason"].tolist()[0] == "Ne sait pas"
    assert pd.isna(suivi["iso_transport"].iloc[0])

    # Harmonise ignores the companion column, and the index counts the item as unanswered.
    from proximite import pipeline

    harmonised = pipeline.harmonise_staged(settings, key=pseudonym_env)
    assessment = pd.read_parquet(harmonised / "assessment.parquet")
    assert "iso_transport__missing_reason" not in assessment.columns
    first = assessment.sort_values("assessment_date").iloc[0]
    assert pd.isna(first["transport"]) and first["dimensions_answered"] == 5


def test_flat_columns_follow_the_dictionary(cb) -> None:
    columns, _ = redcap_records(cb)
    assert flat_columns(RedcapProject.from_codebook(cb)) == columns


def test_synthetic_project_declares_codes_and_some_isolation_answers_use_them(tmp_path: Path) -> None:
    from proximite.cohort.sandbox.synth import generate_cohort

    summary = generate_cohort(tmp_path / "input", families=300, territories=5, seed=3)
    info = json.loads((summary.out_dir / "redcap" / "project.json").read_text(encoding="utf-8"))
    assert parse_missing_codes(info["missing_data_codes"]) == {"NSP": "Ne sait pas", "REF": "Refus"}
    records = pd.read_csv(summary.out_dir / "redcap" / "records.csv", dtype=str, keep_default_na=False)
    items = records[[c for c in records.columns if c.startswith("iso_")]]
    answered = (items != "").to_numpy().sum()
    share = (items == "NSP").to_numpy().sum() / answered
    assert 0.002 < share < 0.03


def test_merge_returns_a_form_untouched_by_the_changes_as_the_previous_table_itself() -> None:
    previous = {"suivi": _form([("1", "t0_arm_1", 1.0), ("2", "t0_arm_1", 3.0)])}
    same = {"suivi": _form([("1", "t0_arm_1", 1.0)])}
    assert merge_incremental(previous, same, changed=["1"])["suivi"] is previous["suivi"]
    changed = {"suivi": _form([("1", "t0_arm_1", 2.0)])}
    assert merge_incremental(previous, changed, changed=["1"])["suivi"] is not previous["suivi"]
    companion = {"suivi": _form([("1", "t0_arm_1", None)], reason=["Ne sait pas"])}
    assert merge_incremental(previous, companion, changed=["1"])["suivi"] is not previous["suivi"]

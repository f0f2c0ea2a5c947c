"""The flows' pure parts: artifacts, cache guard, task runner choice, failure notices, SMTP block."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from proximite.flows import artifacts
from proximite.flows.caching import WhileOutputExists
from proximite.flows.notify import SmtpEmail, failure_notice
from proximite.flows.runners import DASK_ADDRESS_ENV, fanout_task_runner


def test_plain_turns_numpy_pandas_and_paths_into_json_types() -> None:
    value = {"a": np.int64(3), "b": np.float32(0.5), "c": float("nan"), "d": pd.NA, "e": Path("/x"), "f": [np.bool_(True)],
             "g": pd.Timestamp("2025-01-02")}
    assert artifacts.plain(value) == {"a": 3, "b": 0.5, "c": None, "d": None, "e": "/x", "f": [True], "g": "2025-01-02T00:00:00"}


def test_the_run_summary_names_pulls_validation_rows_build_and_snapshot() -> None:
    text = artifacts.run_summary_markdown(
        flow_name="pipeline",
        pull={"pull_id": "P1", "mode": "incremental", "records": 120, "requests": 14, "deleted": 2},
        ingest={"registry": {"pull_id": "R1", "rows": {"activity": 1000, "supervision": 10}}},
        validation={"rules": 150, "rules_failed": 1},
        build={"build_id": "B1", "built_at": "2026-01-01", "row_counts": {"family": 60, "activity": 1000}, "inputs": {"registry": "R1"}},
        indicators_dir="/p/data/04_indicators/B1",
        snapshot_dir="/p/reporting/snapshot-2026-01-01",
        cached=["build", "harmonise"],
    )
    assert "incremental pull `P1`" in text and "120 records in 14 requests" in text
    assert "**registry** (pull `R1`): 1,010 rows in 2 table(s)" in text
    assert "150 rules, 1 with failing rows" in text
    assert "## Warehouse build `B1`" in text and "| activity | 1,000 |" in text and "| family | 60 |" in text
    assert "/p/reporting/snapshot-2026-01-01/index.html" in text
    assert "taken from the cache: build, harmonise" in text


def test_validation_rows_give_each_tables_outcome() -> None:
    rows = artifacts.validation_rows(
        {"layer": "harmonised", "tables": [
            {"table": "activity", "rules": 10, "rules_failing": 0, "failing_rows": 0, "blocking": 0},
            {"table": "family", "rules": 8, "rules_failing": 1, "failing_rows": 3, "blocking": 0},
            {"table": "need", "rules": 5, "rules_failing": 1, "failing_rows": 7, "blocking": 1},
        ]}
    )
    assert [row["outcome"] for row in rows] == ["passed", "warnings", "refused"]
    assert rows[1] == {"layer": "harmonised", "table": "family", "rules": 8, "rules_failing": 1, "failing_rows": 3, "blocking": 0, "outcome": "warnings"}


def test_validation_rows_count_rules_per_table_from_a_gate_result() -> None:
    from proximite.expectations.base import FAILURE_COLUMNS, SUMMARY_COLUMNS, ValidationResult

    def rule(table: str, rule_id: str, severity: str, failed: int, passed: bool) -> list[Any]:
        return ["harmonised", None, table, rule_id, "type", severity, 0.0, 100, failed, failed / 100, passed, "ge", ""]

    summary = pd.DataFrame(
        [rule("family", "a", "error", 0, True), rule("family", "b", "warning", 4, False), rule("need", "c", "error", 2, False)],
        columns=SUMMARY_COLUMNS,
    )
    result = ValidationResult("harmonised", None, "x", summary, pd.DataFrame(columns=FAILURE_COLUMNS)).to_dict()
    rows = {row["table"]: row for row in artifacts.validation_rows(result)}
    assert rows["family"]["rules"] == 2 and rows["family"]["rules_failing"] == 1 and rows["family"]["outcome"] == "warnings"
    assert rows["need"]["blocking"] == 1 and rows["need"]["failing_rows"] == 2 and rows["need"]["outcome"] == "refused"


def _indicator_rows() -> pd.DataFrame:
    base = {"scope": "quebec", "scope_id": "QC", "stratum": "all", "stratum_value": "all", "breakdown": "all", "breakdown_value": "all",
            "numerator": np.nan, "denominator": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": np.nan, "unit": "count", "suppressed": False}
    return pd.DataFrame([
        {**base, "indicator": "reach.families_reached", "wave": pd.NA, "period": "all", "value": 1234.0},
        {**base, "indicator": "reach.families_reached", "wave": pd.NA, "period": "T0", "value": 40.0},
        {**base, "indicator": "isolation.share_isolated", "wave": 6, "period": pd.NA, "value": np.nan, "suppressed": True, "unit": "share",
         "numerator": np.nan, "denominator": 20.0},
        {**base, "indicator": "isolation.share_isolated", "wave": 0, "period": pd.NA, "value": 0.125, "unit": "share",
         "numerator": 150.0, "denominator": 1200.0, "ci_low": 0.1064, "ci_high": 0.1468},
        {**base, "indicator": "isolation.mean_index", "wave": 0, "period": pd.NA, "value": 47.26, "unit": "mean", "ci_low": 45.04, "ci_high": 49.46},
        {**base, "indicator": "concertation.density", "wave": pd.NA, "period": "all", "value": 0.3},
        {**base, "scope": "region", "scope_id": "06", "indicator": "reach.families_reached", "wave": pd.NA, "period": "all", "value": 20.0},
    ])


def test_headline_rows_keep_quebecs_headline_indicators_overall_periods_in_order() -> None:
    rows = artifacts.headline_rows(_indicator_rows(), label=lambda indicator: indicator.upper())
    assert [(row["id"], row["Vague"], row["Période"]) for row in rows] == [
        ("reach.families_reached", "–", "Ensemble du suivi"),
        ("isolation.mean_index", "T0", "–"),
        ("isolation.share_isolated", "T0", "–"),
        ("isolation.share_isolated", "T6", "–"),
    ]
    assert rows[0]["Indicateur"] == "REACH.FAMILIES_REACHED"


def test_headline_rows_format_shares_counts_means_and_intervals_in_french_by_default() -> None:
    rows = {(row["id"], row["Vague"]): row for row in artifacts.headline_rows(_indicator_rows())}
    nbsp = "\u202f"  # the snapshot's French spaces: between thousands and before %
    interval = f"IC à 95{nbsp}%"
    reached = rows[("reach.families_reached", "–")]
    assert reached["Indicateur"] == "Familles rejointes" and reached["Valeur"] == f"1{nbsp}234" and reached[interval] == "–"
    share = rows[("isolation.share_isolated", "T0")]
    assert share["Valeur"] == f"12,5{nbsp}%" and share[interval] == f"10,6{nbsp}% à 14,7{nbsp}%"
    assert share["Numérateur"] == "150" and share["Dénominateur"] == f"1{nbsp}200"
    mean = rows[("isolation.mean_index", "T0")]
    assert mean["Valeur"] == "47,3" and mean[interval] == "45,0 à 49,5"
    # Disclosure control stays: a suppressed cell shows the snapshot's symbol in every number column.
    hidden = rows[("isolation.share_isolated", "T6")]
    assert (hidden["Valeur"], hidden[interval], hidden["Numérateur"], hidden["Dénominateur"]) == ("x", "x", "x", "x")


def test_headline_rows_in_english_on_request() -> None:
    rows = {(row["id"], row["Wave"]): row for row in artifacts.headline_rows(_indicator_rows(), lang="en", confidence=0.9)}
    share = rows[("isolation.share_isolated", "T0")]
    assert share["Indicator"] == "Share of families isolated (index ≥ threshold)"
    assert share["Value"] == "12.5%" and share["90% CI"] == "10.6% to 14.7%" and share["Denominator"] == "1,200"
    assert rows[("reach.families_reached", "–")]["Value"] == "1,234" and rows[("reach.families_reached", "–")]["Period"] == "Whole follow-up"
    with pytest.raises(ValueError, match="lang"):
        artifacts.headline_rows(_indicator_rows(), lang="de")


def test_pull_progress_sends_a_rising_percentage_per_step_at_most_once_a_second() -> None:
    sent: list[float] = []
    progress = artifacts.PullProgress(lambda value: "id-1", lambda artifact_id, value: sent.append(value), steps=3, every_seconds=3600)
    progress("project", 12, 12)  # end of a step: always sent
    for done in range(1, 100):
        progress("records", done, 100)  # throttled
    progress("records", 100, 100)
    progress("stage to 02", 1, 2)
    progress.finish()
    assert sent == [pytest.approx(33.3), pytest.approx(66.7), 100.0]
    assert progress.artifact_id == "id-1"


class _Policy:
    def compute_key(self, **kwargs: Any) -> str:
        return "inner-key"


def test_the_cache_key_is_the_inner_policys_and_a_missing_output_counts_as_missing(tmp_path: Path) -> None:
    policy = WhileOutputExists(output_exists=lambda inputs: Path(inputs["path"]).exists(), policy=_Policy())
    inputs = {"path": str(tmp_path / "out")}
    assert policy.compute_key(task_ctx=None, inputs=inputs, flow_parameters={}) == "inner-key"
    assert policy.output_present(inputs) is False
    (tmp_path / "out").mkdir()
    assert policy.output_present(inputs) is True
    broken = WhileOutputExists(output_exists=lambda inputs: 1 / 0, policy=_Policy())
    assert broken.output_present({}) is False


def test_the_fanout_runs_on_dask_when_a_scheduler_is_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from proximite.config import load_settings

    monkeypatch.delenv(DASK_ADDRESS_ENV, raising=False)
    assert isinstance(fanout_task_runner(load_settings(tmp_path)), ThreadPoolTaskRunner)
    (tmp_path / "proximite.toml").write_text('[orchestration]\ndask_address = "tcp://127.0.0.1:8786"\n', encoding="utf-8")
    runner = fanout_task_runner(load_settings(tmp_path))
    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://127.0.0.1:8786"
    monkeypatch.setenv(DASK_ADDRESS_ENV, "tcp://10.0.0.1:9000")
    assert fanout_task_runner(load_settings(tmp_path)).address == "tcp://10.0.0.1:9000"


def test_the_local_fanout_runs_on_threads_unless_processes_are_asked_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    from proximite.config import ConfigError, load_settings
    from proximite.flows import runners

    monkeypatch.delenv(DASK_ADDRESS_ENV, raising=False)
    monkeypatch.delenv(runners.FANOUT_WORKERS_ENV, raising=False)
    assert runners.fanout_workers(load_settings(tmp_path)) == "threads"
    for chosen, kind in (("threads", ThreadPoolTaskRunner), ("processes", ProcessPoolTaskRunner)):
        (tmp_path / "proximite.toml").write_text(f'[orchestration]\nfanout_workers = "{chosen}"\n', encoding="utf-8")
        assert isinstance(fanout_task_runner(load_settings(tmp_path), max_workers=2), kind)
    monkeypatch.setenv(runners.FANOUT_WORKERS_ENV, "threads")  # the environment wins
    assert isinstance(fanout_task_runner(load_settings(tmp_path)), ThreadPoolTaskRunner)
    monkeypatch.setenv(runners.FANOUT_WORKERS_ENV, "gpu")
    with pytest.raises(ConfigError, match="PROXIMITE_FANOUT_WORKERS = 'gpu': expected one of threads, processes"):
        fanout_task_runner(load_settings(tmp_path))
    monkeypatch.delenv(runners.FANOUT_WORKERS_ENV)
    (tmp_path / "proximite.toml").write_text('[orchestration]\nfanout_workers = "auto"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="fanout_workers = 'auto': expected one of threads, processes"):
        fanout_task_runner(load_settings(tmp_path))


def test_a_failure_notice_names_the_gates_reports_hides_tokens_and_says_what_stays(tmp_path: Path) -> None:
    from proximite.expectations.base import FAILURE_COLUMNS, SUMMARY_COLUMNS, ValidationResult
    from proximite.expectations.gates import GateFailed

    summary = pd.DataFrame(
        [["staged", "registry", "activity", "staged.activity.minutes.between", "plausibility", "error", 0.0, 10, 1, 0.1, False, "great_expectations", ""]],
        columns=SUMMARY_COLUMNS,
    )
    refusal = GateFailed(
        ValidationResult("staged", "registry", "p1", summary, pd.DataFrame(columns=FAILURE_COLUMNS)),
        tmp_path / "quarantine" / "p1" / "report",
        quarantine_dir=tmp_path / "quarantine" / "p1",
    )
    notice = failure_notice(
        flow_name="pipeline", flow_run_name="brave-fox", flow_run_id="1234", project_dir=tmp_path, error=refusal,
        reason="token 0123456789abcdef0123456789ABCDEF refused; " + str(refusal), ui_url="http://127.0.0.1:4200",
    )
    assert notice.subject.startswith("Proximité: pipeline failed")
    assert str(tmp_path / "quarantine" / "p1" / "report") in notice.body
    assert notice.quarantine_reports == [str(tmp_path / "quarantine" / "p1" / "report"), str(tmp_path / "quarantine" / "p1")]
    assert "0123456789abcdef0123456789ABCDEF" not in notice.body and "<hidden>" in notice.body
    assert "no warehouse yet" in notice.body
    assert "http://127.0.0.1:4200/runs/flow-run/1234" in notice.body


def test_without_the_exception_the_notice_lists_quarantine_reports_written_during_the_run(tmp_path: Path) -> None:
    old = tmp_path / "data" / "quarantine" / "old" / "registry"
    old.mkdir(parents=True)
    (old / "report.html").write_text("x")
    started = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    import os
    import time

    os.utime(old / "report.html", (time.time() - 3600, time.time() - 3600))
    new = tmp_path / "data" / "quarantine" / "new" / "registry"
    new.mkdir(parents=True)
    (new / "report.html").write_text("x")
    os.utime(new / "report.html", (started.timestamp() + 5, started.timestamp() + 5))
    notice = failure_notice(flow_name="pull_registry", flow_run_name="r", flow_run_id="9", reason="refused", project_dir=tmp_path, started=started)
    assert notice.quarantine_reports == [str(new)]


def test_the_smtp_block_logs_in_over_starttls_and_sends_the_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Any]] = []

    class FakeSMTP:
        def __init__(self, host: str, port: int, timeout: float) -> None:
            calls.append(("connect", (host, port)))

        def __enter__(self) -> FakeSMTP:
            return self

        def __exit__(self, *args: Any) -> None:
            calls.append(("quit", None))

        def starttls(self, context: Any) -> None:
            calls.append(("starttls", None))

        def login(self, user: str, password: str) -> None:
            calls.append(("login", (user, password)))

        def send_message(self, message: Any) -> None:
            calls.append(("send", (message["To"], message["Subject"], message.get_content())))

    monkeypatch.setattr("smtplib.SMTP", FakeSMTP)
    block = SmtpEmail(smtp_host="mail.example.org", from_address="proximite@example.org", to_addresses=["a@example.org", "b@example.org"],
                      username="bot", password="s3cret")
    block.notify("body text", subject="Proximité: pipeline failed")
    assert calls == [
        ("connect", ("mail.example.org", 587)), ("starttls", None), ("login", ("bot", "s3cret")),
        ("send", ("a@example.org, b@example.org", "Proximité: pipeline failed", "body text\n")), ("quit", None),
    ]
    with pytest.raises(ValueError, match="starttls, ssl or none"):
        SmtpEmail(smtp_host="h", from_address="f@x", to_addresses=["t@x"], security="tls").notify("b")


@pytest.mark.parametrize("name", ["pull_cohort", "pull_registry", "validate", "build", "indicators", "snapshot", "models", "economics"])
def test_a_flow_that_ends_with_its_reason_keeps_its_parameters_description_entrypoint_and_version(name: str) -> None:
    import importlib
    import inspect

    from prefect.utilities.hashing import file_hash

    module = importlib.import_module(f"proximite.flows.{name}")
    flow = getattr(module, name)
    assert flow.name == name and flow.fn.__name__ == name and flow.fn.__module__ == module.__name__
    # Prefect reads the parameters and the description from the decorated function.
    assert list(flow.parameters.properties) == list(inspect.signature(flow.fn.__wrapped__).parameters)
    assert flow.description == inspect.getdoc(flow.fn.__wrapped__)
    # The version is the hash of the flow's own file, as for an undecorated flow.
    assert flow.version == file_hash(module.__file__)
    assert flow.to_deployment(name="check").entrypoint.endswith(f"{name}.py:{name}")


def test_outside_a_flow_run_the_error_goes_up_unchanged() -> None:
    from proximite.flows.failure import ends_with_reason, is_subflow

    @ends_with_reason
    def step() -> None:
        raise ValueError("not in a flow run")

    assert is_subflow() is False
    with pytest.raises(ValueError, match="not in a flow run"):
        step()

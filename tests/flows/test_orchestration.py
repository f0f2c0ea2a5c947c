"""The flows under a Prefect API: artifacts of a run, the cache of unchanged steps, the failure path.

One project is run through the pipeline flow, then again unchanged (the deterministic steps come
from the cache and the warehouse is not rebuilt), then with a registry file the staged gate
refuses (the hook records and sends the notice; the last good warehouse and snapshot stay).
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.flows.conftest import fast_project

pytestmark = pytest.mark.usefixtures("prefect_api", "pseudonym_env")


def _artifacts_of(flow_run_id: Any) -> dict[str, dict[str, Any]]:
    """Artifacts of one flow run, by key, read back through the REST API.

    (The request is made directly, filtered on the flow run only: an artifact of the flow itself
    has no task run, and a task-run filter would leave it out.)
    """
    import httpx
    from prefect.settings import PREFECT_API_URL

    response = httpx.post(
        f"{PREFECT_API_URL.value()}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [str(flow_run_id)]}}}, timeout=30
    )
    response.raise_for_status()
    return {artifact["key"]: artifact for artifact in response.json() if artifact["key"]}


def _table(artifact: dict[str, Any]) -> list[dict[str, Any]]:
    data = artifact["data"]
    return json.loads(data) if isinstance(data, str) else data


@pytest.fixture(scope="module")
def first_run(flow_input: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The pipeline flow once on a fresh project: its result, state and artifacts."""
    from proximite.flows.pipeline import pipeline

    mp = pytest.MonkeyPatch()
    mp.setenv("PROXIMITE_PSEUDONYM_KEY", "test-key-not-secret-0123456789abcdef")
    try:
        project = fast_project(tmp_path_factory.mktemp("orchestration") / "project")
        state = pipeline(input_dir=str(flow_input), project_dir=str(project), return_state=True)
        assert state.is_completed(), state.message
        result = state.result()
        return {"project": project, "result": result, "artifacts": _artifacts_of(state.state_details.flow_run_id)}
    finally:
        mp.undo()


def test_a_run_publishes_its_summary_validation_and_headline_artifacts(first_run: dict[str, Any]) -> None:
    from proximite.cohort.warehouse import table
    from proximite.config import load_settings

    artifacts, result = first_run["artifacts"], first_run["result"]
    assert {"proximite-run-summary", "proximite-validation-summary", "proximite-headline-indicators"} <= set(artifacts)
    summary = artifacts["proximite-run-summary"]["data"]
    assert result["build"]["build_id"] in summary
    assert str(Path(result["snapshot_dir"]) / "index.html") in summary
    for source in ("reference", "redcap", "registry", "cost"):
        assert f"**{source}**" in summary
    assert "| family | 60 |" in summary

    validation = _table(artifacts["proximite-validation-summary"])
    assert {row["table"] for row in validation} >= {"family", "assessment", "activity", "referral"}
    assert all(row["outcome"] in {"passed", "warnings"} and row["rules"] > 0 for row in validation)

    headline = _table(artifacts["proximite-headline-indicators"])
    reached = [row for row in headline if row["id"] == "reach.families_reached"]
    # 60 families, rounded to the public rule's base of 5; formatted for people, in French.
    assert reached and reached[0]["Valeur"] == "60" and reached[0]["Indicateur"] == "Familles rejointes"
    shares = [row for row in headline if row["id"] == "isolation.share_isolated"]
    assert shares and all(row["Valeur"] == "x" or row["Valeur"].endswith("\u202f%") and "." not in row["Valeur"] for row in shares)
    assert all(isinstance(value, str) for row in headline for value in row.values())
    # No family-level value anywhere in the artifacts.
    family_ids = set(table(load_settings(first_run["project"]), "family")["family_id"].astype(str))
    text = json.dumps([summary, validation, headline])
    assert not any(family_id in text for family_id in family_ids)


def test_the_indicators_flow_publishes_its_headline_in_english_on_request(first_run: dict[str, Any]) -> None:
    from proximite.flows.indicators import indicators

    state = indicators(project_dir=str(first_run["project"]), lang="en", return_state=True)
    assert state.is_completed() and state.result()["cached"] == ["indicators"]
    headline = _table(_artifacts_of(state.state_details.flow_run_id)["proximite-headline-indicators"])
    [reached] = [row for row in headline if row["id"] == "reach.families_reached"]
    assert reached["Indicator"] == "Families reached" and reached["Value"] == "60"
    shares = [row for row in headline if row["id"] == "isolation.share_isolated"]
    assert shares and all(row["Value"] == "x" or row["Value"].endswith("%") and "," not in row["Value"] for row in shares)


@pytest.mark.journey
def test_an_unchanged_input_is_taken_from_the_cache_and_the_warehouse_is_not_rebuilt(
    first_run: dict[str, Any], flow_input: Path
) -> None:
    from proximite.flows.pipeline import pipeline

    project = first_run["project"]
    warehouse = project / "warehouse.duckdb"
    modified = warehouse.stat().st_mtime_ns
    again = pipeline(input_dir=str(flow_input), project_dir=str(project))
    assert again["build"]["build_id"] == first_run["result"]["build"]["build_id"]
    assert {"harmonise", "validate-harmonised", "build", "indicators", "snapshot"} <= set(again["cached"])
    assert warehouse.stat().st_mtime_ns == modified
    # A removed layer-03 directory is not served from the cache: it is harmonised again.
    shutil.rmtree(again["harmonised_dir"])
    third = pipeline(input_dir=str(flow_input), project_dir=str(project))
    assert "harmonise" not in third["cached"] and Path(third["harmonised_dir"]).is_dir()


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length", 0))
        _Hook.received.append(json.loads(self.rfile.read(length) or b"{}"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    """A local HTTP endpoint recording what is posted to it."""
    _Hook.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()


def test_a_refused_pull_fails_the_run_notifies_with_the_quarantine_report_and_keeps_the_last_good_state(
    first_run: dict[str, Any], flow_input: Path, tmp_path: Path, webhook: str
) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from proximite.flows.pipeline import pipeline

    project = first_run["project"]
    CustomWebhookNotificationBlock(
        name="coordinator", url=webhook, json_data={"subject": "{{subject}}", "body": "{{body}}"}
    ).save("test-coordinator", overwrite=True)
    (project / "proximite.toml").write_text(
        "[validation]\ndata_docs = false\n[orchestration]\nnotify_block = \"custom-webhook/test-coordinator\"\n", encoding="utf-8"
    )
    from proximite.cohort.warehouse import current_build
    from proximite.config import load_settings

    build_before = current_build(load_settings(project)).build_id
    warehouse_before = (project / "warehouse.duckdb").read_bytes()
    snapshot_dir = Path(first_run["result"]["snapshot_dir"])
    snapshot_before = (snapshot_dir / "index.html").read_bytes()
    latest_before = (project / "data" / "02_staged" / "registry" / "LATEST").read_text()

    broken = tmp_path / "broken"
    shutil.copytree(flow_input, broken)
    activity_file = sorted(path for path in (broken / "registry" / "activities").glob("*.csv") if not path.with_suffix(".mapping.yaml").exists())[0]
    activities = pd.read_csv(activity_file, dtype=str, keep_default_na=False)
    activities.loc[0, "minutes"] = "-30"
    activities.to_csv(activity_file, index=False)

    state = pipeline(input_dir=str(broken), project_dir=str(project), return_state=True)
    assert state.is_failed()

    # The state's message is one paragraph saying why, in the coordinator's terms, not a traceback.
    [report_dir] = [path for path in (project / "data" / "quarantine").rglob("report") if path.is_dir()]
    reason = state.message
    assert reason.startswith("Registry files ") and "refused by the staged gate: 1 failing row(s) break 1 rule(s)" in reason
    assert "staged.activity.minutes" in reason and f"report: {report_dir / 'report.html'}" in reason
    assert "Traceback" not in reason and "\n" not in reason and "-30" not in reason
    # ... shown first in the run's summary artifact.
    summary = _artifacts_of(state.state_details.flow_run_id)["proximite-run-summary"]["data"]
    assert summary.index("## Failed") < summary.index("## Pulled") and reason in summary

    # The hook sent one notice through the webhook block, naming the quarantine report.
    assert len(_Hook.received) == 1, _Hook.received
    notice = _Hook.received[0]
    assert "pipeline failed" in notice["subject"]
    quarantine = project / "data" / "quarantine"
    reports = [str(path) for path in quarantine.iterdir()]
    assert reports and any(report in notice["body"] for report in reports)
    assert "Unchanged and still in use: warehouse build " + build_before in notice["body"]
    assert "-30" not in notice["body"]
    # ... and wrote the same notice into the project.
    written = list((project / "reporting" / "failures").glob("*-pipeline.md"))
    assert len(written) == 1 and notice["subject"] in written[0].read_text(encoding="utf-8")

    # The last good state is untouched.
    assert (project / "warehouse.duckdb").read_bytes() == warehouse_before
    assert (snapshot_dir / "index.html").read_bytes() == snapshot_before
    assert (project / "data" / "02_staged" / "registry" / "LATEST").read_text() == latest_before

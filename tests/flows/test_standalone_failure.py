"""A flow run on its own that fails ends with a one-paragraph reason; as a subflow it leaves that to its parent.

The journey: a coordinator's scheduled ``pull_registry`` meets a registry file the staged gate
refuses. The run ends ``Failed`` with one paragraph (which batch, which gate, the counts, the rule,
the report), not a traceback, and its run-summary artifact shows the same paragraph first.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.flows.conftest import fast_project

pytestmark = pytest.mark.usefixtures("prefect_api", "pseudonym_env")


def _artifacts_of(flow_run_id: Any) -> list[dict[str, Any]]:
    """The keyed artifacts of one flow run (ours; Prefect adds unkeyed ones), read back through the REST API."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    response = httpx.post(
        f"{PREFECT_API_URL.value()}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [str(flow_run_id)]}}}, timeout=30
    )
    response.raise_for_status()
    return [artifact for artifact in response.json() if artifact["key"]]


def _refused_registry_input(flow_input: Path, directory: Path) -> Path:
    """The synthetic input with one activity of minus thirty minutes (the staged gate refuses it)."""
    broken = directory / "broken"
    shutil.copytree(flow_input, broken)
    activity_file = sorted(path for path in (broken / "registry" / "activities").glob("*.csv") if not path.with_suffix(".mapping.yaml").exists())[0]
    activities = pd.read_csv(activity_file, dtype=str, keep_default_na=False)
    activities.loc[0, "minutes"] = "-30"
    activities.to_csv(activity_file, index=False)
    return broken


def test_a_standalone_pull_registry_refused_by_the_staged_gate_fails_with_one_paragraph(flow_input: Path, tmp_path: Path) -> None:
    from proximite.expectations.gates import GateFailed
    from proximite.flows.pull_registry import pull_registry

    project = fast_project(tmp_path / "project")
    broken = _refused_registry_input(flow_input, tmp_path)

    state = pull_registry(input_dir=str(broken), project_dir=str(project), sources=["reference", "registry"], return_state=True)

    assert state.is_failed()
    reason = state.message
    [report_dir] = [path for path in (project / "data" / "quarantine").rglob("report") if path.is_dir()]
    assert reason.startswith("Registry files ") and "refused by the staged gate: 1 failing row(s) break 1 rule(s)" in reason
    assert "staged.activity.minutes" in reason and f"report: {report_dir / 'report.html'}" in reason
    assert "Traceback" not in reason and "\n" not in reason and "-30" not in reason
    # The error itself stays the state's data: a Python caller of the flow still gets it raised.
    with pytest.raises(GateFailed):
        state.result()

    [summary] = [artifact for artifact in _artifacts_of(state.state_details.flow_run_id) if artifact["key"] == "proximite-run-summary"]
    assert summary["description"] == "Run summary (failed)"
    text = summary["data"]
    assert text.startswith("# Proximité — pull_registry") and text.index("## Failed") < text.index("## Pulled") and reason in text
    assert "-30" not in text


def test_a_failing_subflow_leaves_the_reason_to_its_parent(tmp_path: Path) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    from proximite.errors import ProximiteError
    from proximite.flows.failure import ends_with_reason, failed_run

    @flow(name="child-that-fails")
    @ends_with_reason
    def child() -> None:
        raise ProximiteError(f"file {tmp_path / 'activities.csv'}, row 3: minutes must be at least 0")

    @flow(name="parent-of-failing-child")
    def parent() -> Any:
        try:
            child()
        except ProximiteError as error:
            return failed_run(error, flow_name="parent-of-failing-child")
        return None

    # On its own, the child ends with the reason and publishes its failed summary.
    alone = child(return_state=True)
    assert alone.is_failed() and alone.message == f"file {tmp_path / 'activities.csv'}, row 3: minutes must be at least 0"
    assert [artifact["key"] for artifact in _artifacts_of(alone.state_details.flow_run_id)] == ["proximite-run-summary"]

    # Under a parent, the child's error goes up unchanged: one reason, one summary, the parent's.
    state = parent(return_state=True)
    assert state.is_failed() and state.message.startswith("file ") and "row 3" in state.message
    summaries = _artifacts_of(state.state_details.flow_run_id)
    assert [artifact["key"] for artifact in summaries] == ["proximite-run-summary"]
    assert "# Proximité — parent-of-failing-child" in summaries[0]["data"]

    with get_client(sync_client=True) as client:
        [child_run] = [
            run for run in client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["child-that-fails"])))
            if run.parent_task_run_id is not None
        ]
    assert child_run.state.is_failed() and _artifacts_of(child_run.id) == []

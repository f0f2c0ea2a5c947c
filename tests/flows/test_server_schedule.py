"""A real Prefect server (`proximite server`), the pipeline served on a schedule (`proximite schedule`),
a run triggered through the API, its artifacts read back, then `prefect deploy --all` of prefect.yaml

Both commands run as subprocesses, as a coordinator runs them in two terminals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from proximite.cohort.status import project_status
from proximite.config import load_settings
from proximite.flows import deployments
from server_processes import ServerProcess, base_env, free_loopback_port, proximite_command, scheduled_project, wait_for

# Fixtures shared with the PostgreSQL journey (pytest finds them in this module's namespace).
__all__ = ["base_env", "scheduled_project"]

TEST_KEY = "test-key-not-secret-0123456789abcdef"
REPOSITORY = Path(__file__).resolve().parents[2]
CRON = "0 6 * * MON"


@pytest.mark.journey
def test_server_schedule_trigger_a_run_and_read_its_artifacts(
    scheduled_project: Path, base_env: dict[str, str], tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        LogFilter,
        LogFilterFlowRunId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    port = free_loopback_port()
    api = f"http://127.0.0.1:{port}/api"
    processes: list[ServerProcess] = []
    try:
        server = ServerProcess(
            "proximite server",
            [*proximite_command(), "server", "--project-dir", str(scheduled_project), "--port", str(port)],
            env=base_env,
            log_dir=tmp_path,
        )
        processes.append(server)

        def healthy() -> bool | None:
            try:
                return True if httpx.get(f"{api}/health", timeout=2).status_code == 200 else None
            except httpx.HTTPError:
                return None

        wait_for("the server's /api/health", healthy, timeout=90, processes=processes)
        # The server's SQLite database is in the project, not in PREFECT_HOME.
        assert (scheduled_project / ".prefect" / "prefect.db").is_file()
        assert f"PREFECT_API_URL=http://127.0.0.1:{port}/api" in server.output()
        # The UI's pages ask this server's API, not port 4200.
        assert httpx.get(f"http://127.0.0.1:{port}/ui-settings", timeout=10).json()["api_url"] == api

        scheduler = ServerProcess(
            "proximite schedule",
            [*proximite_command(), "schedule", "--cron", CRON, "--project-dir", str(scheduled_project)],
            env={
                **base_env,
                "PREFECT_API_URL": api,
                "PROXIMITE_PSEUDONYM_KEY": TEST_KEY,
                # Pick the triggered run up quickly (the default polls every 10 s).
                "PREFECT_RUNNER_POLL_FREQUENCY": "2",
            },
            log_dir=tmp_path,
        )
        processes.append(scheduler)

        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:

            def deployment() -> Any:
                try:
                    return client.read_deployment_by_name("pipeline/proximite-cohorte")
                except Exception:  # noqa: BLE001 - not there yet
                    return None

            served = wait_for("the pipeline deployment", deployment, timeout=90, processes=processes)
            [schedule] = served.schedules
            assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (CRON, "America/Toronto", True)
            assert "proximite" in served.tags
            assert served.parameters["project_dir"] == str(scheduled_project.resolve())

            flow_run = client.create_flow_run_from_deployment(served.id)

            def finished() -> Any:
                state = client.read_flow_run(flow_run.id).state
                return state if state is not None and state.is_final() else None

            state = wait_for("the triggered run to finish", finished, timeout=180, processes=processes, every=1)
            assert state.is_completed(), f"run ended {state.type.value}: {state.message}\n" + "\n".join(
                process.output() for process in processes
            )

        # Through Prefect's own client: it sends "limit": null, which the server only accepts with
        # fastapi < 0.151 (pinned in pyproject.toml).
        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])), limit=50
            )
        by_key = {artifact.key: artifact for artifact in artifacts if artifact.key}
        # The run's log lines reach the UI at INFO, while the terminal shows warnings only.
        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])), limit=200)
        assert any(record.level == 20 and "Beginning flow run" in record.message for record in logs), [r.message for r in logs]
        assert " | INFO " not in scheduler.output(tail=10**7), scheduler.output()
        assert {"proximite-run-summary", "proximite-validation-summary", "proximite-headline-indicators"} <= set(by_key)

        status = project_status(load_settings(scheduled_project))
        assert status["build"] is not None and status["snapshot"] is not None
        markdown = by_key["proximite-run-summary"].data
        assert by_key["proximite-run-summary"].type == "markdown"
        assert status["build"]["build_id"] in markdown
        assert str(Path(status["snapshot"]["path"]).parent) in markdown
        headline = by_key["proximite-headline-indicators"]
        rows = json.loads(headline.data) if isinstance(headline.data, str) else headline.data
        assert headline.type == "table" and len(rows) > 0
        # The scheduled run read the configured input: every family of the synthetic cohort.
        assert status["build"]["row_counts"]["family"] == 40

        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            # The server's scheduler turned the cron into runs: the next one is Monday 06:00, Montréal time.
            expected = deployments.next_run_time(CRON, timezone="America/Toronto")

            def scheduled() -> Any:
                if "Can't evaluate bulk DML" in server.output(tail=10**7):
                    pytest.fail("the server's scheduler fails: Prefect 3.8 needs sqlalchemy<2.1\n" + server.output())
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[served.id])),
                    flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
                    sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                    limit=10,
                )
                return runs or None

            upcoming = wait_for(
                "the server's scheduler to create the scheduled runs (none: Prefect 3.8's scheduler fails under "
                "SQLAlchemy 2.1, see the server's log; it needs sqlalchemy<2.1)",
                scheduled,
                timeout=60,
                processes=processes,
                every=1,
            )
            assert min(run.expected_start_time for run in upcoming) == expected

        # prefect.yaml deploys against the same server: the five deployments on the work pool.
        deploy_env = {**base_env, "PREFECT_API_URL": api, "PROXIMITE_PROJECT_DIR": str(scheduled_project),
                      "PROXIMITE_REDCAP_URL": "https://redcap.example.org/api/"}
        prefect = [sys.executable, "-m", "prefect"]
        for command in (["work-pool", "create", "proximite", "--type", "process"], ["--no-prompt", "deploy", "--all"]):
            done = subprocess.run([*prefect, *command], cwd=REPOSITORY, env=deploy_env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"prefect {' '.join(command)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            for flow_name, active in (("pipeline", True), ("pull_cohort", False), ("pull_registry", False), ("models", False), ("economics", False)):
                deployed = client.read_deployment_by_name(f"{flow_name}/proximite-cohorte")
                assert deployed.work_pool_name == "proximite"
                assert [item.active for item in deployed.schedules] == [active]
            assert client.read_deployment_by_name("pull_cohort/proximite-cohorte").parameters["url"] == "https://redcap.example.org/api/"
    finally:
        for process in reversed(processes):
            process.stop(presses=2)
    # Ctrl-C stops both cleanly, pressed twice too: status 0, one line, no traceback.
    assert [process.process.returncode for process in processes] == [0, 0], "\n".join(p.output() for p in processes)
    assert not any("Traceback" in process.output(tail=10**7) for process in processes), "\n".join(p.output() for p in processes)
    assert "Stopped: the schedules are paused" in scheduler.output()


def test_ctrl_c_while_the_server_starts_stops_it_without_a_traceback(scheduled_project: Path, base_env: dict[str, str], tmp_path: Path) -> None:
    port = free_loopback_port()
    server = ServerProcess(
        "proximite server",
        [*proximite_command(), "server", "--project-dir", str(scheduled_project), "--port", str(port)],
        env=base_env,
        log_dir=tmp_path,
    )
    try:
        # Ctrl-C as soon as the command runs: Prefect's server is still importing and starting.
        wait_for("the server command to start", lambda: True if "Stop with Ctrl-C." in server.output() else None,
                  timeout=60, processes=[server], every=0.1)
    finally:
        server.stop()
    assert server.process.returncode == 0, server.output()
    assert "Traceback" not in server.output(tail=10**7), server.output()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)


def test_the_ui_api_address_follows_the_port_and_keeps_a_proxys_address() -> None:
    local = deployments.server_addresses("127.0.0.1", 4391, environ={"PREFECT_API_URL": "http://127.0.0.1:4200/api"})
    assert local == {
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": "4391",
        "PREFECT_API_URL": "http://127.0.0.1:4391/api",
        "PREFECT_UI_URL": "http://127.0.0.1:4391",
        "PREFECT_SERVER_UI_API_URL": "http://127.0.0.1:4391/api",
    }
    assert deployments.server_addresses("::1", 4391)["PREFECT_SERVER_UI_API_URL"] == "http://[::1]:4391/api"
    # Every interface: the pages use the machine's name, which a browser elsewhere resolves.
    wildcard = deployments.server_addresses("0.0.0.0", 4391)
    assert "0.0.0.0" not in wildcard["PREFECT_SERVER_UI_API_URL"] and wildcard["PREFECT_SERVER_API_HOST"] == "0.0.0.0"
    proxied = deployments.server_addresses(
        "127.0.0.1", 4391, environ={"PREFECT_UI_API_URL": "https://prefect.example.org/api", "PREFECT_UI_URL": "https://prefect.example.org"}
    )
    assert (proxied["PREFECT_SERVER_UI_API_URL"], proxied["PREFECT_UI_URL"]) == ("https://prefect.example.org/api", "https://prefect.example.org")
    assert proxied["PREFECT_API_URL"] == "http://127.0.0.1:4391/api"

"""Deployments of the schedulable flows: parameters from [orchestration], crons, and prefect.yaml in step."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import os
import socket
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from proximite.config import load_settings
from proximite.flows import deployments
from proximite.flows.deployments import (
    SCHEDULABLE_FLOWS,
    ScheduleError,
    build_deployments,
    scheduled_parameters,
)

REPOSITORY = Path(__file__).resolve().parents[2]


def _project(directory: Path, orchestration: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "proximite.toml").write_text(f"[orchestration]\n{orchestration}", encoding="utf-8")
    return directory


def test_pipeline_parameters_come_from_orchestration_with_absolute_paths(tmp_path: Path) -> None:
    project = _project(tmp_path / "project", 'input_dir = "../shared/input"\ntoken_secret = "redcap-token"\n')
    parameters = scheduled_parameters(load_settings(project), "pipeline")
    assert parameters == {
        "input_dir": str((tmp_path / "shared" / "input").resolve()),
        "project_dir": str(project.resolve()),
        "redcap_url": None,  # "" in the configuration: ingest the export files
        "token_env": "PROXIMITE_REDCAP_TOKEN",
        "token_secret": "redcap-token",
    }
    # Each parameter is one the flow accepts.
    flow = deployments.load_flow("pipeline")
    assert set(parameters) <= set(inspect.signature(flow.fn).parameters)


def test_pull_cohort_needs_a_redcap_url(tmp_path: Path) -> None:
    settings = load_settings(_project(tmp_path / "bare"))
    with pytest.raises(ScheduleError, match=r"redcap_url"):
        scheduled_parameters(settings, "pull_cohort")
    with pytest.raises(ScheduleError, match=r"redcap_url"):
        build_deployments(settings, cron="0 6 * * MON", flows=["pull_cohort"])
    configured = load_settings(_project(tmp_path / "live", 'redcap_url = "https://redcap.example.org/api/"\n'))
    parameters = scheduled_parameters(configured, "pull_cohort")
    assert parameters["url"] == "https://redcap.example.org/api/"
    assert parameters["token_secret"] is None and parameters["token_env"] == "PROXIMITE_REDCAP_TOKEN"


def test_build_deployments_names_tags_schedule_and_entrypoint(tmp_path: Path) -> None:
    settings = load_settings(_project(tmp_path / "project", 'redcap_url = "https://redcap.example.org/api/"\n'))
    built = build_deployments(settings, cron="0 6 * * MON", flows=list(SCHEDULABLE_FLOWS), timezone="America/Montreal")
    assert [deployment.flow_name for deployment in built] == list(SCHEDULABLE_FLOWS)
    for deployment in built:
        assert deployment.name == settings.project_name
        assert {"proximite", deployment.flow_name} <= set(deployment.tags)
        [schedule] = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 * * MON", "America/Montreal")
        assert deployment.parameters == scheduled_parameters(settings, deployment.flow_name)
        # A module path: the installed package runs, whatever the serving process's directory.
        module, function = SCHEDULABLE_FLOWS[deployment.flow_name].split(":")
        assert deployment.entrypoint == f"{module}.{function}"
    # The configured time zone when none is given.
    [default] = build_deployments(settings, cron="15 5 * * *")
    assert default.schedules[0].schedule.timezone == settings["orchestration"]["timezone"]


@pytest.mark.parametrize("cron", ["0 6 * *", "61 6 * * *", "0 6 * * MON extra", "H 6 * * *", "every monday"])
def test_a_bad_cron_is_refused_with_an_example(tmp_path: Path, cron: str) -> None:
    settings = load_settings(_project(tmp_path / "project"))
    with pytest.raises(ScheduleError, match=r"0 6 \* \* MON"):
        build_deployments(settings, cron=cron)


def test_unknown_flows_and_time_zones_name_what_is_allowed(tmp_path: Path) -> None:
    settings = load_settings(_project(tmp_path / "project"))
    with pytest.raises(ScheduleError) as error:
        build_deployments(settings, cron="0 6 * * MON", flows=["pipeline", "pipline"])
    assert "'pipline'" in str(error.value)
    assert all(name in str(error.value) for name in SCHEDULABLE_FLOWS)
    with pytest.raises(ScheduleError, match="America/Toronto"):
        build_deployments(settings, cron="0 6 * * MON", timezone="Montreal")


def test_next_run_time_is_local_time_across_daylight_saving() -> None:
    zone = ZoneInfo("America/Toronto")
    # Saturday 2026-03-07, the day before the switch to daylight time.
    after = dt.datetime(2026, 3, 7, 12, 0, tzinfo=zone)
    first = deployments.next_run_time("0 6 * * MON", timezone="America/Toronto", after=after)
    second = deployments.next_run_time("0 6 * * MON", timezone="America/Toronto", after=first)
    assert first.replace(tzinfo=None) == dt.datetime(2026, 3, 9, 6, 0)
    assert second.replace(tzinfo=None) == dt.datetime(2026, 3, 16, 6, 0)
    assert first.utcoffset() == dt.timedelta(hours=-4)  # EDT from 2026-03-08


def test_server_environment_keeps_an_explicit_database_and_masks_its_password(tmp_path: Path) -> None:
    settings = load_settings(_project(tmp_path / "project"))
    env, shown = deployments.server_environment(settings, {"PREFECT_SERVER_ANALYTICS_ENABLED": "true"})
    prefect_dir = (tmp_path / "project" / ".prefect").resolve()
    assert env["PREFECT_HOME"] == str(prefect_dir)
    assert env["PREFECT_API_DATABASE_CONNECTION_URL"] == f"sqlite+aiosqlite:///{prefect_dir / 'prefect.db'}"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"

    shared = "postgresql+asyncpg://prefect:s3cret-pw@db.example.org:5432/prefect"
    environ = {"PREFECT_API_DATABASE_CONNECTION_URL": shared, "PREFECT_HOME": "/elsewhere"}
    env, shown = deployments.server_environment(settings, environ)
    assert env["PREFECT_API_DATABASE_CONNECTION_URL"] == shared and env["PREFECT_HOME"] == "/elsewhere"
    assert "s3cret-pw" not in shown and shown == "postgresql+asyncpg://prefect:***@db.example.org:5432/prefect"
    assert environ == {"PREFECT_API_DATABASE_CONNECTION_URL": shared, "PREFECT_HOME": "/elsewhere"}


def test_loopback_hosts_and_api_url(tmp_path: Path) -> None:
    assert all(deployments.is_loopback_host(host) for host in ("127.0.0.1", "127.0.1.1", "localhost", "::1"))
    assert not any(deployments.is_loopback_host(host) for host in ("0.0.0.0", "192.168.1.20", "redcap.example.org", "::"))
    settings = load_settings(_project(tmp_path / "project", "server_port = 4310\n"))
    assert deployments.api_url(settings, environ={}) == "http://127.0.0.1:4310/api"
    assert deployments.api_url(settings, environ={"PREFECT_API_URL": "http://127.0.0.1:9/api/"}) == "http://127.0.0.1:9/api"
    assert deployments.api_url(settings, option="http://127.0.0.1:7/api", environ={"PREFECT_API_URL": "x"}) == "http://127.0.0.1:7/api"


# ------------------------------------------------------------------------------------ prefect.yaml
@pytest.fixture(scope="module")
def prefect_yaml() -> dict:
    return yaml.safe_load((REPOSITORY / "prefect.yaml").read_text(encoding="utf-8"))


def test_prefect_yaml_declares_the_schedulable_flows_under_builds_names(prefect_yaml: dict, tmp_path: Path) -> None:
    from prefect.flows import load_flow_from_entrypoint

    settings = load_settings(_project(tmp_path / "project", 'redcap_url = "https://redcap.example.org/api/"\n'))
    built = {deployment.flow_name: deployment for deployment in build_deployments(settings, cron="0 6 * * MON", flows=list(SCHEDULABLE_FLOWS))}
    declared = {}
    for entry in prefect_yaml["deployments"]:
        flow = load_flow_from_entrypoint(entry["entrypoint"])
        declared[flow.name] = entry
        # The entrypoint is the very flow object `proximite schedule` serves.
        assert flow is deployments.load_flow(flow.name), entry["entrypoint"]
        assert entry["name"] == built[flow.name].name
        assert set(entry["tags"]) >= set(built[flow.name].tags)
        assert entry["work_pool"]["name"] == "proximite"
        # Same parameters as the served deployment (values relative to the project directory).
        assert set(entry["parameters"]) == set(built[flow.name].parameters)
        assert set(entry["parameters"]) <= set(inspect.signature(flow.fn).parameters)
    assert set(declared) == set(SCHEDULABLE_FLOWS)


def test_prefect_yaml_schedules_are_valid_crons_and_the_pipeline_runs_monday_six(prefect_yaml: dict) -> None:
    from prefect.client.schemas.schedules import CronSchedule

    for entry in prefect_yaml["deployments"]:
        assert entry["schedules"], entry["entrypoint"]
        for schedule in entry["schedules"]:
            assert deployments.validate_cron(schedule["cron"]) == schedule["cron"]
            CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])  # what `prefect deploy` builds
    [pipeline] = [entry for entry in prefect_yaml["deployments"] if entry["entrypoint"].endswith(".pipeline")]
    [weekly] = pipeline["schedules"]
    assert weekly["active"] is True and weekly["timezone"] == "America/Toronto"
    monday = deployments.next_run_time(weekly["cron"], timezone="America/Toronto", after=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert (monday.weekday(), monday.hour, monday.minute) == (0, 6, 0)
    # No secret in the file: only the names of where secrets are.
    text = (REPOSITORY / "prefect.yaml").read_text(encoding="utf-8")
    assert "PROXIMITE_PSEUDONYM_KEY=" not in text and "token:" not in text


# ------------------------------------------------------------------------------------ serving
def test_use_api_points_prefect_and_the_environment_at_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL

    from proximite.flows import serving

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    before = PREFECT_API_URL.value()
    with serving.use_api("http://127.0.0.1:4311/api"):
        assert PREFECT_API_URL.value() == "http://127.0.0.1:4311/api"
        # Inherited by the subprocesses that run the flows.
        assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:4311/api"
    assert PREFECT_API_URL.value() == before


def test_no_server_answers_on_a_closed_port() -> None:
    from proximite.flows import serving

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert serving.server_answers(f"http://127.0.0.1:{port}/api") is False


def test_run_in_foreground_returns_the_childs_exit_status() -> None:
    from proximite.flows import serving

    code = serving.run_in_foreground([sys.executable, "-c", "raise SystemExit(3)"], env=dict(os.environ))
    assert code == 3


def test_only_flows_imports_prefect() -> None:
    """``src/proximite`` (configuration, errors, the pipeline layer, the CLI) reaches Prefect through ``proximite.flows``."""
    offenders = []
    for path in sorted((REPOSITORY / "src" / "proximite").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            offenders += [f"{path.relative_to(REPOSITORY)}:{node.lineno}" for name in modules if name.split(".")[0] == "prefect"]
    assert offenders == []

"""Helpers of the server journeys: `proximite server` and `proximite schedule` as subprocesses.

Shared by ``test_server_schedule.py``, ``test_postgres_schedule.py`` and the Prefect UI browser test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

T = TypeVar("T")

__all__ = [
    "ServerProcess",
    "base_env",
    "free_loopback_port",
    "proximite_command",
    "run_artifact_keys",
    "scheduled_project",
    "server_command",
    "trigger_and_wait",
    "wait_for",
    "wait_healthy",
]


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def proximite_command() -> list[str]:
    script = Path(sys.executable).with_name("proximite")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "proximite.cli"]


class ServerProcess:
    """A subprocess whose output goes to a file, stopped by Ctrl-C (then killed) at the end.

    It runs in its own process group, and Ctrl-C is sent as a terminal sends it: SIGINT to the
    whole group.
    """

    def __init__(self, name: str, command: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._handle = self.log.open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self, tail: int = 4000) -> str:
        if not self._handle.closed:
            self._handle.flush()
        return f"--- {self.name} (exit {self.process.poll()}) ---\n{self.log.read_text(errors='replace')[-tail:]}"

    def stop(self, *, presses: int = 1) -> None:
        """Ctrl-C, ``presses`` times a few tenths of a second apart (an impatient user), then wait."""
        for press in range(presses):
            if self.process.poll() is not None:
                break
            if press:
                time.sleep(0.3)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._handle.close()


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float, processes: list[ServerProcess], every: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result is not None:
            return result
        for process in processes:
            if process.process.poll() is not None:
                pytest.fail(f"{process.name} exited while waiting for {what}\n{process.output()}")
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n" + "\n".join(p.output() for p in processes))




def wait_healthy(api: str, *, processes: list[ServerProcess], timeout: float = 120) -> None:
    """Wait until the Prefect API at ``api`` answers its health check."""

    def healthy() -> bool | None:
        try:
            return True if httpx.get(f"{api}/health", timeout=2).status_code == 200 else None
        except httpx.HTTPError:
            return None

    wait_for(f"the server's {api}/health", healthy, timeout=timeout, processes=processes)


def server_command(project: Path, port: int) -> list[str]:
    """`proximite server` of ``project`` on the loopback ``port``."""
    return [*proximite_command(), "server", "--project-dir", str(project), "--port", str(port)]


def trigger_and_wait(api: str, deployment: str, *, processes: list[ServerProcess], timeout: float = 240) -> object:
    """Start a run of ``deployment`` (``flow/name``) through the API, as the UI's "Run" button does; wait for its end.

    Returns the finished flow run; fails the test (with every process's output) unless it completed.
    """
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:

        def served() -> object | None:
            try:
                return client.read_deployment_by_name(deployment)
            except Exception:  # noqa: BLE001 - not registered yet
                return None

        found = wait_for(f"the deployment {deployment}", served, timeout=120, processes=processes)
        flow_run = client.create_flow_run_from_deployment(found.id)  # type: ignore[attr-defined]

        def finished() -> object | None:
            run = client.read_flow_run(flow_run.id)
            return run if run.state is not None and run.state.is_final() else None

        run = wait_for("the triggered run to finish", finished, timeout=timeout, processes=processes, every=1)
    state = run.state  # type: ignore[attr-defined]
    assert state.is_completed(), f"run ended {state.type.value}: {state.message}\n" + "\n".join(p.output() for p in processes)
    return run


def run_artifact_keys(api: str, flow_run_id: object) -> set[str]:
    """The keys of the artifacts a flow run created, read through Prefect's client."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])), limit=50
        )
    return {artifact.key for artifact in artifacts if artifact.key}


@pytest.fixture
def scheduled_project(tmp_path: Path) -> Path:
    """A project whose [orchestration] input_dir is a small synthetic input (40 families, 3 territories)."""
    from proximite.cohort.sandbox.synth import generate_cohort
    from synth_dates import SYNTH_AS_OF

    input_dir = tmp_path / "input"
    generate_cohort(input_dir, families=40, territories=3, seed=11, as_of=SYNTH_AS_OF)
    project = tmp_path / "project"
    project.mkdir()
    (project / "proximite.toml").write_text(
        f'[orchestration]\ninput_dir = "{input_dir.as_posix()}"\n\n[validation]\ndata_docs = false\n', encoding="utf-8"
    )
    return project


@pytest.fixture
def base_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")  # throwaway: never the user's ~/.prefect
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    yield env
    shutil.rmtree(tmp_path / "prefect-home", ignore_errors=True)

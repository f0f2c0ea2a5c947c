"""The Prefect UI of `proximite server --port N` in headless Chromium, outside requests blocked.

The coordinator's path: `proximite server` on a port that is not Prefect's 4200, a pipeline run
against it (the small synthetic cohort), then the UI opened on that port: the run's page lists
the run, completed, and its artifacts, every call of the page to the API answered by this
server (before the fix the pages asked port 4200 and showed nothing). Skipped only when Chromium
is not installed (``make test`` installs it when it can).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not installed (Debian: apt-get install chromium; `make test` installs it when run as root)",
)

# The server helpers live with the flow tests' server journeys.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "flows"))

from server_processes import ServerProcess, free_loopback_port, server_command, wait_healthy  # noqa: E402
from synth_dates import SYNTH_AS_OF  # noqa: E402

TEST_KEY = "test-key-not-secret-0123456789abcdef"
RUN_ARTIFACTS = ("proximite-run-summary", "proximite-validation-summary", "proximite-headline-indicators")


# The run happens in its own process, as a coordinator's does: a flow run inside the test process
# would leave Prefect's events worker bound to this server, and every later flow of the session
# would then send its events to a server that has stopped.
PIPELINE_RUN = (
    "import sys\n"
    "from proximite.flows.pipeline import pipeline\n"
    "state = pipeline(input_dir=sys.argv[1], project_dir=sys.argv[2], return_state=True)\n"
    "print('flow-run-id', state.state_details.flow_run_id)\n"
    "sys.exit(0 if state.is_completed() else 1)\n"
)


@pytest.fixture
def served_run(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """`proximite server` on a free port (not 4200) and one pipeline run against it: (UI address, run)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from proximite.cohort.sandbox.synth import generate_cohort

    input_dir = tmp_path / "input"
    generate_cohort(input_dir, families=40, territories=3, seed=11, as_of=SYNTH_AS_OF)
    project = tmp_path / "project"
    project.mkdir()
    (project / "proximite.toml").write_text("[validation]\ndata_docs = false\n", encoding="utf-8")
    port = free_loopback_port()
    assert port != 4200
    ui, api = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/api"
    # A PREFECT_API_URL left over for the default port: the server must not pass it to its UI.
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_API_URL": "http://127.0.0.1:4200/api"}
    server = ServerProcess("proximite server", server_command(project, port), env=env, log_dir=tmp_path)
    try:
        wait_healthy(api, processes=[server])
        run_env = {**env, "PREFECT_API_URL": api, "PROXIMITE_PSEUDONYM_KEY": TEST_KEY}
        done = subprocess.run(
            [sys.executable, "-c", PIPELINE_RUN, str(input_dir), str(project)],
            env=run_env, capture_output=True, text=True, timeout=600, check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        flow_run_id = done.stdout.split("flow-run-id", 1)[1].split()[0]
        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            run = client.read_flow_run(flow_run_id)
        yield ui, run
    finally:
        server.stop()
    assert server.process.returncode == 0, server.output()


def test_the_ui_on_another_port_shows_the_run_and_its_artifacts(served_run: tuple[str, Any], tmp_path: Path) -> None:
    from cdp import launch

    ui, run = served_run
    with launch(tmp_path / "profile") as browser, browser.page() as page:
        # The address `proximite server` prints opens Prefect 3.8's default UI (v2).
        page.navigate(f"{ui}/")
        assert page.evaluate("location.pathname").startswith("/v2/")
        page.navigate(f"{ui}/v2/runs")
        page.wait_for_text(run.name, timeout=90)

        page.navigate(f"{ui}/v2/runs/flow-run/{run.id}?tab=Artifacts")
        text = page.wait_for_text(RUN_ARTIFACTS[-1], timeout=90)
        assert run.name in text
        assert "Completed" in text
        for key in RUN_ARTIFACTS:
            assert key in text

        # Every call of the pages to the API reached this server and was answered.
        api_calls = {url: status for url, status in page.responses().items() if "/api/" in url}
        assert api_calls, "the pages never called the API"
        assert all(url.startswith(f"{ui}/api/") for url in api_calls), sorted(api_calls)
        assert not [url for url, status in api_calls.items() if status >= 400]
        assert not [url for url in page.requested_urls() if ":4200/" in url]
        # Outside requests (the UI's own telemetry) were blocked: none got an answer.
        answered_outside = [url for url in page.responses() if not url.startswith((ui, "data:", "blob:"))]
        assert answered_outside == []

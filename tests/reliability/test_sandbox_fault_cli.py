"""`proximite sandbox --fault`: a coordinator rehearses a failing REDCap from the command line.

The journey: start the sandbox with every answer failing (``--fault 5xx:1.0``), pull from it with
``proximite pull redcap``, see the pull retry and then stop with a message that names the failure
and the number of tries, leaving no raw pull behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from proximite.cli import app
from proximite.cohort import layers
from proximite.cohort.sandbox.server import FaultConfig, describe_faults, faults_from_specs
from proximite.config import load_settings

PROXIMITE = [sys.executable, "-c", "from proximite.cli import app; app(prog_name='proximite')"]
runner = CliRunner()


def _start_sandbox(arguments: list[str]) -> tuple[subprocess.Popen[str], str, list[str]]:
    """``proximite sandbox`` in a subprocess; its process, URL and first lines."""
    process = subprocess.Popen(
        [*PROXIMITE, "sandbox", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
    )
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("Stop with Ctrl-C" in line for line in lines):
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
    found = re.search(r"http://\S+/api/", "".join(lines))
    if found is None:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"the sandbox did not start: {''.join(lines)} {err[-800:]}")
    return process, found.group(0), lines


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        out, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


@pytest.mark.journey
def test_a_pull_from_a_sandbox_answering_5xx_retries_then_fails_clearly(
    sandbox_project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    process, url, lines = _start_sandbox(
        ["--project", str(sandbox_project_dir / "redcap"), "--token-file", str(token_file), "--fault", "5xx:1.0"]
    )
    try:
        assert "Injecting faults: HTTP 5xx on 100% of requests" in "".join(lines)
        token = token_file.read_text().strip()
        answer = requests.post(url, data={"token": token, "content": "version"}, timeout=10)
        assert answer.status_code in {500, 502, 503}
        monkeypatch.setenv("SANDBOX_TOKEN", token)
        started = time.monotonic()
        result = runner.invoke(
            app, ["pull", "redcap", "--url", url, "--token-env", "SANDBOX_TOKEN", "--project-dir", str(tmp_path / "p")]
        )
        seconds = time.monotonic() - started
    finally:
        _stop(process)
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert "error:" in message
    assert re.search(r"6 tries|after 6|tried 6", message), message
    assert re.search(r"HTTP 50[023]", message), message
    assert token not in result.output
    # The backoff 0.5, 1, 2, 4, 8 s: the pull did wait between tries.
    assert seconds >= 15
    assert layers.latest_pull(load_settings(tmp_path / "p"), "redcap") is None


def test_fault_options_are_read_as_a_fault_configuration() -> None:
    faults = faults_from_specs(["latency:0.25", "5xx:0.1", "truncate:0.2", "drop:0.05", "oom:0.05"], seed=3)
    assert faults == FaultConfig(
        latency_seconds=0.25, error_rate=0.1, truncate_rate=0.2, drop_rate=0.05, out_of_memory_rate=0.05, seed=3
    )
    assert faults_from_specs(["truncate"]).truncate_rate == 1.0
    assert describe_faults(faults_from_specs(["5xx:0.25", "latency:2"])) == (
        "2 s latency, HTTP 5xx on 25% of requests"
    )
    assert describe_faults(faults_from_specs([])) == ""


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["teapot"], "unknown kind 'teapot'"),
        (["5xx:often"], "'often' is not a number"),
        (["drop:1.5"], "between 0 and 1"),
        (["5xx:0.6", "drop:0.6"], "add up to at most 1"),
        (["5xx", "5xx:0.1"], "given twice"),
        (["latency:-1"], "cannot be negative"),
    ],
)
def test_bad_fault_options_are_refused(specs: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        faults_from_specs(specs)


def test_the_cli_refuses_a_bad_fault_before_serving(sandbox_project_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sandbox", "--project", str(sandbox_project_dir / "redcap"), "--fault", "teapot:1"]
    )
    assert result.exit_code == 2
    assert "unknown kind 'teapot'" in " ".join(result.output.split())

"""Journey: rehearse on the cohort's own project XML, as a coordinator types it.

``proximite codebook export --format redcap-xml`` → ``proximite sandbox --project X.xml`` (a
subprocess: it prints the URL and the token file) → the coordinator enters a synthetic cohort
through REDCap's API (PyCap's ``import_records``) → ``proximite pull redcap`` (token from the
environment) → ``proximite ingest`` of the registry, reference and cost files → ``proximite
build`` → ``proximite snapshot``. Each step is timed; the times are printed (``pytest -s``).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import redcap
from synth_dates import SYNTH_AS_OF

CLI = [sys.executable, "-m", "proximite.cli"]
KEY = "journey-rehearsal-xml-key-0123456789abcdef"
#: The raw layer's key, set in the environment as README tells a coordinator (64 hex characters).
RAW_KEY = "4a" * 32
URL_LINE = re.compile(r"(http://127\.0\.0\.1:\d+/api/)")
TOKEN_LINE = re.compile(r"API token written to (\S+)")


def _run(*args: str, cwd: Path, env: dict[str, str], timings: dict[str, float], step: str) -> str:
    started = time.perf_counter()
    result = subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    timings[step] = time.perf_counter() - started
    assert result.returncode == 0, f"{step}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROXIMITE_")}
    env.update(PROXIMITE_PSEUDONYM_KEY=KEY, PROXIMITE_RAW_KEY=RAW_KEY, COLUMNS="200", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    return env


@pytest.fixture
def sandbox(tmp_path: Path, environment: dict[str, str]) -> Iterator[Callable[[Path], tuple[str, Path, str]]]:
    """Starts the sandbox process on a project file: (URL, token file, what it printed); stopped after the test."""
    process: dict[str, subprocess.Popen[str]] = {}
    lines: list[str] = []

    def start(project: Path) -> tuple[str, Path, str]:
        process["p"] = subprocess.Popen(
            [*CLI, "sandbox", "--project", str(project), "--token-file", str(tmp_path / "token")],
            cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 120
        stdout = process["p"].stdout
        assert stdout is not None
        while time.monotonic() < deadline:
            line = stdout.readline()
            if not line:
                break
            lines.append(line)
            text = " ".join(" ".join(lines).split())
            url, token = URL_LINE.search(text.replace("/ api/", "/api/")), TOKEN_LINE.search(text)
            if url and token:
                return url.group(1), Path(tmp_path / token.group(1)), text
        raise AssertionError(f"the sandbox printed no URL and token file: {''.join(lines)}")

    yield start
    if "p" in process:
        process["p"].terminate()
        process["p"].wait(timeout=30)


@pytest.mark.journey
def test_rehearse_on_the_cohorts_project_xml(tmp_path: Path, environment: dict[str, str], sandbox) -> None:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    _run("codebook", "export", "--format", "redcap-xml", "--out", "X.xml", cwd=tmp_path, env=environment,
         timings=timings, step="codebook export")
    _run("synth", "--out", "input", "--families", "40", "--territories", "3", "--seed", "11", "--as-of", SYNTH_AS_OF,
         cwd=tmp_path, env=environment, timings=timings, step="synth")

    begin = time.perf_counter()
    url, token_file, printed = sandbox(tmp_path / "X.xml")
    timings["sandbox start"] = time.perf_counter() - begin
    token = token_file.read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"[0-9A-F]{32}", token) and token not in printed

    # The coordinator's copy starts empty: enter the synthetic cohort through the API.
    begin = time.perf_counter()
    api = redcap.Project(url, token)
    assert api.export_project_info()["project_id"] > 0
    records = (tmp_path / "input" / "redcap" / "records.csv").read_text(encoding="utf-8")
    imported = api.import_records(records, import_format="csv")
    families = pd.read_csv(io.StringIO(records), dtype=str)["record_id"].nunique()
    assert imported["count"] == families
    timings["import records"] = time.perf_counter() - begin

    env = dict(environment, PROXIMITE_REDCAP_TOKEN=token)
    project = tmp_path / "P"
    project.mkdir()
    (project / "proximite.toml").write_text("[validation]\ndata_docs = false\n", encoding="utf-8")
    pulled = _run("pull", "redcap", "--url", url, "--project-dir", str(project), cwd=tmp_path, env=env,
                  timings=timings, step="pull")
    assert f"{families} records fetched" in " ".join(pulled.split())
    assert token not in pulled
    _run("ingest", "input", "--project-dir", str(project), "--source", "registry", "--source", "reference",
         "--source", "cost", cwd=tmp_path, env=env, timings=timings, step="ingest")
    _run("build", "--project-dir", str(project), cwd=tmp_path, env=env, timings=timings, step="build")
    shot = _run("snapshot", "--project-dir", str(project), cwd=tmp_path, env=env, timings=timings, step="snapshot")
    snapshots = list((project / "reporting").glob("snapshot-*/index.html"))
    assert snapshots, shot
    timings["journey"] = time.perf_counter() - started
    print("\njourney (a) timings, seconds: " + ", ".join(f"{step} {seconds:.1f}" for step, seconds in timings.items()))

"""The shared installation, run for real: `proximite server` on PostgreSQL, a scheduled pipeline
triggered and its artifacts read, then the server restarted and the history found again.

A throwaway PostgreSQL cluster is created for the test (``initdb`` in a temporary directory, as the
``postgres`` user when the tests run as root, listening on a free loopback port, trust
authentication on loopback only) and removed at the end. Skipped, with the reason, where
PostgreSQL's server programs are not installed (Debian: ``make postgresql`` installs them when run
as root; ``make test`` does) or where the ``asyncpg`` driver Prefect needs for PostgreSQL is missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_processes import (
    ServerProcess,
    base_env,
    free_loopback_port,
    proximite_command,
    run_artifact_keys,
    scheduled_project,
    server_command,
    trigger_and_wait,
    wait_healthy,
)

TEST_KEY = "test-key-not-secret-0123456789abcdef"
__all__ = ["base_env", "scheduled_project"]  # fixtures, found by pytest in this namespace
RUN_ARTIFACTS = {"proximite-run-summary", "proximite-validation-summary", "proximite-headline-indicators"}


def _postgres_program(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, else Debian's /usr/lib/postgresql/<version>/bin (newest)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda path: int(Path(path).parts[-3]))
    return candidates[-1] if candidates else None


def _as_cluster_owner() -> list[str]:
    """The command prefix that runs PostgreSQL's programs: as ``postgres`` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return []
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to own a PostgreSQL cluster (apt-get install postgresql creates it)")
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else ["su", "postgres", "-s", "/bin/sh", "-c"]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL cluster on a loopback port with an empty ``prefect`` database; its SQLAlchemy URL."""
    pytest.importorskip("asyncpg", reason="Prefect needs the asyncpg driver for PostgreSQL: pip install asyncpg")
    programs = {name: _postgres_program(name) for name in ("initdb", "pg_ctl")}
    if None in programs.values():
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed; Debian: `make postgresql` as root")
    owner = _as_cluster_owner()
    if owner[:1] == ["su"]:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as the postgres user")
    root = Path(tempfile.mkdtemp(prefix="proximite-pg-"))
    if owner:
        shutil.chown(root, user="postgres")
    data, port = root / "data", free_loopback_port()

    def run(*command: str) -> None:
        done = subprocess.run([*owner, *command], capture_output=True, text=True, timeout=180)
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").is_file() else ""
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}\n{log[-3000:]}"

    try:
        run(programs["initdb"], "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off"
        run(programs["pg_ctl"], "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "-t", "120", "start")
        try:
            createdb = _postgres_program("createdb") or "createdb"
            run(createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "prefect")
            yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect"
        finally:
            subprocess.run([*owner, programs["pg_ctl"], "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True, timeout=120)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.journey
def test_schedule_on_postgresql_keeps_the_history_across_a_restart(
    postgres_url: str, scheduled_project: Path, base_env: dict[str, str], tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    env = {**base_env, "PREFECT_API_DATABASE_CONNECTION_URL": postgres_url}
    port = free_loopback_port()
    api = f"http://127.0.0.1:{port}/api"
    processes: list[ServerProcess] = []
    try:
        server = ServerProcess("proximite server", server_command(scheduled_project, port), env=env, log_dir=tmp_path)
        processes.append(server)
        wait_healthy(api, processes=processes)
        assert f"Database: postgresql+asyncpg://postgres@127.0.0.1" in server.output()
        # Nothing went to SQLite: the project holds no database of its own.
        assert not (scheduled_project / ".prefect" / "prefect.db").exists()

        scheduler = ServerProcess(
            "proximite schedule",
            [*proximite_command(), "schedule", "--cron", "0 6 * * MON", "--project-dir", str(scheduled_project)],
            env={**base_env, "PREFECT_API_URL": api, "PROXIMITE_PSEUDONYM_KEY": TEST_KEY, "PREFECT_RUNNER_POLL_FREQUENCY": "2"},
            log_dir=tmp_path,
        )
        processes.append(scheduler)
        run = trigger_and_wait(api, "pipeline/proximite-cohorte", processes=processes)
        assert RUN_ARTIFACTS <= run_artifact_keys(api, run.id)  # type: ignore[attr-defined]

        for process in reversed(processes):
            process.stop()
        assert [process.process.returncode for process in processes] == [0, 0], "\n".join(p.output() for p in processes)

        # A new server on the same database: the run, its artifacts and the deployment are still there.
        restarted = ServerProcess("proximite server (restarted)", server_command(scheduled_project, port), env=env, log_dir=tmp_path)
        processes.append(restarted)
        wait_healthy(api, processes=[restarted])
        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            again = client.read_flow_run(run.id)  # type: ignore[attr-defined]
            assert again.state is not None and again.state.is_completed()
            deployment = client.read_deployment_by_name("pipeline/proximite-cohorte")
            assert [schedule.schedule.cron for schedule in deployment.schedules] == ["0 6 * * MON"]
            # Stopping `proximite schedule` paused it, as it says, and the pause is kept too.
            assert deployment.paused
        assert RUN_ARTIFACTS <= run_artifact_keys(api, run.id)  # type: ignore[attr-defined]
    finally:
        for process in reversed(processes):
            process.stop()
    assert restarted.process.returncode == 0, restarted.output()
    assert not any("Traceback" in process.output(tail=10**7) for process in processes), "\n".join(p.output() for p in processes)

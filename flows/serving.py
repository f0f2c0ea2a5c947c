"""Running the project's Prefect server and serving deployments against it.

``proximite server`` runs :func:`run_server` in the foreground; ``proximite schedule`` points
Prefect at the server (:func:`use_api`) and serves what
:func:`proximite.flows.deployments.build_deployments` returns (:func:`serve_deployments`);
``proximite notify`` saves its blocks and automations inside :func:`use_api`. Prefect is imported
inside the functions that need it: starting the server process and checking that it answers do
not pay for the import.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    import subprocess

    from prefect.deployments.runner import RunnerDeployment

__all__ = [
    "run_in_foreground",
    "run_server",
    "serve_deployments",
    "server_answers",
    "use_api",
]


def server_answers(api: str) -> bool:
    """True when the Prefect API at ``api`` (ending in ``/api``) answers its health check."""
    import httpx

    try:
        return httpx.get(f"{api}/health", timeout=5.0).status_code == 200
    except httpx.HTTPError:
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # Linux: the server stops if `proximite server` is killed outright (no orphan holding the port).
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def run_in_foreground(command: list[str], *, env: dict[str, str], stop_seconds: float = 30.0) -> int:
    """Run ``command`` until it ends; Ctrl-C or SIGTERM asks it to stop, then it gets ``stop_seconds`` to stop.

    Parameters
    ----------
    command : list of str
        The program and its arguments.
    env : dict, keyword-only
        The child's whole environment.
    stop_seconds : float, keyword-only
        How long the child has to stop after this process leaves before it is killed.

    Returns
    -------
    int
        The child's exit status (negative: the signal that ended it; ``-SIGTERM`` when it was
        stopped before it could handle the request itself).

    Notes
    -----
    The child gets SIGTERM, not SIGINT: a Python program still importing dies of SIGTERM
    silently, where SIGINT would print a ``KeyboardInterrupt`` traceback; a running server
    (uvicorn) stops as cleanly on either. The handler is in place before the child is forked,
    so a Ctrl-C at any moment reaches the child exactly once and never interrupts this process.
    """
    import signal
    import subprocess

    children: list[subprocess.Popen[bytes]] = []
    stop_requested: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        # Also runs in the forked child before exec (nothing there yet): it must never raise.
        stop_requested.append(signum)
        if children and children[0].poll() is None:
            children[0].send_signal(signal.SIGTERM)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        # The child has its own session so that a terminal's Ctrl-C reaches it once, through us.
        children.append(
            subprocess.Popen(
                command,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        )
        if stop_requested:
            children[0].send_signal(signal.SIGTERM)
        return children[0].wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if children:
            _stop(children[0], stop_seconds=stop_seconds)


def _stop(process: subprocess.Popen[bytes], *, stop_seconds: float) -> None:
    """Terminate ``process`` if it still runs, and kill it after ``stop_seconds``."""
    import subprocess

    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=stop_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_server(*, host: str, port: int, env: dict[str, str]) -> int:
    """Run ``prefect server start`` (analytics off) in the foreground until it stops; return its exit status.

    Parameters
    ----------
    host, port : keyword-only
        Where the API and UI listen.
    env : dict, keyword-only
        The server's environment, from :func:`proximite.flows.deployments.server_environment`.
    """
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port), "--analytics-off"]
    return run_in_foreground(command, env=env)


@contextlib.contextmanager
def use_api(url: str) -> Iterator[None]:
    """Point Prefect (this process and the runs it starts) at the server whose API is ``url``.

    Sets ``PREFECT_API_URL`` in the environment, which subprocesses inherit, and in Prefect's
    settings for the duration of the block.
    """
    os.environ["PREFECT_API_URL"] = url
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


def serve_deployments(deployments: Sequence[RunnerDeployment]) -> None:
    """Serve ``deployments`` (``prefect.serve``) until Ctrl-C: scheduled and UI-triggered runs start in subprocesses."""
    import signal

    from prefect import serve

    # Ctrl-C stops serving even when started with SIGINT ignored (a script's background
    # job); Prefect's runner handles SIGTERM itself.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        serve(*deployments, print_starting_message=False)
    finally:
        # Prefect sends its last events and logs from an exit hook; a Ctrl-C that lands
        # there (a second press, or one still pending from the first) printed a traceback
        # after a clean stop. The stop has begun: later ones are ignored.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

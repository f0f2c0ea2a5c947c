"""Orchestration: the project's Prefect server (``proximite server``), the flows served on a
schedule (``proximite schedule``) and failure notifications (``proximite notify``). Everything
that needs Prefect itself is in :mod:`proximite.flows.serving` and :mod:`proximite.flows.notify`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from proximite.cli.common import ProjectDir, console, error_console, user_errors

if TYPE_CHECKING:  # pragma: no cover
    from proximite.config import Settings

__all__ = ["notify_app", "schedule", "server", "stopped_by_ctrl_c"]

#: What `proximite schedule` says when Ctrl-C stops it (Prefect pauses the served deployments).
SCHEDULE_STOPPED = "Stopped: the schedules are paused until `proximite schedule` runs again."


def server(
    project_dir: ProjectDir = Path("."),
    host: Annotated[
        Optional[str], typer.Option(help="Address to listen on; default [orchestration] server_host (127.0.0.1).")
    ] = None,
    port: Annotated[
        Optional[int], typer.Option(help="Port; default [orchestration] server_port (4200).", min=1, max=65535)
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Listen on a non-loopback address. The server has no authentication: only behind a firewall "
            "or a proxy that authenticates.",
        ),
    ] = False,
) -> None:
    """Start the project's Prefect server (API and UI) in the foreground; Ctrl-C stops it.

    Runs `prefect server start` with its SQLite database in <project-dir>/.prefect/prefect.db
    (PREFECT_HOME is <project-dir>/.prefect unless set); a shared installation sets
    PREFECT_API_DATABASE_CONNECTION_URL to PostgreSQL instead (see docs/orchestration.md).
    Analytics are off. Prints the UI address and the PREFECT_API_URL to export for
    `proximite schedule` and the `prefect` command.
    """
    from proximite.config import load_settings
    from proximite.flows import deployments, serving

    with user_errors():
        settings = load_settings(project_dir)
        orchestration = settings.raw.get("orchestration") or {}
        host = host or str(orchestration.get("server_host") or "127.0.0.1")
        port = port or int(orchestration.get("server_port") or 4200)
        if not allow_remote and not deployments.is_loopback_host(host):
            raise deployments.ScheduleError(
                f"--host {host}: not a loopback address. The Prefect server has no authentication: whoever reaches "
                f"{host}:{port} can read every run and start flows. Keep 127.0.0.1 and reach it through an SSH tunnel "
                "(ssh -L 4200:127.0.0.1:4200 ...), or pass --allow-remote behind a firewall or an authenticating proxy."
            )
        env, database = deployments.server_environment(settings, dict(os.environ), host=host, port=port)
        Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
        (settings.project_dir / deployments.PREFECT_DIR_NAME).mkdir(parents=True, exist_ok=True)
    base = env["PREFECT_UI_URL"]
    if os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL"):
        console.print(f"Database: {database} (from PREFECT_API_DATABASE_CONNECTION_URL)", highlight=False, soft_wrap=True)
    else:
        console.print(f"Database: SQLite, {database.split(':///', 1)[-1]}", highlight=False, soft_wrap=True)
    console.print(f"Prefect UI: {base}", highlight=False, soft_wrap=True)
    console.print(
        f"In another terminal: export PREFECT_API_URL={env['PREFECT_API_URL']}   then: proximite schedule --cron \"0 6 * * MON\" "
        f"--project-dir {project_dir}",
        highlight=False,
        soft_wrap=True,
    )
    console.print("Stop with Ctrl-C.")
    with stopped_by_ctrl_c("Server stopped."):
        code = serving.run_server(host=host, port=port, env=env)
    # A stop asked by Ctrl-C (uvicorn's clean stop, or SIGTERM while still starting) is not an error.
    raise typer.Exit(code=0 if code in (0, -2, -15, 130, 143) else code)


@contextlib.contextmanager
def stopped_by_ctrl_c(message: str) -> Iterator[None]:
    """Ctrl-C is how a coordinator stops `server` and `schedule`: one line, status 0, no traceback.

    Click would print "Aborted!" with status 1, and a Ctrl-C while Prefect is still importing
    would print a traceback.
    """
    try:
        yield
    except KeyboardInterrupt:
        console.print(message, highlight=False)
        raise typer.Exit(code=0) from None


def schedule(
    cron: Annotated[
        str, typer.Option(help='When to run: a five-field cron read in --timezone, e.g. "0 6 * * MON" (Mondays 06:00).')
    ],
    flow: Annotated[
        Optional[list[str]],
        typer.Option("--flow", "-f", help="Flow to schedule: pipeline (default), pull_cohort, pull_registry, models, economics; repeatable."),
    ] = None,
    project_dir: ProjectDir = Path("."),
    api_url: Annotated[
        Optional[str],
        typer.Option("--api-url", help="Prefect API URL; default PREFECT_API_URL, else the [orchestration] server's."),
    ] = None,
    timezone: Annotated[
        Optional[str], typer.Option(help="IANA time zone of the cron; default [orchestration] timezone (America/Toronto).")
    ] = None,
) -> None:
    """Serve the flows on a schedule against the project's Prefect server, until Ctrl-C.

    Registers one deployment per flow, named after the project ([project] name) with the
    parameters of [orchestration] (input_dir, redcap_url, token_env, token_secret), and runs
    each scheduled or UI-triggered run in a subprocess of this process: the pseudonym key and the
    REDCap token come from this process's environment. Stopping it pauses the schedules;
    starting it again resumes them.
    """
    with stopped_by_ctrl_c(SCHEDULE_STOPPED):
        _serve_schedule(cron=cron, flow=flow, project_dir=project_dir, api_url=api_url, timezone=timezone)
    console.print(SCHEDULE_STOPPED, highlight=False)


def _serve_schedule(
    *, cron: str, flow: Optional[list[str]], project_dir: Path, api_url: Optional[str], timezone: Optional[str]
) -> None:
    from proximite.config import load_settings
    from proximite.flows import deployments, serving

    with user_errors():
        settings = load_settings(project_dir)
        url = deployments.api_url(settings, option=api_url)
        # A mistyped cron fails here, before any network or Prefect import.
        cron = deployments.validate_cron(cron)
        zone = deployments.resolved_timezone(settings, timezone)
        if not serving.server_answers(url):
            raise deployments.ScheduleError(f"no Prefect server at {url}; start it with `proximite server`")
        # The serving process and the runs it starts talk to this server.
        with serving.use_api(url):
            served = deployments.build_deployments(settings, cron=cron, flows=flow or ["pipeline"], timezone=zone)
            next_run = deployments.next_run_time(cron, timezone=zone)
            console.print(f"Serving on {url}, cron {cron!r} in {zone}:", highlight=False, soft_wrap=True)
            table = Table()
            for column in ("deployment", "next run"):
                table.add_column(column)
            for deployment in served:
                table.add_row(f"{deployment.flow_name}/{deployment.name}", next_run.isoformat(timespec="minutes"))
            console.print(table)
            console.print("Runs are in the Prefect UI (filter on the tag 'proximite'). Stop with Ctrl-C.")
            serving.serve_deployments(served)


notify_app = typer.Typer(
    help="Failure notifications: save a webhook or email block, send a test, create the server's automation.",
    no_args_is_help=True,
    add_completion=False,
)

ApiUrl = Annotated[
    Optional[str], typer.Option("--api-url", help="Prefect API URL; default PREFECT_API_URL, else the [orchestration] server's.")
]


@contextlib.contextmanager
def _prefect_server(project_dir: Path, api_url: Optional[str]) -> Iterator[Settings]:
    """Point Prefect at the project's running server (blocks and automations live there)."""
    from proximite.config import load_settings
    from proximite.flows import deployments, serving

    with user_errors():
        settings = load_settings(project_dir)
        url = deployments.api_url(settings, option=api_url)
        if not serving.server_answers(url):
            raise deployments.ScheduleError(f"no Prefect server at {url}; start it with `proximite server`")
    with serving.use_api(url):
        try:
            yield settings
        except (ValueError, OSError) as error:
            # Prefect says "Unable to find block document named ..." or the SMTP server refused.
            error_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None


def _print_notify_block(value: str, project_dir: Path) -> None:
    console.print(f"Saved. Put this line under [orchestration] in {project_dir / 'proximite.toml'}:", highlight=False, soft_wrap=True)
    console.print(f'notify_block = "{value}"', highlight=False, soft_wrap=True, markup=False)


Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace a block of the same name.")]


@notify_app.command("webhook")
def notify_webhook(
    url: Annotated[str, typer.Argument(help="The endpoint that receives a JSON POST {\"subject\", \"body\"}.")],
    name: Annotated[str, typer.Option("--name", help="Block name, e.g. coordinator.")],
    project_dir: ProjectDir = Path("."),
    api_url: ApiUrl = None,
    overwrite: Overwrite = False,
) -> None:
    """Save a webhook notification block (Teams, Slack, Mattermost or any JSON endpoint)."""
    from proximite.flows import notify

    if not url.startswith(("https://", "http://")):
        raise typer.BadParameter(f"the webhook URL must start with https:// (got {url[:30]!r}...)")
    with _prefect_server(project_dir, api_url):
        value = notify.save_webhook_block(name, url, overwrite=overwrite)
    _print_notify_block(value, project_dir)


@notify_app.command("email")
def notify_email(
    name: Annotated[str, typer.Option("--name", help="Block name, e.g. coordinator.")],
    host: Annotated[str, typer.Option("--host", help="SMTP server host name.")],
    from_address: Annotated[str, typer.Option("--from", help="Sender address.")],
    to: Annotated[list[str], typer.Option("--to", help="Recipient address (repeatable).")],
    port: Annotated[int, typer.Option("--port", help="SMTP port (587 STARTTLS, 465 SSL, 25 plain).", min=1, max=65535)] = 587,
    security: Annotated[str, typer.Option("--security", help="starttls, ssl or none.")] = "starttls",
    username: Annotated[Optional[str], typer.Option("--username", help="SMTP login, when the server needs one.")] = None,
    password_env: Annotated[
        Optional[str], typer.Option("--password-env", help="Environment variable holding the SMTP password (never on the command line).")
    ] = None,
    project_dir: ProjectDir = Path("."),
    api_url: ApiUrl = None,
    overwrite: Overwrite = False,
) -> None:
    """Save an email notification block sending through the institution's SMTP server."""
    from proximite.flows import notify

    if security not in {"starttls", "ssl", "none"}:
        raise typer.BadParameter(f"--security must be starttls, ssl or none (got {security!r})")
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise typer.BadParameter(f"--password-env {password_env}: that environment variable is not set")
    with _prefect_server(project_dir, api_url):
        value = notify.save_email_block(
            name,
            overwrite=overwrite,
            smtp_host=host,
            smtp_port=port,
            security=security,
            username=username,
            password=password,
            from_address=from_address,
            to_addresses=list(to),
        )
    _print_notify_block(value, project_dir)


@notify_app.command("test")
def notify_test(
    block: Annotated[str, typer.Option("--block", help='The block, as in notify_block: "custom-webhook/coordinator".')],
    project_dir: ProjectDir = Path("."),
    api_url: ApiUrl = None,
) -> None:
    """Send a test message through a notification block (check that the coordinator receives it)."""
    from proximite.flows import notify

    with _prefect_server(project_dir, api_url) as settings:
        notify.send_test_notice(block, project_name=settings.project_name)
    console.print(f"Test message sent through {block}.", highlight=False)


@notify_app.command("automation")
def notify_automation(
    block: Annotated[str, typer.Option("--block", help='A webhook block, as in notify_block: "custom-webhook/coordinator".')],
    name: Annotated[str, typer.Option("--name", help="Automation name (replaced if it exists).")] = "proximite-run-failed",
    project_dir: ProjectDir = Path("."),
    api_url: ApiUrl = None,
) -> None:
    """Create the server's automation: notify when a run tagged proximite ends Failed or Crashed."""
    from proximite.flows import notify

    with _prefect_server(project_dir, api_url):
        automation = notify.create_failure_automation(block, name=name)
    console.print(
        f"Automation {name!r} ({automation.id}) notifies through {block} when a run tagged "
        f"{notify.FLOW_TAG!r} ends Failed or Crashed.",
        highlight=False,
        soft_wrap=True,
    )

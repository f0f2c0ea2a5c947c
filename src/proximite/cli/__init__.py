"""The ``proximite`` command line: the typer ``app`` assembled from one module per command group.

Heavy imports (pandas, Prefect) happen inside the commands so that ``--help`` stays quick.
Errors a user can act on (bad input, missing key, failed build) print one clear message and exit
with status 1; nothing about a family is printed.
"""

from __future__ import annotations

import os

import typer

# The machines are offline: no telemetry from Prefect or Great Expectations.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Prefect's ephemeral server gets 20 s to start by default, which a busy two-core machine can miss
# ("Timed out while attempting to connect to ephemeral Prefect API server").
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# The terminal shows warnings and errors only, as under `make demo` (PREFECT_LOGGING_LEVEL=INFO
# shows everything). A flow run's own log lines still reach the Prefect UI at INFO: its loggers
# are at INFO and only the terminal's handler filters. (The platform's loggers, `proximite.*`,
# propagate to the root logger, which Prefect keeps at WARNING.)
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL", "INFO")
os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "INFO")

from proximite.cli import codebook, data, demo, economics, lookup, models, monitoring, orchestration, privacy, pull, redcap  # noqa: E402
from proximite.cli.disclosure import disclosure_app  # noqa: E402

__all__ = ["app", "main"]

app = typer.Typer(
    name="proximite",
    help="Proximité: cohort, activity registry, indicators and cost–benefit of outreach work with isolated families.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Registration order is the order of `proximite --help`.
for command in (
    demo.synth,
    data.ingest,
    data.build,
    data.validate,
    pull.sandbox,
    data.snapshot,
    monitoring.followups,
    lookup.lookup,
    orchestration.server,
    orchestration.schedule,
    monitoring.status,
    models.validity,
    demo.demo,
):
    app.command()(command)

app.add_typer(codebook.codebook_app, name="codebook")
app.add_typer(pull.pull_app, name="pull")
app.add_typer(orchestration.notify_app, name="notify")
app.add_typer(models.models_app, name="models")
app.add_typer(economics.economics_app, name="economics")
app.add_typer(redcap.redcap_app, name="redcap")
app.add_typer(disclosure_app, name="disclosure")
app.add_typer(privacy.privacy_app, name="privacy")


def main() -> None:  # pragma: no cover - console entry point
    """Run the command line (the ``proximite`` console script calls ``app`` directly)."""
    app()

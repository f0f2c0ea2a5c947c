"""Deployments of the schedulable flows, built from the project's ``[orchestration]`` settings.

``proximite schedule`` serves what :func:`build_deployments` returns against a running Prefect
server (:func:`proximite.flows.serving.serve_deployments`, ``prefect.serve``: the flows run in
subprocesses of the serving process, which holds the environment: the pseudonym key, the REDCap
token). ``prefect.yaml`` at the repository root
declares the same deployments for teams that run them through a work pool; a unit test keeps the
two in step (same flows, same deployment names, valid crons).

Parameters carry paths, URLs and the *names* of where secrets are (an environment variable, a
Secret block), never a secret itself: the server stores deployment parameters in clear.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from proximite.errors import ProximiteError
from proximite.config import Settings

if TYPE_CHECKING:  # pragma: no cover - typing only
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment

__all__ = [
    "DEFAULT_TIMEZONE",
    "DEPLOYMENT_TAGS",
    "PREFECT_DIR_NAME",
    "SCHEDULABLE_FLOWS",
    "ScheduleError",
    "api_url",
    "build_deployments",
    "deployment_name",
    "describe_database_url",
    "is_loopback_host",
    "load_flow",
    "next_run_time",
    "resolved_timezone",
    "scheduled_parameters",
    "server_addresses",
    "server_environment",
    "url_host",
    "validate_cron",
    "validate_timezone",
]

#: Flow name → ``"module:function"`` of every flow a coordinator can schedule.
SCHEDULABLE_FLOWS: dict[str, str] = {
    "pipeline": "proximite.flows.pipeline:pipeline",
    "pull_cohort": "proximite.flows.pull_cohort:pull_cohort",
    "pull_registry": "proximite.flows.pull_registry:pull_registry",
    "models": "proximite.flows.models:models",
    "economics": "proximite.flows.economics:economics",
}

#: Timezone of the schedules when neither the option nor ``[orchestration] timezone`` gives one.
DEFAULT_TIMEZONE = "America/Toronto"

#: Tags of every scheduled deployment (the flows' runs carry ``proximite`` too): the UI filters on them.
DEPLOYMENT_TAGS: tuple[str, ...] = ("proximite", "scheduled")


class ScheduleError(ProximiteError):
    """A schedule cannot be built: bad cron or timezone, unknown flow, missing setting."""


def _orchestration(settings: Settings) -> dict[str, Any]:
    return dict(settings.raw.get("orchestration") or {})


def _blank_to_none(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def load_flow(flow_name: str) -> Flow[..., Any]:
    """Import the flow object registered under ``flow_name`` in :data:`SCHEDULABLE_FLOWS`.

    Raises
    ------
    ScheduleError
        When ``flow_name`` is not schedulable (the message lists the ones that are).
    """
    if flow_name not in SCHEDULABLE_FLOWS:
        raise ScheduleError(f"unknown flow {flow_name!r}; the flows that can be scheduled are: {', '.join(SCHEDULABLE_FLOWS)}")
    module_name, attribute = SCHEDULABLE_FLOWS[flow_name].split(":")
    return getattr(importlib.import_module(module_name), attribute)


def deployment_name(settings: Settings) -> str:
    """The deployments' name: the project's name (``<flow>/<project name>`` in the UI)."""
    return settings.project_name


def scheduled_parameters(settings: Settings, flow_name: str) -> dict[str, Any]:
    """The parameters a scheduled run of ``flow_name`` gets, from ``[orchestration]``.

    Parameters
    ----------
    settings : Settings
        The project's settings (``project_dir`` is made absolute: runs do not depend on the
        serving process's working directory).
    flow_name : str
        A key of :data:`SCHEDULABLE_FLOWS`.

    Returns
    -------
    dict
        ``pipeline``: ``input_dir`` (resolved against the project directory), ``project_dir``,
        ``redcap_url`` (None when ``""``: the REDCap export files of ``input_dir`` are ingested),
        ``token_env``, ``token_secret`` (None when ``""``); ``pull_cohort``: ``url``,
        ``project_dir``, ``token_env``, ``token_secret``; ``pull_registry``: ``input_dir``,
        ``project_dir``; ``models`` and ``economics``: ``project_dir``. Names of secrets only, never their values.

    Raises
    ------
    ScheduleError
        For an unknown flow, or ``pull_cohort`` without ``[orchestration] redcap_url``.
    """
    if flow_name not in SCHEDULABLE_FLOWS:
        raise ScheduleError(f"unknown flow {flow_name!r}; the flows that can be scheduled are: {', '.join(SCHEDULABLE_FLOWS)}")
    orchestration = _orchestration(settings)
    project_dir = str(Path(settings.project_dir).resolve())
    input_dir = str((Path(settings.project_dir) / str(orchestration.get("input_dir") or "input")).resolve())
    redcap_url = _blank_to_none(orchestration.get("redcap_url"))
    token_env = _blank_to_none(orchestration.get("token_env"))
    token_secret = _blank_to_none(orchestration.get("token_secret"))
    if flow_name == "pipeline":
        return {
            "input_dir": input_dir,
            "project_dir": project_dir,
            "redcap_url": redcap_url,
            "token_env": token_env,
            "token_secret": token_secret,
        }
    if flow_name == "pull_cohort":
        if redcap_url is None:
            raise ScheduleError(
                "pull_cohort needs the REDCap API URL: set [orchestration] redcap_url in "
                f"{Path(settings.project_dir) / 'proximite.toml'} (or schedule the pipeline, which ingests the export files)"
            )
        return {"url": redcap_url, "project_dir": project_dir, "token_env": token_env, "token_secret": token_secret}
    if flow_name in ("models", "economics"):
        # The build current when the run starts; economics with the shipped parameter files
        # unless the deployment's parameters are edited (in the UI or prefect.yaml).
        return {"project_dir": project_dir}
    return {"input_dir": input_dir, "project_dir": project_dir}


def _croniter() -> Any:
    # croniter is what Prefect validates crons with; Prefect 3.8 vendors it.
    try:
        from croniter import croniter
    except ModuleNotFoundError:
        from prefect._vendor.croniter import croniter
    return croniter


def validate_cron(cron: str) -> str:
    """Return ``cron`` stripped, or raise :class:`ScheduleError` saying what a cron looks like.

    Five fields (minute hour day-of-month month day-of-week), as Prefect accepts them: croniter's
    random and hashed forms (``R``, ``H``) are refused.
    """
    text = " ".join(str(cron).split())
    fields = text.split(" ")
    example = 'five fields "minute hour day-of-month month day-of-week", e.g. "0 6 * * MON" (Mondays at 06:00)'
    if len(fields) != 5:
        raise ScheduleError(f"--cron {cron!r}: a cron has {example}; got {len(fields) if text else 0} field(s)")
    if any(field.casefold() in {"r", "h"} for field in fields) or not _croniter().is_valid(text):
        raise ScheduleError(f"--cron {cron!r}: not a valid cron expression; a cron has {example}")
    return text


def validate_timezone(timezone: str) -> str:
    """Return ``timezone`` if it is an IANA name (``America/Toronto``), else raise :class:`ScheduleError`."""
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"timezone {timezone!r}: not an IANA time zone name such as 'America/Toronto'") from None
    return str(timezone)


def resolved_timezone(settings: Settings, timezone: str | None = None) -> str:
    """The schedules' time zone: ``timezone``, else ``[orchestration] timezone``, else :data:`DEFAULT_TIMEZONE`."""
    return validate_timezone(timezone or _orchestration(settings).get("timezone") or DEFAULT_TIMEZONE)


def next_run_time(cron: str, *, timezone: str, after: dt.datetime | None = None) -> dt.datetime:
    """The first time after ``after`` (default: now) that ``cron`` fires, in ``timezone``.

    Notes
    -----
    The cron is read in local time of ``timezone`` (06:00 stays 06:00 across daylight saving
    changes), as Prefect's scheduler reads it.
    """
    zone = ZoneInfo(validate_timezone(timezone))
    # croniter steps aware datetimes by fixed offsets (wrong across a change of offset): iterate
    # on the zone's wall clock and attach the zone at the end.
    wall_clock = (after or dt.datetime.now(dt.timezone.utc)).astimezone(zone).replace(tzinfo=None)
    return _croniter()(validate_cron(cron), wall_clock).get_next(dt.datetime).replace(tzinfo=zone)


def build_deployments(
    settings: Settings,
    *,
    cron: str,
    flows: Sequence[str] | Iterable[str] = ("pipeline",),
    timezone: str | None = None,
) -> list[RunnerDeployment]:
    """One deployment per flow, scheduled by ``cron``, ready for ``prefect.serve``.

    Parameters
    ----------
    settings : Settings
        The project's settings: parameters come from ``[orchestration]`` (see
        :func:`scheduled_parameters`), the name from ``[project] name``.
    cron : str, keyword-only
        Five-field cron, e.g. ``"0 6 * * MON"``.
    flows : sequence of str, keyword-only
        Keys of :data:`SCHEDULABLE_FLOWS` (each once; order kept).
    timezone : str, optional, keyword-only
        IANA zone the cron is read in; default ``[orchestration] timezone``, else
        :data:`DEFAULT_TIMEZONE`.

    Returns
    -------
    list of RunnerDeployment
        Named ``<project name>``, tagged :data:`DEPLOYMENT_TAGS` plus the flow's name, with a
        module-path entrypoint (the installed package, whatever the working directory).

    Raises
    ------
    ScheduleError
        Bad cron or timezone, no flow, an unknown flow, or a flow whose settings are missing.
    """
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    text = validate_cron(cron)
    zone = resolved_timezone(settings, timezone)
    chosen = list(dict.fromkeys(flows))
    if not chosen:
        raise ScheduleError(f"no flow to schedule; choose among: {', '.join(SCHEDULABLE_FLOWS)}")
    unknown = [name for name in chosen if name not in SCHEDULABLE_FLOWS]
    if unknown:
        raise ScheduleError(
            f"unknown flow(s) {', '.join(map(repr, unknown))}; the flows that can be scheduled are: {', '.join(SCHEDULABLE_FLOWS)}"
        )
    # Parameters first: a missing setting fails before any flow module is imported.
    parameters = {name: scheduled_parameters(settings, name) for name in chosen}
    deployments = []
    for name in chosen:
        deployments.append(
            load_flow(name).to_deployment(
                name=deployment_name(settings),
                schedule=Cron(text, timezone=zone),
                parameters=parameters[name],
                tags=[*DEPLOYMENT_TAGS, name],
                description=f"{name} of {settings.project_name}, scheduled by `proximite schedule` ({text}, {zone}).",
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
    return deployments


# ------------------------------------------------------------------------------ the local server
#: Where ``proximite server`` keeps Prefect's home and SQLite database, under the project.
PREFECT_DIR_NAME = ".prefect"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def describe_database_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print)."""
    import re

    # scheme://user:password@host → scheme://user:***@host
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def server_environment(
    settings: Settings, environ: dict[str, str], *, host: str | None = None, port: int | None = None
) -> tuple[dict[str, str], str]:
    """The environment of ``prefect server start`` for this project, and which database it uses.

    Parameters
    ----------
    settings : Settings
    environ : dict
        The current environment (not modified).
    host, port : optional, keyword-only
        Where the server listens. When given, the server's own API address and the UI's
        (``PREFECT_SERVER_API_HOST``/``PORT``, ``PREFECT_API_URL``, ``PREFECT_UI_URL``,
        ``PREFECT_SERVER_UI_API_URL``) follow them: ``prefect server start --port`` alone leaves
        the UI asking the API on port 4200 (or on a ``PREFECT_API_URL`` exported for another
        server). A ``PREFECT_UI_API_URL``/``PREFECT_SERVER_UI_API_URL`` set in ``environ`` is
        kept (a proxy in front of the server).

    Returns
    -------
    (dict, str)
        A copy of ``environ`` with ``PREFECT_HOME`` (``<project>/.prefect`` unless set),
        ``PREFECT_API_DATABASE_CONNECTION_URL`` (SQLite in ``PREFECT_HOME`` unless set, e.g. to
        PostgreSQL for a shared installation), the addresses above and analytics off; and the
        database URL with its password masked.
    """
    env = dict(environ)
    prefect_dir = Path(settings.project_dir).resolve() / PREFECT_DIR_NAME
    env.setdefault("PREFECT_HOME", str(prefect_dir))
    if not env.get("PREFECT_API_DATABASE_CONNECTION_URL"):
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{prefect_dir / 'prefect.db'}"
    # The machines are offline: no telemetry, whatever the environment says.
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["DO_NOT_TRACK"] = "1"
    if host is not None and port is not None:
        env.update(server_addresses(host, port, environ=env))
    return env, describe_database_url(env["PREFECT_API_DATABASE_CONNECTION_URL"])


#: Addresses a server listens on for every interface: a browser cannot use them as they are.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "[::]", ""})


def server_addresses(host: str, port: int, *, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The Prefect settings that tell a server on ``host:port`` (and its UI) where its API is.

    Parameters
    ----------
    host : str
        The address the server listens on; for a wildcard (``0.0.0.0``, ``::``) the links use
        this machine's name, which a browser elsewhere can resolve.
    port : int
    environ : dict, optional, keyword-only
        An explicit ``PREFECT_SERVER_UI_API_URL`` or ``PREFECT_UI_API_URL`` in it wins (the
        address a proxy in front of the server publishes).

    Returns
    -------
    dict
        ``PREFECT_SERVER_API_HOST``, ``PREFECT_SERVER_API_PORT``, ``PREFECT_API_URL`` (the
        server's own clients), ``PREFECT_UI_URL`` (links in notifications) and
        ``PREFECT_SERVER_UI_API_URL`` (what the UI's pages call).
    """
    import socket

    env = environ or {}
    visible = socket.getfqdn() if host.strip() in WILDCARD_HOSTS else host
    base = f"http://{url_host(visible)}:{port}"
    ui_api = env.get("PREFECT_SERVER_UI_API_URL") or env.get("PREFECT_UI_API_URL") or f"{base}/api"
    return {
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_API_URL": f"{base}/api",
        "PREFECT_UI_URL": env.get("PREFECT_UI_URL") or base,
        "PREFECT_SERVER_UI_API_URL": ui_api,
    }


def api_url(settings: Settings, *, option: str | None = None, environ: dict[str, str] | None = None) -> str:
    """The Prefect API URL: ``option``, else ``PREFECT_API_URL``, else the configured local server."""
    import os

    env = os.environ if environ is None else environ
    if option:
        return option.rstrip("/")
    if env.get("PREFECT_API_URL"):
        return env["PREFECT_API_URL"].rstrip("/")
    orchestration = _orchestration(settings)
    host = str(orchestration.get("server_host") or "127.0.0.1")
    port = int(orchestration.get("server_port") or 4200)
    return f"http://{url_host(host)}:{port}/api"


def url_host(host: str) -> str:
    """``host`` as it goes in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host

"""Telling the coordinator that a run failed: the ``on_failure`` hook, an SMTP block, the automation.

Two independent paths, so a notification still leaves when one of them is down:

- :func:`notify_failure`, the ``on_failure`` hook of every flow, runs in the flow's own process:
  it writes ``reporting/failures/<time>-<flow>.md`` in the project and sends the same message
  through the Prefect notification block named by ``[orchestration] notify_block``
  (``"custom-webhook/<name>"`` for a webhook, ``"proximite-smtp-email/<name>"`` for email);
- :func:`failure_automation` describes a Prefect automation that the server runs when any flow
  tagged ``proximite`` fails or crashes, even when the flow's process died before its hook ran
  (it needs a block the server knows: a webhook block).

The message names the flow, the run, the reason (the failure's message: counts, rule ids,
tables and paths, never a value) and the quarantine reports, and says that the last good
warehouse and snapshot are still in place.
"""

from __future__ import annotations

import datetime as dt
import re
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from prefect.blocks.abstract import NotificationBlock
from pydantic import Field, SecretStr

__all__ = [
    "FAILURES_DIR",
    "FailureNotice",
    "SmtpEmail",
    "failure_automation",
    "failure_notice",
    "notify_failure",
    "send_notice",
]

#: Under the project's reporting directory.
FAILURES_DIR = "failures"
#: The flows' tag the automation follows.
FLOW_TAG = "proximite"


class SmtpEmail(NotificationBlock):
    """Send a notification by email through an SMTP server (STARTTLS by default).

    Save it once (``proximite notify email ...`` or in Python), then name it in
    ``[orchestration] notify_block = "proximite-smtp-email/<name>"``.
    """

    _block_type_name = "Proximité SMTP email"
    _block_type_slug = "proximite-smtp-email"
    _description = "Email a coordinator through an SMTP server (Proximité's failure notifications)."

    smtp_host: str = Field(description="SMTP server host name.")
    smtp_port: int = Field(default=587, description="SMTP port (587 with STARTTLS, 465 with SSL, 25 plain).")
    security: str = Field(default="starttls", description="starttls, ssl or none.")
    username: str | None = Field(default=None, description="Login, when the server needs one.")
    password: SecretStr | None = Field(default=None, description="Password of the login.")
    from_address: str = Field(description="Sender address.")
    to_addresses: list[str] = Field(description="Recipients (the coordinators).")
    timeout_seconds: float = Field(default=30.0)

    def message(self, body: str, subject: str | None = None) -> EmailMessage:
        """The email this block sends (for checking what leaves)."""
        email = EmailMessage()
        email["From"] = self.from_address
        email["To"] = ", ".join(self.to_addresses)
        email["Subject"] = subject or "Proximité"
        email.set_content(body)
        return email

    def notify(self, body: str, subject: str | None = None) -> None:
        """Send ``body`` to every recipient."""
        if self.security not in {"starttls", "ssl", "none"}:
            raise ValueError(f"security must be starttls, ssl or none, not {self.security!r}")
        email = self.message(body, subject)
        context = ssl.create_default_context()
        if self.security == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(self.smtp_host, self.smtp_port, timeout=self.timeout_seconds, context=context)
        else:
            server = smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_seconds)
        with server:
            if self.security == "starttls":
                server.starttls(context=context)
            if self.username:
                server.login(self.username, self.password.get_secret_value() if self.password else "")
            server.send_message(email)


class FailureNotice:
    """A failure notification: a subject and a body of counts, ids and paths.

    Attributes
    ----------
    subject, body : str
    quarantine_reports : list of str
    """

    def __init__(self, subject: str, body: str, quarantine_reports: Sequence[str]) -> None:
        self.subject = subject
        self.body = body
        self.quarantine_reports = list(quarantine_reports)

    def markdown(self) -> str:
        """The notice as a Markdown file."""
        return f"# {self.subject}\n\n{self.body}\n"


def _gate_reports(error: BaseException | None) -> list[str]:
    """Report and quarantine directories of a gate refusal (and of the other sources it lists)."""
    from proximite.expectations.gates import GateFailed

    found: list[str] = []
    if isinstance(error, GateFailed):
        for refusal in [error, *getattr(error, "others", [])]:
            for path in (getattr(refusal, "report_dir", None), getattr(refusal, "quarantine_dir", None)):
                if path is not None and str(path) not in found:
                    found.append(str(path))
    return found


def _recent_quarantine(settings: Any, since: dt.datetime | None) -> list[str]:
    """Quarantine reports written since the run started (when the exception is not at hand)."""
    root = settings.data_dir / "quarantine"
    if not root.is_dir():
        return []
    cutoff = since.timestamp() if since else 0.0
    reports = [path.parent for path in root.rglob("report.html") if path.stat().st_mtime >= cutoff]
    return [str(path) for path in sorted(reports, key=lambda p: p.stat().st_mtime)]


def _safe_reason(message: str | None, *, limit: int = 3000) -> str:
    """The failure's message, without anything that looks like an API token, and not too long."""
    text = (message or "no message").strip()
    text = re.sub(r"\b[0-9A-Fa-f]{32,}\b", "<hidden>", text)
    return text if len(text) <= limit else text[:limit] + " …"


def failure_notice(
    *,
    flow_name: str,
    flow_run_name: str,
    flow_run_id: str,
    reason: str | None,
    project_dir: str | Path | None,
    error: BaseException | None = None,
    started: dt.datetime | None = None,
    ui_url: str | None = None,
) -> FailureNotice:
    """Compose the notification of a failed run.

    Parameters
    ----------
    flow_name, flow_run_name, flow_run_id : str, keyword-only
    reason : str, keyword-only
        The failed state's message.
    project_dir : str or Path, keyword-only
        The run's project (its ``project_dir`` parameter); None when unknown.
    error : BaseException, optional, keyword-only
        The exception, when the hook can get it: a gate refusal names its reports.
    started : datetime, optional, keyword-only
        Start of the run: quarantine reports written since are listed when ``error`` is not a
        gate refusal.
    ui_url : str, optional, keyword-only
        The Prefect UI's base URL (a link to the run is added).

    Returns
    -------
    FailureNotice
    """
    from proximite.config import load_settings

    lines = [f"The {flow_name} run {flow_run_name} ({flow_run_id}) failed.", "", f"Reason: {_safe_reason(reason)}"]
    reports = _gate_reports(error)
    settings = None
    if project_dir is not None:
        try:
            settings = load_settings(project_dir)
        except Exception:  # noqa: BLE001 - a broken configuration must not stop the notification
            settings = None
    if not reports and settings is not None:
        reports = _recent_quarantine(settings, started)
    if reports:
        lines += ["", "Quarantine reports (what was refused and why):", *[f"- {path}" for path in reports]]
    if settings is not None:
        lines += ["", _last_good_state(settings)]
    if ui_url:
        lines += ["", f"Run in the Prefect UI: {ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}"]
    subject = f"Proximité: {flow_name} failed" + (f" ({settings.project_name})" if settings is not None else "")
    return FailureNotice(subject, "\n".join(lines), reports)


def _last_good_state(settings: Any) -> str:
    """One sentence on what is still in place: the current build and the last snapshot."""
    from proximite.cohort.status import last_snapshot
    from proximite.cohort.warehouse import current_build

    try:
        build = current_build(settings)
    except Exception:  # noqa: BLE001
        build = None
    try:
        snapshot = last_snapshot(settings)
    except Exception:  # noqa: BLE001
        snapshot = None
    parts = [f"warehouse build {build.build_id}" if build else "no warehouse yet"]
    if snapshot:
        parts.append(f"snapshot {snapshot.get('path')}")
    return "Unchanged and still in use: " + ", ".join(parts) + "."


def write_notice(settings: Any, notice: FailureNotice, *, flow_name: str, now: dt.datetime | None = None) -> Path:
    """Write ``reporting/failures/<time>-<flow>.md`` (the project's own record of failures)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    directory = settings.reporting_dir / FAILURES_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{flow_name}.md"
    path.write_text(notice.markdown(), encoding="utf-8")
    return path


def send_notice(block_name: str, notice: FailureNotice) -> None:
    """Send ``notice`` through the Prefect notification block ``"<block type slug>/<name>"``."""
    from prefect.blocks.core import Block

    if "/" not in block_name:
        raise ValueError(
            f"[orchestration] notify_block = {block_name!r}: write it as '<block type>/<name>', "
            "e.g. 'custom-webhook/coordinator' or 'proximite-smtp-email/coordinator'"
        )
    block = Block.load(block_name)
    if not hasattr(block, "notify"):
        raise TypeError(f"block {block_name!r} cannot send notifications (it has no notify method)")
    block.notify(body=notice.body, subject=notice.subject)


def notify_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_failure`` hook: record the failure in the project and notify the coordinator.

    Never raises: a notification that cannot be sent is logged (the run has failed already).
    """
    import logging

    from prefect.settings import PREFECT_UI_URL

    from proximite.config import load_settings

    logger = logging.getLogger("proximite.flows")
    if getattr(flow_run, "parent_task_run_id", None) is not None:
        # A subflow: its parent fails with the same error and sends the one notice.
        return
    parameters = dict(getattr(flow_run, "parameters", {}) or {})
    project_dir = parameters.get("project_dir")
    try:
        error = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - the result may not be retrievable (not persisted)
        error = None
    notice = failure_notice(
        flow_name=getattr(flow, "name", "flow"),
        flow_run_name=str(getattr(flow_run, "name", "")),
        flow_run_id=str(getattr(flow_run, "id", "")),
        reason=getattr(state, "message", None),
        project_dir=project_dir,
        error=error if isinstance(error, BaseException) else None,
        started=getattr(flow_run, "start_time", None),
        ui_url=PREFECT_UI_URL.value(),
    )
    block_name = ""
    if project_dir is not None:
        try:
            settings = load_settings(project_dir)
            path = write_notice(settings, notice, flow_name=getattr(flow, "name", "flow"))
            logger.warning("run failed; notice written to %s", path)
            block_name = str(settings.raw.get("orchestration", {}).get("notify_block", "") or "")
        except Exception as problem:  # noqa: BLE001
            logger.error("could not record the failure notice: %s", problem)
    if not block_name:
        return
    try:
        send_notice(block_name, notice)
    except Exception as problem:  # noqa: BLE001
        logger.error("could not send the failure notification through %s: %s", block_name, problem)


def failure_automation(block_document_id: Any, *, name: str = "proximite-run-failed", tag: str = FLOW_TAG) -> Any:
    """The Prefect automation: notify through a block when a flow tagged ``tag`` fails or crashes.

    Parameters
    ----------
    block_document_id : UUID
        A notification block the server can run (a webhook block).
    name : str, keyword-only
    tag : str, keyword-only

    Returns
    -------
    prefect.automations.Automation
        Not yet created; ``.create()`` registers it with the server.
    """
    from prefect.automations import Automation, EventTrigger, Posture, SendNotification

    body = (
        "The {{ flow.name }} run {{ flow_run.name }} ({{ flow_run.id }}) ended {{ flow_run.state.name }}.\n\n"
        "Reason: {{ flow_run.state.message }}\n\n"
        "Project: {{ flow_run.parameters.project_dir }}. Quarantine reports are under "
        "{{ flow_run.parameters.project_dir }}/data/quarantine/; the last good warehouse and snapshot are unchanged.\n"
        "{{ flow_run|ui_url }}"
    )
    return Automation(
        name=name,
        description="Notify the coordinators when a Proximité flow run fails or crashes.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{tag}"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[SendNotification(block_document_id=block_document_id, subject="Proximité: {{ flow.name }} {{ flow_run.state.name }}", body=body)],
    )


def save_webhook_block(name: str, url: str, *, overwrite: bool = False) -> str:
    """Save a webhook notification block (Prefect's ``custom-webhook``) posting ``{"subject", "body"}`` as JSON.

    Returns
    -------
    str
        The value of ``[orchestration] notify_block`` that names it.
    """
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    CustomWebhookNotificationBlock(
        name=name, url=url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
    ).save(name, overwrite=overwrite)
    return f"custom-webhook/{name}"


def save_email_block(name: str, *, overwrite: bool = False, **fields: Any) -> str:
    """Save an :class:`SmtpEmail` block; returns the value of ``[orchestration] notify_block`` naming it."""
    SmtpEmail(**fields).save(name, overwrite=overwrite)
    return f"{SmtpEmail.get_block_type_slug()}/{name}"


def create_failure_automation(block_name: str, *, name: str = "proximite-run-failed") -> Any:
    """Create (or replace) the failure automation on the server, notifying through ``block_name``.

    Raises
    ------
    ValueError
        The block is not one the server can run: the server only knows Prefect's own block types,
        so an automation needs a webhook block (the SMTP block works from the hook only).
    """
    from prefect.automations import Automation
    from prefect.blocks.core import Block

    slug, _, block = block_name.partition("/")
    if slug == SmtpEmail.get_block_type_slug():
        raise ValueError(
            f"{block_name}: the Prefect server cannot send through proximite's SMTP block; use a webhook block "
            "for the automation (the failure hook sends email itself)"
        )
    document_id = Block.load(block_name)._block_document_id
    try:
        Automation.read(name=name).delete()
    except ValueError:
        pass
    return failure_automation(document_id, name=name).create()


def send_test_notice(block_name: str, *, project_name: str = "proximite") -> None:
    """Send a test message through ``block_name`` (to check the coordinator receives it)."""
    notice = FailureNotice(
        f"Proximité: test notification ({project_name})",
        "This is a test of the failure notifications of Proximité. Nothing failed.",
        [],
    )
    send_notice(block_name, notice)

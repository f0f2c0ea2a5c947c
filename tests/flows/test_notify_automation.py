"""The documented automation is accepted by Prefect's API and follows failed and crashed Proximité runs."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback endpoint that records the JSON bodies POSTed to it: (its URL, what it received)."""
    received: list[dict[str, Any]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", received
    finally:
        server.shutdown()


def test_the_failure_automation_is_created_through_the_api_with_its_trigger_and_notification() -> None:
    from prefect.automations import Automation

    from proximite.flows.notify import create_failure_automation, save_email_block, save_webhook_block

    block_name = save_webhook_block("automation-test", "http://127.0.0.1:9/hook", overwrite=True)
    assert block_name == "custom-webhook/automation-test"
    create_failure_automation(block_name, name="proximite-run-failed-test")
    # Created twice: replaced, not duplicated.
    created = create_failure_automation(block_name, name="proximite-run-failed-test")
    read = Automation.read(id=created.id)
    assert read.name == "proximite-run-failed-test" and read.enabled
    assert read.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert read.trigger.match_related.root == {"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.proximite"}
    (action,) = read.actions
    assert action.type == "send-notification"
    assert "quarantine" in action.body and "{{ flow_run.state.message }}" in action.body
    read.delete()

    email = save_email_block("mail-test", smtp_host="h", from_address="f@x.org", to_addresses=["t@x.org"], overwrite=True)
    with pytest.raises(ValueError, match="webhook block"):
        create_failure_automation(email)


def test_a_test_notice_reaches_the_webhook(webhook: tuple[str, list[dict[str, Any]]]) -> None:
    from proximite.flows.notify import save_webhook_block, send_test_notice

    url, received = webhook
    name = save_webhook_block("test-notice", url, overwrite=True)
    send_test_notice(name, project_name="demo")
    assert received == [{"subject": "Proximité: test notification (demo)", "body": "This is a test of the failure notifications of Proximité. Nothing failed."}]


def test_the_notify_commands_save_the_block_send_a_test_and_create_the_automation(
    tmp_path: Any, monkeypatch: Any, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    from prefect.automations import Automation
    from prefect.settings import PREFECT_API_URL
    from typer.testing import CliRunner

    from proximite.cli import app

    runner = CliRunner()
    api = ["--api-url", str(PREFECT_API_URL.value()), "--project-dir", str(tmp_path)]
    url, received = webhook
    saved = runner.invoke(app, ["notify", "webhook", url, "--name", "cli-coordinator", "--overwrite", *api])
    assert saved.exit_code == 0, saved.output
    assert 'notify_block = "custom-webhook/cli-coordinator"' in saved.output
    sent = runner.invoke(app, ["notify", "test", "--block", "custom-webhook/cli-coordinator", *api])
    assert sent.exit_code == 0, sent.output
    # The project's name ([project] name, default proximite-cohorte) is in the subject.
    assert [message["subject"] for message in received] == ["Proximité: test notification (proximite-cohorte)"]

    created = runner.invoke(app, ["notify", "automation", "--block", "custom-webhook/cli-coordinator", "--name", "cli-failed", *api])
    assert created.exit_code == 0, created.output
    Automation.read(name="cli-failed").delete()

    # An unknown block and an SMTP password variable that is not set are named, with status 1 or 2.
    missing = runner.invoke(app, ["notify", "test", "--block", "custom-webhook/nobody", *api])
    assert missing.exit_code == 1 and "nobody" in missing.output
    monkeypatch.delenv("NO_SUCH_SMTP_PASSWORD", raising=False)
    email = runner.invoke(
        app,
        ["notify", "email", "--name", "m", "--host", "smtp.example.org", "--from", "a@example.org", "--to", "b@example.org",
         "--username", "u", "--password-env", "NO_SUCH_SMTP_PASSWORD", *api],
    )
    assert email.exit_code == 2 and "NO_SUCH_SMTP_PASSWORD" in email.output
    saved_email = runner.invoke(
        app, ["notify", "email", "--name", "cli-mail", "--host", "smtp.example.org", "--from", "a@example.org",
              "--to", "b@example.org", "--overwrite", *api],
    )
    assert saved_email.exit_code == 0 and 'notify_block = "proximite-smtp-email/cli-mail"' in saved_email.output


def test_the_notify_commands_need_a_server(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from proximite.cli import app

    result = CliRunner().invoke(app, ["notify", "test", "--block", "custom-webhook/x", "--api-url", "http://127.0.0.1:9/api",
                                      "--project-dir", str(tmp_path)])
    assert result.exit_code == 1 and "no Prefect server at http://127.0.0.1:9/api" in result.output

"""The documented automation is accepted by Prefect's API and follows failed and crashed Proximité runs."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("prefect_api")


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


def test_a_test_notice_reaches_the_webhook() -> None:
    from proximite.flows.notify import save_webhook_block, send_test_notice

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
        name = save_webhook_block("test-notice", f"http://127.0.0.1:{server.server_address[1]}/", overwrite=True)
        send_test_notice(name, project_name="demo")
    finally:
        server.shutdown()
    assert received == [{"subject": "Proximité: test notification (demo)", "body": "This is a test of the failure notifications of Proximité. Nothing failed."}]

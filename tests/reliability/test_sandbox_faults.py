"""Fault injection in the REDCap sandbox, as a plain HTTP client sees it: errors, latency,
truncated bodies, dropped connections and REDCap's out-of-memory answer."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
import redcap
import requests

from proximite.cohort.redcap.project import RedcapProject
from proximite.cohort.sandbox.server import OUT_OF_MEMORY_MESSAGE, FaultConfig, SandboxServer


def post(server: SandboxServer, **params: object) -> requests.Response:
    return requests.post(server.url, data={"token": server.token, **params}, timeout=10)


def export_csv(server: SandboxServer) -> requests.Response:
    return post(server, content="record", format="csv", fields="record_id")


def test_no_fault_by_default(redcap_sandbox: SandboxServer) -> None:
    assert redcap_sandbox.faults == FaultConfig()
    assert all(export_csv(redcap_sandbox).status_code == 200 for _ in range(5))


def test_fail_next_errors_then_recovers(redcap_sandbox: SandboxServer) -> None:
    redcap_sandbox.faults.fail_next = 2
    before = redcap_sandbox.requests
    first, second, third = (export_csv(redcap_sandbox) for _ in range(3))
    assert first.status_code in (500, 502, 503) and second.status_code in (500, 502, 503)
    assert first.headers["Content-Type"].startswith("text/html") and "<html>" in first.text
    assert third.status_code == 200 and third.text.startswith("record_id,")
    assert redcap_sandbox.faults.fail_next == 0
    assert redcap_sandbox.requests == before + 3  # faulted requests are counted


def test_error_rate_and_statuses_can_change_while_running(redcap_sandbox: SandboxServer) -> None:
    redcap_sandbox.faults.error_rate = 1.0
    redcap_sandbox.faults.error_statuses = (503,)
    assert [export_csv(redcap_sandbox).status_code for _ in range(4)] == [503] * 4
    redcap_sandbox.faults.error_rate = 0.0
    assert export_csv(redcap_sandbox).status_code == 200


def test_an_error_fault_changes_nothing(redcap_sandbox: SandboxServer) -> None:
    records = redcap_sandbox.project.records.copy()
    redcap_sandbox.faults.fail_next = 1
    response = post(redcap_sandbox, content="record", action="delete", **{"records[0]": "1"})
    assert response.status_code >= 500
    assert redcap_sandbox.project.records.equals(records)


def test_a_truncated_body_is_shorter_than_its_content_length(redcap_sandbox: SandboxServer) -> None:
    redcap_sandbox.faults.fail_next = 1
    redcap_sandbox.faults.fail_next_mode = "truncate"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        export_csv(redcap_sandbox)
    # The same fault seen from the socket: the body stops halfway through what was announced.
    redcap_sandbox.faults.fail_next = 1
    parts = urlsplit(redcap_sandbox.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = f"token={redcap_sandbox.token}&content=record&format=csv&fields=record_id"
    connection.request("POST", parts.path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    announced = int(response.getheader("Content-Length"))
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as truncated:
        response.read()
    assert len(truncated.value.partial) == announced // 2
    connection.close()
    assert export_csv(redcap_sandbox).status_code == 200


def test_a_dropped_connection_raises_connection_error(redcap_sandbox: SandboxServer) -> None:
    redcap_sandbox.faults.fail_next = 1
    redcap_sandbox.faults.fail_next_mode = "drop"
    with pytest.raises(requests.exceptions.ConnectionError):
        export_csv(redcap_sandbox)
    assert export_csv(redcap_sandbox).status_code == 200  # the server keeps serving


def test_out_of_memory_answer_is_html_then_a_json_error(redcap_sandbox: SandboxServer) -> None:
    redcap_sandbox.faults.fail_next = 2
    redcap_sandbox.faults.fail_next_mode = "out_of_memory"
    response = post(redcap_sandbox, content="record", format="json")
    assert response.status_code == 200  # PHP had already sent its headers
    assert response.headers["Content-Type"].startswith("text/html")
    text = response.text
    assert text.startswith("<br />\n<b>Fatal error</b>:  Allowed memory size of")
    _, _, tail = text.partition("<br />\n{")
    assert json.loads("{" + tail) == {"error": OUT_OF_MEMORY_MESSAGE}
    with pytest.raises(ValueError):
        response.json()  # a client that trusts the status fails to parse it
    csv = post(redcap_sandbox, content="record", format="csv")
    assert csv.status_code == 200 and csv.text.endswith(f"ERROR: {OUT_OF_MEMORY_MESSAGE}")


def test_pycap_raises_on_the_out_of_memory_answer(redcap_sandbox: SandboxServer) -> None:
    project = redcap.Project(redcap_sandbox.url, redcap_sandbox.token)
    redcap_sandbox.faults.fail_next = 1
    redcap_sandbox.faults.fail_next_mode = "out_of_memory"
    with pytest.raises(redcap.RedcapError):
        project.export_records()
    assert len(project.export_records(records=["1"])) > 0


def test_latency_is_added_to_every_request(redcap_sandbox: SandboxServer) -> None:
    redcap_sandbox.faults.latency_seconds = 0.25
    began = time.perf_counter()
    assert post(redcap_sandbox, content="version").status_code == 200
    assert time.perf_counter() - began >= 0.25


def test_random_faults_follow_their_rates_and_seed() -> None:
    config = FaultConfig(error_rate=0.2, truncate_rate=0.1, drop_rate=0.1, out_of_memory_rate=0.05, seed=7)
    draws = [config.draw() for _ in range(4000)]
    shares = {mode: draws.count(mode) / len(draws) for mode in ("error", "truncate", "drop", "out_of_memory")}
    assert shares == pytest.approx({"error": 0.2, "truncate": 0.1, "drop": 0.1, "out_of_memory": 0.05}, abs=0.025)
    assert draws.count(None) / len(draws) == pytest.approx(0.55, abs=0.03)
    again = FaultConfig(error_rate=0.2, truncate_rate=0.1, drop_rate=0.1, out_of_memory_rate=0.05, seed=7)
    assert [again.draw() for _ in range(4000)] == draws
    config.seed = 7  # setting the seed restarts the sequence
    assert [config.draw() for _ in range(50)] == draws[:50]


def test_a_share_of_requests_fail_over_http(redcap_sandbox: SandboxServer) -> None:
    redcap_sandbox.faults.error_rate = 0.5
    redcap_sandbox.faults.seed = 3
    statuses = [post(redcap_sandbox, content="version").status_code for _ in range(40)]
    failed = sum(status >= 500 for status in statuses)
    assert 8 <= failed <= 32 and set(statuses) <= {200, 500, 502, 503}


@pytest.mark.parametrize(
    "options",
    [
        {"error_rate": 1.5},
        {"error_rate": 0.6, "drop_rate": 0.6},
        {"fail_next_mode": "explode"},
        {"latency_seconds": -1},
        {"error_statuses": ()},
    ],
)
def test_fault_configuration_is_checked(options: dict) -> None:
    with pytest.raises(ValueError):
        FaultConfig(**options)


def test_faults_given_at_construction(sandbox_project: RedcapProject) -> None:
    with SandboxServer(sandbox_project.copy(), faults=FaultConfig(fail_next=1, fail_next_mode="drop")) as server:
        with pytest.raises(requests.exceptions.ConnectionError):
            post(server, content="version")
        assert post(server, content="version").status_code == 200

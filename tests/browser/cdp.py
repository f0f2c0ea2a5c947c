"""A minimal Chrome DevTools Protocol client for the browser tests: headless Chromium over a websocket.

Only what the tests need: start Chromium headless on a free debugging port, attach to a page
target, send commands and collect the events they trigger (console messages, exceptions, network
requests), take a screenshot. Uses ``websockets.sync.client`` (a Prefect dependency): no new
package.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

__all__ = ["OFFLINE_FLAGS", "Browser", "CDPError", "Page", "chromium_path", "launch"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)

#: Outside requests blocked (``launch(block_outside=True)``): every request that is not to a
#: loopback address goes to a proxy that does not exist (Chromium never proxies loopback), and
#: no other name resolves. A page that needs the network fails visibly instead of quietly
#: depending on it.
OFFLINE_FLAGS = (
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)


class CDPError(RuntimeError):
    """Chromium did not start, or a protocol command failed."""


def chromium_path() -> str | None:
    """The Chromium executable on PATH (Debian names it ``chromium``), or None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """One page target: send commands, and keep every event received."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def send(self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 30.0) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        message_id = next(self._ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CDPError(f"{method}: no answer within {timeout} s")
            message = json.loads(self.socket.recv(timeout=remaining))
            if message.get("id") == message_id:
                if "error" in message:
                    raise CDPError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for an event (or return one already received)."""
        for event in self.events:
            if event["method"] == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CDPError(f"no {method} event within {timeout} s")
            message = json.loads(self.socket.recv(timeout=remaining))
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    return message

    def drain(self, seconds: float = 0.3) -> None:
        """Collect the events that arrive within ``seconds``."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = json.loads(self.socket.recv(timeout=remaining))
            except TimeoutError:
                return
            if "method" in message:
                self.events.append(message)

    def navigate(self, url: str, *, timeout: float = 60.0) -> None:
        """Open ``url`` and wait until the page has loaded."""
        self.events = [event for event in self.events if event["method"] != "Page.loadEventFired"]
        result = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if result.get("errorText"):
            raise CDPError(f"navigation to {url} failed: {result['errorText']}")
        self.wait_for("Page.loadEventFired", timeout=timeout)
        self.drain()

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise CDPError(f"evaluation failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", params, timeout=120)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def print_pdf(self, path: Path) -> Path:
        """Print the page as Chromium's "Save as PDF" does (letter paper, the page's print CSS)."""
        params = {"paperWidth": 8.5, "paperHeight": 11, "preferCSSPageSize": True, "printBackground": True,
                  "displayHeaderFooter": False}
        data = self.send("Page.printToPDF", params, timeout=120)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    # -------------------------------------------------------------- what went wrong
    def console_errors(self) -> list[str]:
        errors = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
                errors.append(" ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])))
            elif event["method"] == "Runtime.exceptionThrown":
                errors.append(str(params.get("exceptionDetails", {}).get("text", "exception")))
            elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(str(params["entry"].get("text", "")))
        return errors

    def requested_urls(self) -> list[str]:
        return [
            event["params"]["request"]["url"]
            for event in self.events
            if event["method"] == "Network.requestWillBeSent"
        ]

    def responses(self) -> dict[str, int]:
        """Every URL that got an answer, with its HTTP status (the last one when requested twice)."""
        return {
            event["params"]["response"]["url"]: int(event["params"]["response"]["status"])
            for event in self.events
            if event["method"] == "Network.responseReceived"
        }

    def wait_for_text(self, text: str, *, timeout: float = 60.0) -> str:
        """Wait until the page's visible text contains ``text`` (a single-page app renders after load)."""
        deadline = time.monotonic() + timeout
        while True:
            body = str(self.evaluate("document.body ? document.body.innerText : ''") or "")
            if text in body:
                return body
            if time.monotonic() > deadline:
                raise CDPError(f"{text!r} not on the page within {timeout} s; the page shows:\n{body[:2000]}")
            self.drain(0.5)


class Browser:
    """A running headless Chromium and its DevTools endpoint."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port

    @contextmanager
    def page(self) -> Iterator[Page]:
        """A new page target, with Runtime, Log, Network and Page enabled."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback DevTools endpoint
            target = json.loads(response.read())
        with connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as socket:
            page = Page(socket)
            for domain in ("Runtime", "Log", "Network", "Page"):
                page.send(f"{domain}.enable")
            yield page


@contextmanager
def launch(
    user_data_dir: Path, *, executable: str | None = None, timeout: float = 30.0, block_outside: bool = True
) -> Iterator[Browser]:
    """Start Chromium headless with a throwaway profile; stop it (this process only) on exit.

    With ``block_outside`` (the default) only loopback addresses, ``file:`` and ``data:`` URLs
    can be reached (:data:`OFFLINE_FLAGS`).
    """
    executable = executable or chromium_path()
    if executable is None:
        raise CDPError("chromium is not installed")
    # Chromium's own chatter goes to a file: a pipe nobody reads could fill up and stall it.
    log_path = user_data_dir.with_name(user_data_dir.name + ".chromium.log")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, *FLAGS, *(OFFLINE_FLAGS if block_outside else ()), f"--user-data-dir={user_data_dir}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            port = _debugging_port(process, user_data_dir, log_path, timeout=timeout)
            yield Browser(process, port)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _debugging_port(process: subprocess.Popen[bytes], user_data_dir: Path, log_path: Path, *, timeout: float) -> int:
    """The port Chromium chose (``--remote-debugging-port=0`` writes it to DevToolsActivePort)."""
    marker = user_data_dir / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = log_path.read_text(errors="replace") if log_path.is_file() else ""
            raise CDPError(f"chromium exited with status {process.returncode}: {stderr[-2000:]}")
        if marker.is_file():
            first = marker.read_text().splitlines()[:1]
            if first and re.fullmatch(r"\d+", first[0].strip()):
                return int(first[0])
        time.sleep(0.05)
    raise CDPError(f"chromium did not open its debugging port within {timeout} s")

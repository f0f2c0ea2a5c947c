"""A local server that speaks the REDCap API closely enough that PyCap works against it unchanged.

No REDCap server can run on the project's machines, so the platform ships this one: it serves a
:class:`~proximite.cohort.redcap.project.RedcapProject` (the synthetic cohort, or a
de-identified export of a real project) on loopback, for the demo, the tests and for rehearsing
a pull. Requests are form-encoded POSTs to ``/api/`` with a 32-hex-character token; answers,
error bodies and status codes follow REDCap (see :mod:`._api`, :mod:`._api_records`,
:mod:`._api_wire`).

Tests can inject the faults a real REDCap behind a proxy shows: added latency, a share of
500/502/503 answers, a body cut short of its ``Content-Length``, a dropped connection, and
REDCap's out-of-memory answer (status 200, PHP's fatal-error HTML followed by a JSON error).

Examples
--------
>>> from proximite.cohort.redcap.loaders import project_from_directory
>>> from proximite.cohort.sandbox.server import SandboxServer
>>> import redcap  # doctest: +SKIP
>>> with SandboxServer(project_from_directory("input")) as server:  # doctest: +SKIP
...     records = redcap.Project(server.url, server.token).export_records(format_type="df")

Tokens are never printed or logged: the server's request log is silenced, the token appears in
no message, and :func:`serve_forever` writes it to a file readable by its owner only.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import re
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from proximite.errors import ProximiteError
from proximite.cohort.sandbox._api import Answer, SandboxApi, TokenScope
from proximite.cohort.sandbox._api_wire import (
    CONTENT_TYPES,
    ApiError,
    ApiRequest,
    error_body,
    error_format,
    parse_request,
)
from proximite.cohort.redcap.loaders import load_project
from proximite.cohort.redcap.project import RedcapProject

__all__ = [
    "SandboxServer",
    "FaultConfig",
    "SandboxError",
    "serve_forever",
    "new_token",
    "FAULT_MODES",
    "FAULT_KINDS",
    "faults_from_specs",
    "describe_faults",
]

log = logging.getLogger(__name__)

#: Ways a request can be made to fail.
FAULT_MODES = ("error", "truncate", "drop", "out_of_memory")
#: REDCap's message when PHP runs out of memory during an API call.
OUT_OF_MEMORY_MESSAGE = (
    "REDCap ran out of server memory. The request cannot be processed. "
    "Please try importing/exporting a smaller amount of data."
)
#: PHP's fatal error as it reaches the client before REDCap's own error (headers already sent: 200).
_PHP_FATAL_ERROR = (
    "<br />\n<b>Fatal error</b>:  Allowed memory size of 268435456 bytes exhausted (tried to allocate "
    "20480 bytes) in <b>/var/www/html/redcap/redcap_v14.5.0/Classes/Records.php</b> on line <b>4242</b><br />\n"
)
_TOKEN = re.compile(r"^[0-9A-Fa-f]{32}$")
_NO_PERMISSION = "You do not have permissions to use the API"


class SandboxError(ProximiteError):
    """The sandbox cannot start (the address is taken, the project cannot be served)."""


def new_token() -> str:
    """A random API token as REDCap issues them: 32 upper-case hexadecimal characters."""
    return secrets.token_hex(16).upper()


@dataclass
class FaultConfig:
    """Faults to inject into API answers (off by default); may be changed while the server runs.

    Parameters
    ----------
    latency_seconds : float
        Added to every API request before it is answered.
    error_rate : float
        Share of requests answered with one of ``error_statuses`` and a proxy's HTML page.
    error_statuses : tuple of int
        Statuses for ``error`` faults (default 500, 502, 503), drawn at random.
    truncate_rate : float
        Share of answers whose body stops halfway while ``Content-Length`` announces all of it.
    drop_rate : float
        Share of requests whose connection is closed without an answer.
    out_of_memory_rate : float
        Share answered with REDCap's out-of-memory answer: status 200, PHP's fatal-error HTML
        followed by REDCap's error in the requested format.
    seed : int
        Seed of the draws (setting it again restarts the sequence).
    fail_next : int
        The next ``fail_next`` API requests fail with ``fail_next_mode``, then requests are
        answered normally (the count goes down as they are served).
    fail_next_mode : {"error", "truncate", "drop", "out_of_memory"}
        How ``fail_next`` requests fail.

    Notes
    -----
    Each request draws one uniform number u: it fails as ``error`` when u < error_rate, as
    ``truncate`` when u < error_rate + truncate_rate, and so on in the order above. Faulted
    requests (except ``truncate`` and ``out_of_memory``, which answer late) change nothing in
    the project.
    """

    latency_seconds: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    truncate_rate: float = 0.0
    drop_rate: float = 0.0
    out_of_memory_rate: float = 0.0
    seed: int = 0
    fail_next: int = 0
    fail_next_mode: str = "error"
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        if self.fail_next_mode not in FAULT_MODES:
            raise ValueError(f"fail_next_mode must be one of {', '.join(FAULT_MODES)}")
        rates = (self.error_rate, self.truncate_rate, self.drop_rate, self.out_of_memory_rate)
        if any(rate < 0 or rate > 1 for rate in rates) or sum(rates) > 1 + 1e-9:
            raise ValueError("fault rates must lie in [0, 1] and add up to at most 1")
        if self.latency_seconds < 0 or self.fail_next < 0:
            raise ValueError("latency_seconds and fail_next cannot be negative")
        if not self.error_statuses:
            raise ValueError("error_statuses needs at least one status")

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "seed" and "_lock" in self.__dict__:
            with self._lock:
                self._rng = random.Random(value)

    def draw(self) -> str | None:
        """The fault for the next request: one of :data:`FAULT_MODES`, or None."""
        with self._lock:
            if self.fail_next > 0:
                object.__setattr__(self, "fail_next", self.fail_next - 1)
                return self.fail_next_mode
            roll = self._rng.random()
            for mode, rate in zip(
                FAULT_MODES, (self.error_rate, self.truncate_rate, self.drop_rate, self.out_of_memory_rate), strict=True
            ):
                if roll < rate:
                    return mode
                roll -= rate
            return None

    def error_status(self) -> int:
        """The status of the next ``error`` fault."""
        with self._lock:
            return int(self._rng.choice(tuple(self.error_statuses)))


class SandboxServer:
    """A REDCap API on loopback over one project, in a daemon thread.

    Parameters
    ----------
    project : RedcapProject
        The project to serve; it is live: imports and deletes change it.
    host : str, keyword-only
        Address to listen on (loopback by default).
    port : int, keyword-only
        Port; 0 picks a free one (read it from :attr:`url`).
    token : str, optional, keyword-only
        The main token (32 hexadecimal characters); random when None.
    faults : FaultConfig, optional, keyword-only
        Fault injection (none by default).
    username : str, keyword-only
        The main token's user, as the log names it.

    Attributes
    ----------
    faults : FaultConfig
        Fault injection, mutable while the server runs.

    Raises
    ------
    ValueError
        The token is not 32 hexadecimal characters.

    Examples
    --------
    >>> with SandboxServer(project) as server:  # doctest: +SKIP
    ...     restricted = server.add_token(dag="t03_01")
    """

    def __init__(
        self,
        project: RedcapProject,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        faults: FaultConfig | None = None,
        username: str = "sandbox",
    ) -> None:
        token = new_token() if token is None else token
        if not _TOKEN.match(token):
            raise ValueError("a REDCap token is 32 hexadecimal characters")
        self._token = token
        self._host = host
        self._port = port
        self._username = username
        self.faults = faults if faults is not None else FaultConfig()
        self._api = SandboxApi(project)
        self._tokens: dict[str, TokenScope] = {token.upper(): TokenScope(username=username)}
        self._api.setup.users.add(username)
        self._count = 0
        self._count_lock = threading.Lock()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # never the token
        where = self.url if self._httpd is not None else "not started"
        return f"<SandboxServer {where}>"

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> SandboxServer:
        """Bind and serve in a daemon thread; records never changed count as changed now.

        Raises
        ------
        SandboxError
            The address cannot be bound.
        RuntimeError
            The server is already running.
        """
        if self._httpd is not None:
            raise RuntimeError("the sandbox is already running")
        server_class = _HttpServer6 if ":" in self._host else _HttpServer
        try:
            httpd = server_class((self._host, self._port), _Handler, self)
        except OSError as error:
            raise SandboxError(f"cannot listen on {self._host}:{self._port}: {error.strerror or error}") from None
        self._api.loaded_at = dt.datetime.now()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="redcap-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (a no-op when not running)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------------------- interface
    @property
    def url(self) -> str:
        """The API URL, ``http://HOST:PORT/api/`` (once started)."""
        if self._httpd is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        host, port = self._httpd.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}/api/"

    @property
    def token(self) -> str:
        """The main token: every record, every group."""
        return self._token

    @property
    def project(self) -> RedcapProject:
        """The live project (imports and deletes change it)."""
        return self._api.project

    @property
    def requests(self) -> int:
        """API requests received so far (faulted ones included)."""
        with self._count_lock:
            return self._count

    @property
    def started_at(self) -> str:
        """``YYYY-MM-DD HH:MM:SS``: when the server started (records never changed count as changed then)."""
        return self._api.loaded_at

    def add_token(self, *, dag: str | None = None, username: str | None = None) -> str:
        """A new token, optionally bound to a data access group (by its ``unique_group_name``).

        A bound token sees only its group's records, in every export and in the log; its new
        records join the group.

        Raises
        ------
        ValueError
            The project has no such group.
        """
        if dag is not None:
            groups = set(self.project.dags.get("unique_group_name", []))
            if dag not in groups:
                raise ValueError(f"the project has no data access group '{dag}'")
        token = new_token()
        name = username or (f"{self._username}_{dag}" if dag else self._username)
        self._tokens[token] = TokenScope(username=name, dag=dag)
        self._api.setup.users.add(name)
        return token

    # ------------------------------------------------------------------------------ internals
    def _next_request(self) -> None:
        with self._count_lock:
            self._count += 1

    def _answer(self, body: bytes, content_type: str) -> tuple[Answer, ApiRequest]:
        """The answer to one POST (token checked here; the API module does the rest)."""
        try:
            request = parse_request(body, content_type)
        except ApiError as error:
            request = ApiRequest()
            return Answer(self._api.error(request, error.status, error.message), time.time()), request
        scope = self._tokens.get(request.get("token").upper())
        if scope is None:
            return Answer(self._api.error(request, 403, _NO_PERMISSION), time.time()), request
        try:
            return self._api.handle(request, scope), request
        except Exception as error:  # a bug in the sandbox: REDCap would answer 500
            log.exception(
                "REDCap sandbox: unexpected %s answering content=%s", type(error).__name__, request.get("content")
            )
            response = self._api.error(request, 500, f"The sandbox failed to answer ({type(error).__name__})")
            return Answer(response, time.time()), request


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (and the faults that make them) are normal here: no traceback on stderr.
        log.debug("REDCap sandbox: a connection ended abnormally", exc_info=True)


class _HttpServer6(_HttpServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "REDCap-sandbox"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection ends after a minute
    # Headers and body go out in separate writes: with Nagle's algorithm on, every keep-alive
    # request would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _HttpServer

    _read_at: float | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: request lines and errors never reach stderr (nothing there may carry a token)."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header is when the answer's data was read, so that a client may use it as the
        # watermark of an incremental pull (``dateRangeBegin``) without missing a later change.
        return super().date_time_string(timestamp if timestamp is not None else self._read_at)

    # --------------------------------------------------------------------------------- methods
    def do_POST(self) -> None:
        self._read_at = None
        body = self._read_body()
        if body is None:
            return
        if urlsplit(self.path).path.rstrip("/") != "/api":
            self._send(404, b"<html><body><h1>Not Found</h1></body></html>", CONTENT_TYPES["html"])
            return
        sandbox = self.server.sandbox
        sandbox._next_request()
        faults = sandbox.faults
        mode = faults.draw()
        if faults.latency_seconds > 0:
            time.sleep(faults.latency_seconds)
        if mode == "drop":
            self.close_connection = True  # hang up without a word
            return
        if mode is not None and mode not in {"truncate", "out_of_memory"}:
            status = faults.error_status()
            phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
            page = (
                f"<html><head><title>{status} {phrase}</title></head><body><h1>{status} {phrase}</h1></body></html>\n"
            )
            self._send(status, page.encode(), CONTENT_TYPES["html"])
            return
        answer, request = sandbox._answer(body, self.headers.get("Content-Type", ""))
        self._read_at = answer.read_at
        response = answer.response
        if mode == "out_of_memory":
            trailer, _ = error_body(OUT_OF_MEMORY_MESSAGE, error_format(request))
            self._send(200, _PHP_FATAL_ERROR.encode() + trailer, "text/html; charset=UTF-8")
        elif mode == "truncate":
            self._send(response.status, response.body, response.content_type, truncate=True)
        else:
            self._send(response.status, response.body, response.content_type)

    def do_GET(self) -> None:
        self._not_implemented()

    do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815 (http.server dispatches on these names)

    # -------------------------------------------------------------------------------- helpers
    def _not_implemented(self) -> None:
        self._read_body()
        body = b'<?xml version="1.0" encoding="UTF-8" ?><hash><error>The requested method is not implemented.</error></hash>'
        self._send(501, body, CONTENT_TYPES["xml"])

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send(411, b"Length Required", CONTENT_TYPES["text"])
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(400, b"Bad Content-Length", CONTENT_TYPES["text"])
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str, *, truncate: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        # A truncated answer announces the whole body and sends half of it, then hangs up.
        self.send_header("Content-Length", str(max(len(body), 1) if truncate else len(body)))
        if truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if truncate else body)


# ---------------------------------------------------------------------------------- the CLI
def default_token_file(project_path: str | Path) -> Path:
    """Where :func:`serve_forever` writes the token: ``<folder>/.sandbox_token``, or beside the XML."""
    path = Path(project_path)
    return path / ".sandbox_token" if path.is_dir() else path.with_name(".sandbox_token")


def write_token_file(path: str | Path, token: str) -> Path:
    """Write a token to a file readable and writable by its owner only (mode 0600)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # an existing file keeps its mode through os.open
        os.write(descriptor, f"{token}\n".encode("ascii"))
    finally:
        os.close(descriptor)
    return target


#: ``--fault`` kinds, their :class:`FaultConfig` attribute and the value of a kind given without one.
FAULT_KINDS: dict[str, tuple[str, float]] = {
    "latency": ("latency_seconds", 1.0),
    "5xx": ("error_rate", 1.0),
    "truncate": ("truncate_rate", 1.0),
    "drop": ("drop_rate", 1.0),
    "oom": ("out_of_memory_rate", 1.0),
}


def faults_from_specs(specs: Sequence[str], *, seed: int = 0) -> FaultConfig:
    """A :class:`FaultConfig` from ``--fault KIND[:RATE]`` options (``proximite sandbox``).

    Parameters
    ----------
    specs : sequence of str
        ``latency[:SECONDS]`` (added to every request, default 1 s), ``5xx[:RATE]`` (500/502/503
        with a proxy's page), ``truncate[:RATE]`` (a body cut short of its ``Content-Length``),
        ``drop[:RATE]`` (the connection closed without an answer) or ``oom[:RATE]`` (REDCap's
        out-of-memory answer); a rate is a share of requests in [0, 1], 1 when omitted.
    seed : int, keyword-only
        Seed of the draws.

    Raises
    ------
    ValueError
        An unknown kind, a value that is not a number, a rate outside [0, 1], rates adding up to
        more than 1, or a kind given twice; the message names the option.
    """
    values: dict[str, float] = {}
    for spec in specs:
        kind, _, text = spec.strip().partition(":")
        kind = kind.strip().lower()
        if kind not in FAULT_KINDS:
            raise ValueError(f"--fault {spec}: unknown kind '{kind}' (one of {', '.join(FAULT_KINDS)})")
        attribute, default = FAULT_KINDS[kind]
        if attribute in values:
            raise ValueError(f"--fault {spec}: the kind '{kind}' is given twice")
        try:
            value = float(text) if text.strip() else default
        except ValueError:
            raise ValueError(f"--fault {spec}: '{text}' is not a number") from None
        if kind != "latency" and not 0 <= value <= 1:
            raise ValueError(f"--fault {spec}: a rate is a share of requests between 0 and 1")
        if kind == "latency" and value < 0:
            raise ValueError(f"--fault {spec}: the latency cannot be negative")
        values[attribute] = value
    return FaultConfig(seed=seed, **values)


def describe_faults(faults: FaultConfig) -> str:
    """The faults a server injects, in words (``""`` when none)."""
    parts = []
    if faults.latency_seconds:
        parts.append(f"{faults.latency_seconds:g} s latency")
    for label, rate in (
        ("HTTP 5xx", faults.error_rate),
        ("truncated body", faults.truncate_rate),
        ("dropped connection", faults.drop_rate),
        ("out-of-memory answer", faults.out_of_memory_rate),
    ):
        if rate:
            parts.append(f"{label} on {rate:.0%} of requests")
    return ", ".join(parts)


def _stop_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_forever(
    project_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token_file: str | Path | None = None,
    faults: FaultConfig | None = None,
    echo: Callable[[str], Any] = print,
) -> None:
    """Serve a project until interrupted (Ctrl-C): ``proximite sandbox``.

    Parameters
    ----------
    project_path : str or Path
        A REDCap project XML file or a folder of CSV files (see
        :func:`~proximite.cohort.redcap.loaders.load_project`).
    host, port : keyword-only
        Where to listen (loopback, any free port by default).
    token_file : str or Path, optional, keyword-only
        Where to write a fresh random token (mode 0600); default ``<folder>/.sandbox_token``,
        or ``.sandbox_token`` beside the XML file.
    faults : FaultConfig, optional, keyword-only
        Faults to inject (``--fault``; see :func:`faults_from_specs`); none by default.
    echo : callable, keyword-only
        Prints the URL and the token file's path (never the token).

    Raises
    ------
    InputError
        The project cannot be read.
    SandboxError
        The address cannot be bound.
    """
    project = load_project(project_path)
    token = new_token()
    # A process started in the background of a script inherits SIGINT ignored; Ctrl-C and the
    # SIGINT or SIGTERM of a supervisor must still stop the server cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    server = SandboxServer(project, host=host, port=port, token=token, faults=faults)
    server.start()
    try:
        written = write_token_file(token_file if token_file is not None else default_token_file(project_path), token)
        title = str(project.info.get("project_title", "")).strip() or Path(project_path).name
        records = len(server._api.store.record_ids())
        echo(f"REDCap sandbox: serving '{title}' ({records:,} records) at {server.url}")
        injected = describe_faults(server.faults)
        if injected:
            echo(f"Injecting faults: {injected}.")
        echo(f"API token written to {written} (mode 0600). Stop with Ctrl-C.")
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        echo("REDCap sandbox stopped.")
    finally:
        server.stop()

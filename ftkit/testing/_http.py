"""A small, real HTTP server on 127.0.0.1 for provider emulators: routes, request log, faults, fast clock.

Provider emulators (each in its provider's package, ``ftkit.providers.<name>.testing``) subclass
:class:`EmulatorServer`, register their endpoints with :meth:`EmulatorServer.route` and shape their
error bodies with :meth:`EmulatorServer.error_body`. Everything else is here and provider-neutral:

* a ``ThreadingHTTPServer`` on an ephemeral loopback port, served from a daemon thread, so the real SDK
  clients talk to it over real sockets (keep-alive, multipart, chunked bodies and all);
* a log of every request (:attr:`EmulatorServer.requests`) and of domain facts the emulator records
  (:meth:`EmulatorServer.record`, e.g. "file uploaded", "job created"), which tests assert on;
* fault injection, applied before the handler runs::

      with MyEmulator() as server:
          server.faults.add("POST", "/v1/files", status=429, retry_after=0.05)
          server.faults.add("GET", "/v1/jobs/{id}", drop=True, times=2)
          server.faults.add("POST", "/v1/jobs", drop=True, process=True)   # did it, lost the answer

* a fast clock (:class:`FastClock`): emulated jobs read ``server.clock.now()``, which runs ``scale``
  times faster than wall time and can be pushed forward with ``advance()``.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ftkit.testing._http_faults import FastClock, Fault, FaultPlan, compile_pattern
from ftkit.testing._http_messages import (
    HTTPError,
    Record,
    RecordedRequest,
    Request,
    Response,
    UploadedFile,
    encode,
    parse_multipart,
    summarise_body,
)

__all__ = [
    "EmulatorServer",
    "FastClock",
    "Fault",
    "FaultPlan",
    "HTTPError",
    "Record",
    "RecordedRequest",
    "Request",
    "Response",
    "UploadedFile",
]

Handler = Callable[["Request"], Any]


# -- the server -------------------------------------------------------------------------------------------------


@dataclass
class _Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler


class EmulatorServer:
    """Base of the provider emulators: a real HTTP server on 127.0.0.1 with routes, faults and logs.

    Use it as a context manager (starts on enter, stops on exit)::

        class EchoServer(EmulatorServer):
            def __init__(self, **kw):
                super().__init__(**kw)
                self.route("POST", "/v1/echo/{name}")(lambda req: {"name": req.params["name"]})

        with EchoServer() as server:
            httpx.post(server.url + "/v1/echo/x")

    Subclasses override :meth:`error_body` (the provider's error JSON) and may set
    :attr:`request_id_header`.
    """

    #: response header carrying a fresh request id on every answer
    request_id_header = "x-request-id"

    def __init__(self, *, time_scale: float = 60.0, host: str = "127.0.0.1"):
        self.host = host
        self.clock = FastClock(time_scale)
        self.faults = FaultPlan()
        self.requests: list[RecordedRequest] = []
        self.records: list[Record] = []
        #: guards the emulator's domain state; handlers run on many threads
        self.lock = threading.RLock()
        #: requests being served right now, and the most there ever were (to check client concurrency)
        self.in_flight = 0
        self.peak_in_flight = 0
        self._count_lock = threading.Lock()
        self._routes: list[_Route] = []
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        if self._httpd is not None:
            return self
        self._httpd = ThreadingHTTPServer((self.host, 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"{type(self).__name__}:{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the emulator is not running; use it as a context manager or call start()")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash, no API prefix)."""
        return f"http://{self.host}:{self.port}"

    # -- routes -------------------------------------------------------------------------------------------

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Register a handler (decorator). It returns a dict/list (JSON 200), bytes/str, or a Response."""

        def register(handler: Handler) -> Handler:
            self._routes.append(_Route(method.upper(), pattern, compile_pattern(pattern), handler))
            return handler

        return register

    def _find_route(self, method: str, path: str) -> tuple[_Route | None, dict[str, str], bool]:
        path_exists = False
        for r in self._routes:
            m = r.regex.fullmatch(path)
            if m is None:
                continue
            path_exists = True
            if r.method == method:
                return r, m.groupdict(), True
        return None, {}, path_exists

    # -- hooks for subclasses ---------------------------------------------------------------------------------

    def error_body(self, status: int, message: str, **details: Any) -> Any:
        """The provider's JSON error body for ``status``; override per provider."""
        return {"error": {"message": message, **details}}

    def not_found(self, request: Request) -> HTTPError:
        """The error for a path no route serves."""
        return HTTPError(404, f"Invalid URL ({request.method} {request.path})")

    def method_not_allowed(self, request: Request) -> HTTPError:
        return HTTPError(405, f"Method {request.method} not allowed on {request.path}")

    def new_request_id(self) -> str:
        return f"req_{uuid.uuid4().hex[:24]}"

    # -- records --------------------------------------------------------------------------------------------

    def record(self, kind: str, **data: Any) -> None:
        """Log a domain fact (``"upload"``, ``"job_created"``...) for tests to assert on."""
        with self.lock:
            self.records.append(Record(kind, data, time.time()))

    def recorded(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r.data for r in self.records if r.kind == kind]

    def requests_to(self, method: str, pattern: str) -> list[RecordedRequest]:
        """Logged requests matching a method (``"*"`` for any) and a route-syntax path pattern."""
        regex = compile_pattern(pattern)
        with self.lock:
            return [
                r for r in self.requests
                if method.upper() in ("*", r.method) and regex.fullmatch(r.path) is not None
            ]

    def next_id(self) -> int:
        """A process-unique counter for emulated ids."""
        return next(self._ids)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.01) -> bool:
        """Poll ``predicate`` until it holds or ``timeout`` passes (to time kills and races in tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval)
        return predicate()

    # -- dispatch (called on the server's threads) -------------------------------------------------------------

    def _log(self, request: Request, status: int | None, fault: Fault | None) -> None:
        headers = {k: v for k, v in request.headers.items() if k not in ("authorization", "x-api-key")}
        entry = RecordedRequest(
            request.method, request.path, request.query, headers, summarise_body(request),
            status, fault.describe() if fault else None, time.time(),
        )
        with self.lock:
            self.requests.append(entry)

    def _dispatch(self, request: Request) -> Response | None:
        """The response to send, or None to drop the connection."""
        with self._count_lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return self._respond(request)
        finally:
            with self._count_lock:
                self.in_flight -= 1

    def _respond(self, request: Request) -> Response | None:
        fault = self.faults.take(request.method, request.path)
        if fault is not None and fault.delay and not fault.process:
            time.sleep(fault.delay)
        acts = fault is not None and (fault.status is not None or fault.drop)
        response: Response | None = None
        if not acts or fault.process:  # type: ignore[union-attr]
            response = self._handle(request)
        if fault is not None and fault.delay and fault.process:
            time.sleep(fault.delay)
        if acts:
            assert fault is not None
            if fault.drop:
                response = None
            else:
                headers = {}
                if fault.retry_after is not None:
                    headers["retry-after"] = _format_seconds(fault.retry_after)
                    headers["retry-after-ms"] = str(round(fault.retry_after * 1000))
                body = fault.body if fault.body is not None else self.error_body(
                    fault.status, _default_message(fault.status)  # type: ignore[arg-type]
                )
                response = Response(body, fault.status, headers)  # type: ignore[arg-type]
        self._log(request, response.status if response else None, fault)
        return response

    def _handle(self, request: Request) -> Response:
        try:
            route, params, path_exists = self._find_route(request.method, request.path)
            if route is None:
                raise self.method_not_allowed(request) if path_exists else self.not_found(request)
            request.params = params
            if request.content_type == "multipart/form-data":
                request.form, request.files = parse_multipart(request.headers["content-type"], request.body)
            result = route.handler(request)
        except HTTPError as e:
            body = e.body if e.body is not None else self.error_body(e.status, e.message, **e.details)
            return Response(body, e.status, dict(e.headers))
        if isinstance(result, Response):
            return result
        return Response(result)


# -- the request handler -------------------------------------------------------------------------------------------


def _make_handler(server: EmulatorServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real services
        timeout = 30  # idle keep-alive connections end instead of pinning a thread
        wbufsize = -1  # headers and body leave in one write (flushed after each request)

        def setup(self) -> None:
            super().setup()
            # no Nagle: small answers would otherwise wait for the client's delayed ACK (~40 ms each)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read server.requests
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self._read_body(),
            )
            response = server._dispatch(request)
            if response is None:
                self.close_connection = True
                with contextlib.suppress(OSError):  # the client may have gone already
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            payload, content_type = encode(response)
            self.send_response(response.status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            self.send_header(server.request_id_header, server.new_request_id())
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def _read_body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(length) if length else b""

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    return _Handler


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _default_message(status: int) -> str:
    return {
        429: "Rate limit reached for requests. Please retry after a short wait.",
        500: "The server had an error while processing your request. Sorry about that!",
        502: "Bad gateway.",
        503: "The server is overloaded or not ready yet.",
    }.get(status, f"Injected error (HTTP {status}).")

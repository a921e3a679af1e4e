"""Base for loopback HTTP stand-ins (EHR APIs, Fusion).

A `LoopbackServer` binds `127.0.0.1` on a free port, serves from a background thread, answers
`GET /healthz`, and registers its URL in the endpoints file while it runs. Subclasses override
`route` to answer everything else. Nothing here ever binds a non-loopback address.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from sandbox.endpoints import remove_endpoint, set_endpoint

LOOPBACK = "127.0.0.1"


@dataclass
class Request:
    """One HTTP request as a stand-in sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")


@dataclass
class Response:
    """What a stand-in answers."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(payload: Any, status: int = 200) -> Response:
    """A JSON response with stable key order."""
    return Response(status, json.dumps(payload, sort_keys=True).encode("utf-8"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Keep-alive answers go out at once instead of waiting for the client's delayed ACK.
    disable_nagle_algorithm = True
    timeout = 30  # idle keep-alive connections end instead of holding a thread forever
    server: _Server

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        try:
            response = self.server.owner.handle(request)
        except Exception as exc:  # a stand-in bug must surface to the client, not kill the thread
            response = json_response({"error": type(exc).__name__, "detail": str(exc)}, 500)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines can carry identifiers, and stderr is no audit log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: LoopbackServer) -> None:
        self.owner = owner
        super().__init__((LOOPBACK, 0), _Handler)


class LoopbackServer:
    """A stand-in HTTP server on 127.0.0.1; use `start()`/`stop()` or `with`."""

    def __init__(self, name: str, endpoints_file: Path | None = None) -> None:
        self.name = name
        self.endpoints_file = Path(endpoints_file) if endpoints_file else None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port; only valid while running."""
        if self._httpd is None:
            raise RuntimeError(f"stand-in {self.name} is not running")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:40123`."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server is currently serving."""
        return self._httpd is not None

    def health(self) -> dict[str, Any]:
        """The `/healthz` payload; subclasses may add detail."""
        return {"status": "ok", "name": self.name}

    def route(self, request: Request) -> Response | None:
        """Answer a request other than `/healthz`; `None` means 404. Override in stand-ins."""
        return None

    def handle(self, request: Request) -> Response:
        """Dispatch one request (called on a server thread)."""
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            return json_response(self.health())
        response = self.route(request)
        if response is None:
            return json_response({"error": "not_found", "path": request.path}, 404)
        return response

    def start(self) -> Self:
        """Bind a free loopback port, serve in a background thread, publish the URL."""
        if self._httpd is not None:
            raise RuntimeError(f"stand-in {self.name} is already running")
        self._httpd = _Server(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns within 50 ms
            name=f"standin-{self.name}",
            daemon=True,
        )
        self._thread.start()
        if self.endpoints_file is not None:
            set_endpoint(self.endpoints_file, self.name, {"kind": "http", "url": self.url})
        return self

    def stop(self) -> None:
        """Unpublish, stop serving, close the socket and join the thread; idempotent."""
        if self._httpd is None:
            return
        if self.endpoints_file is not None:
            remove_endpoint(self.endpoints_file, self.name)
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

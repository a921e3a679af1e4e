"""The retry policy against a real HTTP server on 127.0.0.1 failing on a script."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from runtime.core.http import RetryEvent, RetryPolicy, retry_after_seconds, retrying_session


class FlakyServer:
    """Answers each request with the next scripted (status, headers), then 200 forever."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]):
        self.script = list(script)
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                owner.requests.append(self.command)
                status, headers = owner.script.pop(0) if owner.script else (200, {})
                body = b'{"ok": true}'
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/thing"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory():
    servers = []

    def make(script):
        servers.append(FlakyServer(script))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


class FakeTime:
    """An injectable clock that advances only when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def session_for(policy=None, safe_post=lambda _: False):
    fake, events = FakeTime(), []
    session = retrying_session(
        policy=policy or RetryPolicy(),
        observer=events.append,
        sleep=fake.sleep,
        clock=fake.clock,
        draw=lambda: 0.5,
        safe_post=safe_post,
    )
    return session, fake, events


def test_503_then_success_backs_off_exponentially(server_factory):
    server = server_factory([(503, {}), (503, {}), (502, {})])
    session, fake, events = session_for(RetryPolicy(base_delay=1.0, floor=0.5))
    response = session.get(server.url)
    assert response.status_code == 200
    assert server.requests == ["GET"] * 4
    assert fake.sleeps == [0.75, 1.5, 3.0]  # half fixed, half jitter (draw 0.5), doubling
    assert [e.status for e in events] == [503, 503, 502]


def test_retry_after_is_honoured_with_a_floor(server_factory):
    server = server_factory([(429, {"Retry-After": "0"}), (429, {"Retry-After": "7"})])
    session, fake, events = session_for(RetryPolicy(floor=0.5))
    assert session.get(server.url).status_code == 200
    assert fake.sleeps == [0.5, 7.0]
    assert events == [RetryEvent("GET", 429, 1, 0.5), RetryEvent("GET", 429, 2, 7.0)]


def test_retry_after_http_date():
    now = datetime(2026, 10, 5, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert retry_after_seconds(later, now) == 42
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=5), usegmt=True), now) == 0
    assert retry_after_seconds("soon") is None


def test_attempts_are_bounded_and_last_answer_returned(server_factory):
    server = server_factory([(503, {})] * 10)
    session, fake, _ = session_for(RetryPolicy(max_attempts=3))
    assert session.get(server.url).status_code == 503
    assert len(server.requests) == 3
    assert len(fake.sleeps) == 2


def test_total_time_is_bounded(server_factory):
    server = server_factory([(503, {"Retry-After": "50"})] * 10)
    session, fake, _ = session_for(RetryPolicy(max_attempts=10, max_total_seconds=120))
    assert session.get(server.url).status_code == 503
    assert fake.sleeps == [50.0, 50.0]  # a third wait would pass the 120 s budget


def test_post_is_not_retried_unless_marked_safe(server_factory):
    server = server_factory([(503, {}), (503, {})])
    session, fake, _ = session_for()
    assert session.post(server.url, data=b"x").status_code == 503
    assert server.requests == ["POST"] and not fake.sleeps

    safe, _, _ = session_for(safe_post=lambda request: request.path_url == "/thing")
    assert safe.post(server.url, data=b"x").status_code == 200
    assert server.requests == ["POST", "POST", "POST"]


def test_client_errors_are_not_retried(server_factory):
    server = server_factory([(404, {}), (503, {})])
    session, fake, _ = session_for()
    assert session.get(server.url).status_code == 404
    assert len(server.requests) == 1 and not fake.sleeps


def test_connection_errors_are_retried_then_raised(server_factory):
    server = server_factory([])
    url = server.url
    server.close()  # nothing listens on the port any more
    session, fake, events = session_for(RetryPolicy(max_attempts=3))
    with pytest.raises(requests.ConnectionError):
        session.get(url, timeout=2)
    assert len(fake.sleeps) == 2
    assert [e.status for e in events] == [None, None]

"""A loopback server that injects the faults its knobs ask for: dropped connections, 5xx
answers, 429 storms and latency. Both Veradigm stand-ins build on it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Self

from sandbox.practice_fusion.knobs import Knobs
from sandbox.server import LoopbackServer, Response

DROPPED = 599  # never sent: the connection is closed without an answer


class FaultyServer(LoopbackServer):
    """A LoopbackServer with `knobs`, a `lock` for its state, and `inject_fault`."""

    def __init__(self, name: str, endpoints_file: Path | None = None) -> None:
        super().__init__(name, endpoints_file)
        self.lock = threading.RLock()
        self.knobs = Knobs()

    def start(self) -> Self:
        """Serve, with a request handler that can drop a connection without answering."""
        super().start()
        self._httpd.RequestHandlerClass = _dropping(self._httpd.RequestHandlerClass)
        return self

    def inject_fault(self, unavailable: Response, throttled: Response) -> Response | None:
        """The fault to answer this request with if a knob has one pending (the stand-in's own
        503 and 429 answers; the 429 gets the knob's Retry-After); otherwise wait the knob's
        latency and return None."""
        with self.lock:
            if self.knobs.take("drop_next"):
                return Response(DROPPED)
            if self.knobs.take("http_5xx_next"):
                return unavailable
            if self.knobs.take("throttle_next"):
                throttled.headers["Retry-After"] = str(int(self.knobs.retry_after_seconds))
                return throttled
            latency = self.knobs.latency_seconds
        time.sleep(latency)
        return None


def _dropping(handler: type) -> type:
    """The server's request handler, closing the connection instead of sending a DROPPED
    answer (the client sees the connection end without a response)."""

    class _Dropped(Exception):
        pass

    class DroppingHandler(handler):
        def send_response(self, code: int, message: str | None = None) -> None:
            if code == DROPPED:
                raise _Dropped
            super().send_response(code, message)

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except _Dropped:
                self.close_connection = True

    return DroppingHandler

"""The one retry policy for every HTTP client of the product.

`retrying_session()` returns a requests session whose transport retries connection errors,
429 and 5xx answers with exponential back-off and jitter, honouring `Retry-After` (seconds or
an HTTP date) but never sooner than a floor, within a bound on attempts and on total time.

An optional `limiter` (a rate limiter's blocking acquire) is called before every attempt, the
first and each retry, so a client paced by a token bucket never sends faster than its budget.

Only idempotent methods are retried. A POST is retried only when the session's `safe_post`
predicate says so (an OAuth token request, say): a POST that may have been processed before
the connection broke must be resolved by the caller asking the server what happened.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def plain_http_on_loopback(url: str, protocol: str) -> bool:
    """Whether `url` is plain http on loopback (the sandbox) rather than https; credentials
    travel over https anywhere else, so any other URL raises ValueError naming `protocol`."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return False
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return True
    raise ValueError(f"{protocol} needs an https URL (plain http on loopback only)")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds and pacing of retries; `floor` is the shortest wait, even for `Retry-After: 0`."""

    max_attempts: int = 6
    max_total_seconds: float = 120.0
    base_delay: float = 0.5
    max_delay: float = 30.0
    floor: float = 0.5

    def backoff(self, retry: int, draw: float) -> float:
        """Wait before retry number `retry` (1-based): half fixed, half jitter, capped."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return max(self.floor, ceiling / 2 + draw * ceiling / 2)


@dataclass(frozen=True)
class RetryEvent:
    """One wait before a retry: the status that caused it (None for a connection error)."""

    method: str
    status: int | None
    attempt: int
    wait_seconds: float


Observer = Callable[[RetryEvent], None]


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse `Retry-After` (delta seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class RetryAdapter(HTTPAdapter):
    """A transport adapter applying a RetryPolicy to every request sent through it."""

    def __init__(
        self,
        policy: RetryPolicy,
        observer: Observer | None = None,
        safe_post: Callable[[requests.PreparedRequest], bool] = lambda _: False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
        limiter: Callable[[], object] | None = None,
    ) -> None:
        super().__init__(max_retries=0)
        self.policy = policy
        self.observer = observer
        self.safe_post = safe_post
        self.sleep = sleep
        self.clock = clock
        self.draw = draw
        self.limiter = limiter

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        """Send, retrying per the policy; returns the last response or raises the last error."""
        method = (request.method or "GET").upper()
        if method not in IDEMPOTENT and not (method == "POST" and self.safe_post(request)):
            return self._attempt(request, **kwargs)
        deadline = self.clock() + self.policy.max_total_seconds
        attempt = 1
        while True:
            try:
                response = self._attempt(request, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                wait = self.policy.backoff(attempt, self.draw())
                if not self._may_retry(attempt, wait, deadline):
                    raise
                self._wait(RetryEvent(method, None, attempt, wait))
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                wait = self._wait_for(response, attempt)
                if not self._may_retry(attempt, wait, deadline):
                    return response
                response.close()
                self._wait(RetryEvent(method, response.status_code, attempt, wait))
            attempt += 1

    def _attempt(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        if self.limiter is not None:
            self.limiter()
        return super().send(request, **kwargs)

    def _wait_for(self, response: requests.Response, attempt: int) -> float:
        hinted = retry_after_seconds(response.headers.get("Retry-After"))
        if hinted is None:
            return self.policy.backoff(attempt, self.draw())
        return max(self.policy.floor, hinted)

    def _may_retry(self, attempt: int, wait: float, deadline: float) -> bool:
        return attempt < self.policy.max_attempts and self.clock() + wait <= deadline

    def _wait(self, event: RetryEvent) -> None:
        if self.observer is not None:
            self.observer(event)
        self.sleep(event.wait_seconds)


def retrying_session(
    session: requests.Session | None = None,
    policy: RetryPolicy | None = None,
    observer: Observer | None = None,
    **adapter_options,
) -> requests.Session:
    """Mount a RetryAdapter for http and https on `session` (a new one by default)."""
    session = session if session is not None else requests.Session()
    adapter = RetryAdapter(policy or RetryPolicy(), observer, **adapter_options)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session

"""The one rate limiter for every rate-limited source: a token bucket per tenant credential.

A server's budget is "at most N requests in any window of W seconds, as the server counts
them". A bucket holding `burst` tokens and refilled at rate r lets fewer than
`burst + r * W` requests start in any window of W seconds, so the refill rate is
`(N + 1 - burst) / W`, less a little `headroom`: requests leave paced by the bucket but
arrive with network and scheduling jitter, and the server counts arrivals.

Callers queue fairly: `acquire` reserves the next token under a lock (the balance may go
negative) and sleeps outside it until that token's time. Clients reach a bucket through a
process-wide `LimiterRegistry`, so every client using the same credential shares one budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """At most `requests` in any window of `per_seconds`; `burst` back to back after a pause."""

    requests: int
    per_seconds: float = 1.0
    burst: int = 1
    headroom: float = 0.04

    def __post_init__(self) -> None:
        if not 1 <= self.burst <= self.requests:
            raise ValueError("a budget's burst must be between 1 and its requests")
        if self.per_seconds <= 0 or not 0 <= self.headroom < 1:
            raise ValueError("a budget needs a positive window and a headroom in [0, 1)")

    @property
    def refill_per_second(self) -> float:
        """Tokens per second that keep every window within the budget (see the module doc)."""
        return (self.requests + 1 - self.burst) * (1 - self.headroom) / self.per_seconds


class TokenBucket:
    """A thread-safe token bucket for one budget; `clock` and `sleep` are injectable for tests."""

    def __init__(
        self,
        budget: Budget,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.budget = budget
        self.clock = clock
        self.sleep = sleep
        self._rate = budget.refill_per_second
        self._tokens = float(budget.burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; returns the seconds waited."""
        with self._lock:
            now = self.clock()
            refilled = self._tokens + (now - self._stamp) * self._rate
            self._tokens = min(float(self.budget.burst), refilled) - 1
            self._stamp = now
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self.sleep(wait)
        return wait


class MeteredAttempts:
    """What a client's retrying session calls before each request attempt (its `limiter`):
    counts the attempts (`requests`) and takes a token from the client's bucket, if it has one,
    adding the seconds waited (`waited`). A client sets `_bucket` and passes `_before_attempt`."""

    requests: int = 0
    waited: float = 0.0
    _bucket: TokenBucket | None = None

    def _before_attempt(self) -> None:
        self.requests += 1
        if self._bucket is not None:
            self.waited += self._bucket.acquire()


class LimiterRegistry:
    """The process's token buckets by key (`<source>:<credential>`), created on first use."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, key: str, budget: Budget) -> TokenBucket:
        """The bucket for `key`; asking for one key with two different budgets is a bug."""
        with self._lock:
            found = self._buckets.get(key)
            if found is None:
                found = self._buckets[key] = TokenBucket(budget, self.clock, self.sleep)
            elif found.budget != budget:
                raise ValueError(f"rate limiter {key} already exists with another budget")
            return found

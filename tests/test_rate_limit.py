"""The one rate limiter: budget arithmetic, the token bucket on an injected clock, the registry,
and its hook in the retry policy (before every attempt, retries included)."""

from __future__ import annotations

import pytest
import requests

from extract.shared.rate_limit import Budget, LimiterRegistry, TokenBucket
from runtime.core.http import RetryPolicy, retrying_session
from sandbox.practice_fusion import PracticeFusionServer, build_practices


class FakeTime:
    """A clock that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def releases(bucket: TokenBucket, fake: FakeTime, count: int, idle_every: int = 0) -> list[float]:
    """When each of `count` acquisitions was let through; an idle second every `idle_every`."""
    times = []
    for n in range(count):
        if idle_every and n % idle_every == 0:
            fake.sleep(1.0)
        bucket.acquire()
        times.append(fake.now)
    return times


def most_in_any_window(times: list[float], window: float) -> int:
    """The most releases in any half-open window [t, t + window) (windows start at a release)."""
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


def test_refill_rate_leaves_room_for_the_burst_and_jitter():
    assert Budget(30).refill_per_second == pytest.approx(28.8)
    assert Budget(30, burst=5, headroom=0).refill_per_second == 26
    assert Budget(10, per_seconds=2, headroom=0).refill_per_second == 5
    with pytest.raises(ValueError):
        Budget(30, burst=31)
    with pytest.raises(ValueError):
        Budget(30, headroom=1)


@pytest.mark.parametrize("burst", [1, 4, 30])
@pytest.mark.parametrize("idle_every", [0, 7])
def test_no_window_ever_holds_more_than_the_budget(burst, idle_every):
    fake = FakeTime()
    bucket = TokenBucket(Budget(30, burst=burst, headroom=0), fake.clock, fake.sleep)
    times = releases(bucket, fake, 400, idle_every)
    assert most_in_any_window(times, 1.0) <= 30
    if idle_every == 0 and burst == 1:
        assert most_in_any_window(times, 1.0) == 30  # and the budget is used in full


def test_burst_goes_at_once_then_paced_at_the_refill_rate():
    fake = FakeTime()
    bucket = TokenBucket(Budget(10, burst=3, headroom=0), fake.clock, fake.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3:] == pytest.approx([1 / 8, 1 / 8])
    fake.sleep(10)  # a long pause refills to the burst, never beyond
    assert [bucket.acquire() for _ in range(4)] == pytest.approx([0, 0, 0, 1 / 8])


def test_waiters_queue_for_successive_tokens():
    """Reservations made before anyone sleeps are due one refill apart."""
    fake = FakeTime()
    slept: list[float] = []
    bucket = TokenBucket(Budget(4, headroom=0), fake.clock, slept.append)
    assert [bucket.acquire() for _ in range(4)] == pytest.approx([0, 0.25, 0.5, 0.75])
    assert slept == pytest.approx([0.25, 0.5, 0.75])


def test_registry_shares_one_bucket_per_key():
    registry = LimiterRegistry()
    one = registry.bucket("practice_fusion:a", Budget(30))
    assert registry.bucket("practice_fusion:a", Budget(30)) is one
    assert registry.bucket("practice_fusion:b", Budget(30)) is not one
    with pytest.raises(ValueError, match="another budget"):
        registry.bucket("practice_fusion:a", Budget(20))


def test_retry_policy_asks_the_limiter_before_every_attempt():
    calls = []
    session = retrying_session(
        policy=RetryPolicy(base_delay=0.01, floor=0.01), limiter=lambda: calls.append(1)
    )
    with PracticeFusionServer(build_practices(3, 1, 5)) as server:
        requests.post(f"{server.url}/__sandbox__/knobs", json={"http_5xx_next": 2}, timeout=5)
        url = f"{server.url}/api/v1/practices/pf1001/charges/delta"
        assert session.get(url, timeout=5).status_code == 401  # 503, 503, then no token
    assert len(calls) == 3

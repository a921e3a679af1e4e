"""How a stand-in counts one tenant's requests against its budget, the way the server sees it.

Every arrival counts, answered or throttled. An arrival that makes more than `limit` requests
in the window of `window` seconds ending at it is a budget violation (and is answered 429).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Traffic:
    """One tenant's arrivals in the current window and its running totals."""

    limit: int
    window: float
    requests: int = 0
    token_requests: int = 0
    throttled: int = 0
    violations: int = 0
    max_in_window: int = 0
    _arrivals: deque[float] = field(default_factory=deque)

    def arrive(self, now: float) -> float | None:
        """Count an arrival at `now` (monotonic seconds); None when within the budget, else the
        seconds until the window has room again."""
        self.requests += 1
        while self._arrivals and self._arrivals[0] <= now - self.window:
            self._arrivals.popleft()
        self._arrivals.append(now)
        in_window = len(self._arrivals)
        self.max_in_window = max(self.max_in_window, in_window)
        if in_window <= self.limit:
            return None
        self.violations += 1
        return self._arrivals[in_window - self.limit - 1] + self.window - now

    def to_json(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "token_requests": self.token_requests,
            "throttled": self.throttled,
            "violations": self.violations,
            "max_in_window": self.max_in_window,
        }


def retry_after(seconds: float) -> str:
    """A Retry-After header value: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds)))

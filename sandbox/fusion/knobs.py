"""Sandbox test knobs: slow or failing jobs, 5xx answers, disabled combinations, period status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.fusion import chart
from sandbox.fusion.ledger import Books

DEFAULT_JOB_SECONDS = 0.2
TOKEN_SECONDS = 3600


class KnobError(ValueError):
    """A knob payload that cannot be applied; nothing was changed."""


@dataclass
class Knobs:
    """Knobs kept by the simulator itself; ledger knobs live on the ledgers."""

    job_seconds: float = DEFAULT_JOB_SECONDS
    fail_next_jobs: int = 0
    http_5xx_next: int = 0
    token_seconds: float = TOKEN_SECONDS

    def take_5xx(self) -> bool:
        """Consume one injected 5xx, if any is pending."""
        if self.http_5xx_next <= 0:
            return False
        self.http_5xx_next -= 1
        return True


def describe(knobs: Knobs, books: Books) -> dict[str, Any]:
    """The GET /__sandbox__/knobs payload (primary ledger's combinations and periods)."""
    ledger = books.ledgers[chart.LEDGER_ID]
    statuses = ledger.period_status
    return {
        "job_seconds": knobs.job_seconds,
        "fail_next_jobs": knobs.fail_next_jobs,
        "http_5xx_next": knobs.http_5xx_next,
        "token_seconds": knobs.token_seconds,
        "disable_combinations": sorted(ledger.disabled),
        "close_periods": [p.name for p in ledger.periods if statuses[p.name] == chart.CLOSED],
        "open_periods": [p.name for p in ledger.periods if statuses[p.name] == chart.OPEN],
    }


def apply(payload: Any, knobs: Knobs, books: Books) -> None:
    """Apply a POST /__sandbox__/knobs payload; validates everything before changing anything.

    `disable_combinations` replaces the disabled set (send [] to enable all again);
    `close_periods` / `open_periods` change only the periods they name.
    """
    if not isinstance(payload, dict):
        raise KnobError("knobs must be a JSON object")
    unknown = set(payload) - set(describe(knobs, books))
    if unknown:
        raise KnobError(f"unknown knobs: {', '.join(sorted(unknown))}")
    ledger = books.ledgers[chart.LEDGER_ID]
    numbers = {}
    for name in ("job_seconds", "token_seconds", "fail_next_jobs", "http_5xx_next"):
        if name in payload:
            value = payload[name]
            integral = name in ("fail_next_jobs", "http_5xx_next")
            kinds = (int,) if integral else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
                kind = "integer" if integral else "number"
                raise KnobError(f"{name} must be a non-negative {kind}")
            numbers[name] = value
    lists = {}
    for name in ("disable_combinations", "close_periods", "open_periods"):
        if name in payload:
            value = payload[name]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise KnobError(f"{name} must be a list of strings")
            lists[name] = value
    for name in ("close_periods", "open_periods"):
        for period in lists.get(name, []):
            if period not in ledger.period_status:
                raise KnobError(f"{name}: no period {period}")
    for name, value in numbers.items():
        setattr(knobs, name, value)
    if "disable_combinations" in lists:
        ledger.disabled = set(lists["disable_combinations"])
    for period in lists.get("close_periods", []):
        ledger.period_status[period] = chart.CLOSED
    for period in lists.get("open_periods", []):
        ledger.period_status[period] = chart.OPEN

"""Fault knobs of the Veradigm stand-ins: 5xx answers, dropped connections, latency, 429
storms, malformed pages and corrupted records, token lifetime, token revocation."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

TOKEN_SECONDS = 3600.0
COUNTS = (
    "http_5xx_next",
    "drop_next",
    "throttle_next",
    "malformed_next",
    "corrupt_records_next",
)
SECONDS = ("latency_seconds", "token_seconds", "retry_after_seconds")


class KnobError(ValueError):
    """A knob payload that cannot be applied; nothing was changed."""


@dataclass
class Knobs:
    """`*_next` knobs count down, one per API request they affect."""

    http_5xx_next: int = 0
    drop_next: int = 0
    throttle_next: int = 0
    malformed_next: int = 0
    corrupt_records_next: int = 0
    latency_seconds: float = 0.0
    token_seconds: float = TOKEN_SECONDS
    retry_after_seconds: float = 1.0

    def take(self, name: str) -> bool:
        """Consume one of the `name` countdown, if any is left."""
        left = getattr(self, name)
        if left <= 0:
            return False
        setattr(self, name, left - 1)
        return True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def apply(payload: Any, knobs: Knobs) -> bool:
    """Apply a POST /__sandbox__/knobs payload after validating all of it; returns whether the
    payload asks to revoke every issued token (`"revoke_tokens": true`)."""
    if not isinstance(payload, dict):
        raise KnobError("knobs must be a JSON object")
    unknown = set(payload) - {*COUNTS, *SECONDS, "revoke_tokens"}
    if unknown:
        raise KnobError(f"unknown knobs: {', '.join(sorted(unknown))}")
    for name, value in payload.items():
        if name == "revoke_tokens":
            if not isinstance(value, bool):
                raise KnobError("revoke_tokens must be true or false")
            continue
        kind = "integer" if name in COUNTS else "number"
        allowed = (int,) if name in COUNTS else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed) or value < 0:
            raise KnobError(f"{name} must be a non-negative {kind}")
    for name, value in payload.items():
        if name != "revoke_tokens":
            setattr(knobs, name, value)
    return bool(payload.get("revoke_tokens"))

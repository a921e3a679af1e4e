"""The disclosure log's entry format and chain checks, shared by both stores.

An entry's hash is the sha256 of the canonical JSON of its other fields; each entry carries the
previous entry's hash. `ChainCheck` recomputes one store's chain as its entries stream past;
`compare` merges the two stores by sequence. Problems name sequence numbers only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
COLUMNS = (
    "sequence",
    "recorded_at",
    "tenant",
    "principal",
    "action",
    "patient_pseudonym",
    "scope",
    "purpose",
    "recipient",
    "detail",
    "previous_hash",
    "entry_hash",
)
MAX_PROBLEMS = 50


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text: the form entries are hashed and mirrored in."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of every field but `entry_hash`."""
    body = {name: entry[name] for name in COLUMNS if name != "entry_hash"}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds, fixed width, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("timestamps in the disclosure log must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _span(first: int, last: int) -> str:
    return f"entry {first}" if first == last else f"entries {first}-{last}"


class Problems:
    """Problem lines for one store, capped so a wholesale break stays readable."""

    def __init__(self, prefix: str, out: list[str]):
        self.prefix = prefix
        self.out = out
        self.listed = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        if self.listed < MAX_PROBLEMS:
            self.out.append(f"{self.prefix}{text}")
            self.listed += 1
        else:
            self.dropped += 1

    def close(self) -> None:
        if self.dropped:
            self.out.append(f"{self.prefix}{self.dropped} further problems not listed")


class ChainCheck:
    """Recomputes one store's chain in stored order; counts entries as they pass."""

    def __init__(self, tenant: str, problems: Problems, forwarded: dict | None):
        self.tenant = tenant
        self.problems = problems
        self.forwarded = forwarded
        self.count = 0
        self.first: dict | None = None
        self.last_purge: dict | None = None
        self.prev: dict | None = None
        self.forwarded_seen = False

    def watch(self, entries: Iterable[dict]) -> Iterator[tuple[dict, str]]:
        """Pass each entry through with the hash recomputed from its contents."""
        for entry in entries:
            yield entry, self._check(entry)
        self._check_start()
        self._check_forwarded()
        self.problems.close()

    def _check(self, entry: dict) -> str:
        self.count += 1
        seq = entry["sequence"]
        digest = entry_hash(entry)
        if digest != entry["entry_hash"]:
            self.problems.add(f"entry {seq} edited")
        elif entry["tenant"] != self.tenant:
            self.problems.add(f"entry {seq} belongs to another tenant")
        if entry["action"] == "purge":
            self.last_purge = entry
        if self.forwarded and seq == self.forwarded["sequence"]:
            self.forwarded_seen = True
            if entry["entry_hash"] != self.forwarded["entry_hash"]:
                self.problems.add(f"entry {seq} differs from the copy forwarded to the SIEM")
        if self.prev is None:
            self.first = self.prev = entry
            return digest
        expected = self.prev["sequence"] + 1
        if seq > expected:
            self.problems.add(f"{_span(expected, seq - 1)} missing")
        elif seq < expected:
            self.problems.add(f"entry {seq} out of order (after entry {expected - 1})")
            return digest
        elif entry["previous_hash"] != self.prev["entry_hash"]:
            self.problems.add(f"entry {seq} does not chain to entry {expected - 1}")
        self.prev = entry
        return digest

    def _check_start(self) -> None:
        """The oldest entry starts the chain, or follows the latest purge's anchor."""
        if self.first is None:
            return
        detail = (self.last_purge or {}).get("detail") or {}
        purged_to = detail.get("last_sequence", 0)
        anchor = detail.get("anchor_hash", GENESIS_HASH)
        seq = self.first["sequence"]
        if purged_to < seq - 1:
            self.problems.add(f"{_span(purged_to + 1, seq - 1)} missing")
        elif purged_to > seq - 1:
            self.problems.add(f"{_span(seq, purged_to)} purged but still present")
        elif self.first["previous_hash"] != anchor:
            self.problems.add(f"entry {seq} does not start the chain")

    def _check_forwarded(self) -> None:
        """Entries up to the last one forwarded must still be here (tail truncation)."""
        if not self.forwarded or self.forwarded_seen:
            return
        seq = self.forwarded["sequence"]
        if self.prev is None or self.prev["sequence"] < seq:
            self.problems.add(f"entries through {seq} were forwarded but the log ends before")


class _Ranges:
    """Consecutive sequence numbers folded into ranges."""

    def __init__(self):
        self.spans: list[list[int]] = []

    def add(self, seq: int) -> None:
        if self.spans and self.spans[-1][1] == seq - 1:
            self.spans[-1][1] = seq
        else:
            self.spans.append([seq, seq])

    def texts(self, template: str) -> list[str]:
        """`template` formatted with `span` ("entry 7", "entries 3-4") and `at` ("7", "3-4")."""
        return [
            template.format(span=_span(a, b), at=f"{a}" if a == b else f"{a}-{b}")
            for a, b in self.spans[:MAX_PROBLEMS]
        ]


def _ascending(checked: Iterable[tuple[dict, str]]) -> Iterator[tuple[int, tuple[str, str]]]:
    # Out-of-order entries are reported by the chain check; the comparison skips them.
    last = 0
    for entry, digest in checked:
        if entry["sequence"] > last:
            last = entry["sequence"]
            yield last, (entry["entry_hash"], digest)


def compare(
    mirror: Iterable[tuple[dict, str]], warehouse: Iterable[tuple[dict, str]], problems: list[str]
) -> None:
    """Merge both stores by sequence; name where they hold different or missing entries (by
    stored and by recomputed hash, so an edit that kept the stored hash counts)."""
    differ, only_mirror, only_warehouse = _Ranges(), _Ranges(), _Ranges()
    m_iter, w_iter = _ascending(mirror), _ascending(warehouse)
    m, w = next(m_iter, None), next(w_iter, None)
    while m is not None or w is not None:
        if w is None or (m is not None and m[0] < w[0]):
            only_mirror.add(m[0])
            m = next(m_iter, None)
        elif m is None or w[0] < m[0]:
            only_warehouse.add(w[0])
            w = next(w_iter, None)
        else:
            if m[1] != w[1]:
                differ.add(m[0])
            m, w = next(m_iter, None), next(w_iter, None)
    problems.extend(differ.texts("mirror and warehouse disagree at {at}"))
    problems.extend(only_mirror.texts("{span} only in the mirror"))
    problems.extend(only_warehouse.texts("{span} only in the warehouse"))

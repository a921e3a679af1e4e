"""Synthetic canary patients: distinctive identifiers that must never leak.

The generators put these patients on lines in every file they write. Tests search outputs (FBDI
files, logs, metrics, dbt artifacts) for `CANARY_MARKER`, which every canary value contains, to
prove that no raw identifier got through.
"""

from __future__ import annotations

CANARY_MARKER = "CANARY"

CANARY_MRNS: tuple[str, ...] = ("CANARYMRN0001", "CANARYMRN0002", "CANARYMRN0003")
CANARY_NAMES: tuple[str, ...] = (
    "ZZCANARY,PATIENTONE",
    "ZZCANARY,PATIENTTWO",
    "ZZCANARY,PATIENTTHREE",
)
CANARY_ACCOUNTS: tuple[str, ...] = ("CANARYHAR0001", "CANARYHAR0002", "CANARYHAR0003")

CANARY_VALUES: tuple[str, ...] = CANARY_MRNS + CANARY_NAMES + CANARY_ACCOUNTS


def canary_hits(text: str | bytes) -> list[str]:
    """The canary values found in `text`, plus the bare marker if only a fragment is present."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    hits = [value for value in CANARY_VALUES if value in text]
    if not hits and CANARY_MARKER in text:
        hits.append(CANARY_MARKER)
    return hits

"""One domain's outbox as one object: its batches in chain order, each with its manifest.

The outbox folder holds every batch a domain exported (zip, manifest, and for record objects
the records file) and `manifests.jsonl`, the hash chain listing them in export order
(load/manifest.py writes both). A run reads the chain and its manifests once, through this
object, and adds what it exports to it; every step of the run (settling, hand-over,
submission, the disclosure log, a reload) asks it rather than re-reading the files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from load.manifest import ExportResult, ManifestError, read_chain


@dataclass(frozen=True)
class OutboxBatch:
    """One exported batch: its id and its manifest, with the files the manifest names."""

    batch_id: str
    manifest: dict[str, Any]
    folder: Path

    @property
    def feed_date(self) -> date:
        """The day the batch carries (a delivery day, or the landing day of its records)."""
        return date.fromisoformat(self.manifest["scope"]["feed_date"])

    @property
    def scope(self) -> dict[str, Any]:
        return self.manifest["scope"]

    @property
    def lines(self) -> int:
        """Data lines over every file of the batch (0: nothing to send)."""
        return sum(f["rows"] for f in self.manifest["files"])

    @property
    def zip_path(self) -> Path:
        return self.folder / self.manifest["zip"]["name"]

    @property
    def records_path(self) -> Path | None:
        """The records file of a batch of record objects (None for journal batches)."""
        records = self.manifest.get("records")
        return self.folder / records["name"] if records else None

    @property
    def reload_of(self) -> str | None:
        """The original batch a reload batch re-sends lines of (None: an original batch)."""
        return self.scope.get("reload_of")


class Outbox:
    """A domain's outbox folder, its chain read once (on first use)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._batches: dict[str, OutboxBatch] | None = None

    @property
    def batches(self) -> list[OutboxBatch]:
        """Every batch in chain (export) order."""
        return list(self._read().values())

    def batch(self, batch_id: str) -> OutboxBatch:
        try:
            return self._read()[batch_id]
        except KeyError:
            raise ManifestError(f"batch {batch_id} is not in the outbox chain") from None

    def __contains__(self, batch_id: str) -> bool:
        return batch_id in self._read()

    def feed_days(self) -> dict[str, date]:
        """The day of every batch, by batch id."""
        return {b.batch_id: b.feed_date for b in self.batches}

    def added(self, exported: ExportResult) -> OutboxBatch:
        """Take in a batch just exported (a re-export of a recorded batch changes nothing)."""
        batches = self._read()
        if exported.batch_id not in batches:
            batches[exported.batch_id] = OutboxBatch(
                exported.batch_id, exported.manifest, self.folder
            )
        return batches[exported.batch_id]

    def _read(self) -> dict[str, OutboxBatch]:
        if self._batches is None:
            self._batches = {
                entry.batch_id: OutboxBatch(
                    entry.batch_id,
                    json.loads((self.folder / entry.manifest).read_text(encoding="utf-8")),
                    self.folder,
                )
                for entry in read_chain(self.folder)
            }
        return self._batches

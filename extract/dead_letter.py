"""The dead-letter store: input that cannot be read is quarantined, never dropped.

The original bytes are copied, content-addressed, under the tenant's dead-letter folder, and a
record with the reason is loaded into the source's raw dataset (table `dead_letter`) in the same
dlt load as the good data and the cursor state, so the three commit together.
Reasons name columns, types and positions, never values: a value may be PHI.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dlt
import pyarrow as pa

from runtime.core.private_files import private_file, private_folder

TABLE = "dead_letter"


@dataclass(frozen=True)
class DeadLetterStore:
    root: Path

    def quarantine(self, path: Path, sha256: str, source: str, reason_code: str, reason: str):
        """Copy the file aside and return the dead-letter record, marked for its table."""
        private_folder(self.root)
        target = self.root / f"{sha256[:16]}__{path.name}"
        if not target.exists():
            shutil.copyfile(path, target)
            private_file(target)
        record = pa.table(
            {
                "source": [source],
                "object_name": [path.name],
                "sha256": [sha256],
                "reason_code": [reason_code],
                "reason": [reason],
                "quarantined_path": [str(target)],
                "detected_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
            }
        )
        return dlt.mark.with_table_name(record, TABLE)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

"""dlt resources landing what the FHIR client reads: one per resource type.

Each resource type lands in its own raw table (dlt names `PractitionerRole` as
`practitioner_role`) as Arrow rows: the resource's `id`, `version_id`, `last_updated` and the
resource as received (`resource`, JSON text), so no element is lost to flattening and staging
reads it with the warehouse's JSON functions. Rows merge on (`id`, `version_id`): a version
read twice lands once. The type's cursor (`client.Cursor`) sits in the resource's dlt state
and moves only after a complete read, in the same load as its rows; a read that stopped early
lands what it read and keeps its cursor. Invalid resources are quarantined in the dead-letter
store with their validation error (resource type, id and elements, never a value), in the
same load; the rest of their Bundle lands.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa

from extract.dead_letter import TABLE as DEAD_LETTER
from extract.dead_letter import DeadLetterStore, file_sha256
from extract.shared.fhir.client import (
    OVERLAP,
    Changes,
    Cursor,
    FhirClient,
    Rejected,
    parse_instant,
)

REASON_CODE = "fhir_r4_invalid"
SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("version_id", pa.string(), nullable=False),
        pa.field("last_updated", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("resource", pa.string(), nullable=False),
    ]
)


@dataclass
class FhirReport:
    """Per resource type: resources landed, resources dead-lettered, and why a read stopped."""

    landed: dict[str, int] = field(default_factory=dict)
    dead_lettered: dict[str, int] = field(default_factory=dict)
    incomplete: dict[str, str] = field(default_factory=dict)


def rows(resources: Sequence[dict[str, Any]]) -> pa.Table:
    """The raw rows of a resource type's new versions."""
    return pa.table(
        {
            "id": [r["id"] for r in resources],
            "version_id": [_version(r["meta"]) for r in resources],
            "last_updated": [parse_instant(r["meta"]["lastUpdated"]) for r in resources],
            "resource": [json.dumps(r, sort_keys=True, separators=(",", ":")) for r in resources],
        },
        schema=SCHEMA,
    )


def _mark(data: pa.Table, resource_type: str):
    """Rows marked for their type's table, merged on id and version (a table variant, so the
    dead-letter records of the same resource keep their own hints)."""
    hints = dlt.mark.make_hints(
        table_name=resource_type,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=["id", "version_id"],
    )
    return dlt.mark.with_hints(data, hints, create_table_variant=True)


def _version(meta: dict[str, Any]) -> str:
    """`meta.versionId`, or `@<lastUpdated>` where the server gives none."""
    return str(meta.get("versionId") or f"@{meta['lastUpdated']}")


def quarantine(store: DeadLetterStore, source: str, resource_type: str, entry: Rejected):
    """Keep a rejected entry as received in the dead-letter store; its dead-letter record."""
    content = json.dumps(entry.resource, sort_keys=True).encode()
    name = f"{resource_type}_{entry.error.resource_id}.json"
    with tempfile.TemporaryDirectory(prefix="ehrfusion-dl-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        marked = store.quarantine(path, file_sha256(path), source, REASON_CODE, str(entry.error))
    hints = dlt.mark.make_hints(table_name=DEAD_LETTER, write_disposition="append")
    return dlt.mark.with_hints(marked.data, hints, create_table_variant=True)


def fhir_resource(
    client: FhirClient,
    resource_type: str,
    store: DeadLetterStore,
    source: str,
    report: FhirReport,
    overlap: timedelta = OVERLAP,
):
    """The dlt resource of one resource type (its table, its cursor in resource state)."""

    @dlt.resource(name=resource_type)
    def read() -> Iterator:
        state = dlt.current.resource_state()
        changes: Changes = client.read_changes(
            resource_type, Cursor.from_state(state.get("cursor")), overlap
        )
        if changes.resources:
            yield _mark(rows(changes.resources), resource_type)
        for entry in changes.rejected:
            yield quarantine(store, source, resource_type, entry)
        report.landed[resource_type] = len(changes.resources)
        report.dead_lettered[resource_type] = len(changes.rejected)
        if changes.error is not None:
            report.incomplete[resource_type] = str(changes.error)
        state["cursor"] = changes.cursor.to_state()

    return read


def fhir_resources(
    client: FhirClient,
    resource_types: Sequence[str],
    store: DeadLetterStore,
    source: str,
    report: FhirReport,
    overlap: timedelta = OVERLAP,
) -> list:
    """One dlt resource per resource type, for a source package's `@dlt.source`."""
    return [fhir_resource(client, t, store, source, report, overlap) for t in resource_types]

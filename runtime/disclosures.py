"""Which patients each newly exported batch disclosed, appended to the accounting of disclosures.

One entry per patient per batch: the batch is the unit that is sent to Fusion. Patients are named
by their keyed pseudonym whatever the domain's PHI mode, so the log never holds an identifier.
"""

from __future__ import annotations

from runtime.audit import DisclosureLog, DisclosureRecord
from runtime.config import Domain, Tenant
from runtime.export import MART, ExportedBatch
from runtime.warehouse import Warehouse


def record_disclosures(
    warehouse: Warehouse, tenant: Tenant, domain: Domain, batches: list[ExportedBatch]
) -> int:
    """Append the disclosures of the batches exported for the first time; returns the count."""
    new = [b for b in batches if not b.reexport and b.lines]
    if not new:
        return 0
    lines = f"{warehouse.schema('intermediate')}.int_journal_lines_validated"
    days = ", ".join(f"'{b.feed_date.isoformat()}'" for b in new)
    rows = warehouse.query(
        f"select distinct feed_date, patient_pseudonym from {lines} "
        f"where not is_held and patient_pseudonym is not null and feed_date in ({days})"
    )
    batch_of = {b.feed_date.isoformat(): b.batch_id for b in new}
    records = [
        DisclosureRecord(
            patient_pseudonym=pseudonym,
            scope=f"{domain.name}:{MART}:{batch_of[str(feed_date)[:10]]}",
            purpose=domain.disclosure.purpose,
            recipient=domain.disclosure.recipient,
        )
        for feed_date, pseudonym in sorted(rows, key=lambda row: (str(row[0]), row[1]))
    ]
    return DisclosureLog(warehouse, tenant.name, tenant.audit).append(records)

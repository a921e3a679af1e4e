"""Record a run's PHI access in the accounting of disclosures.

- read: every patient on the feed lines this run landed (the PHI the product read);
- disclose: every patient on each batch exported for the first time (the batch is the unit
  sent to Fusion).
Patients are named by their keyed pseudonym whatever the domain's PHI mode, so the log never
holds an identifier.
"""

from __future__ import annotations

from runtime.audit import DisclosureLog, DisclosureRecord
from runtime.config import Domain, Tenant
from runtime.export import MART, ExportedBatch
from runtime.warehouse import Warehouse


def record_phi_access(
    warehouse: Warehouse,
    tenant: Tenant,
    domain: Domain,
    run_id: str,
    files_loaded: list[str],
    batches: list[ExportedBatch],
) -> int:
    """Append the run's read and disclose entries; returns how many were recorded."""
    lines = f"{warehouse.schema('intermediate')}.int_journal_lines_validated"
    records = []
    if files_loaded:
        files = ", ".join(f"'{name}'" for name in files_loaded)
        rows = warehouse.query(
            f"select distinct patient_pseudonym from {lines} "
            f"where patient_pseudonym is not null and source_file in ({files}) order by 1"
        )
        records += [
            DisclosureRecord(
                patient_pseudonym=pseudonym,
                scope=f"{domain.name}:{domain.source}:{run_id}",
                purpose=domain.disclosure.purpose,
                recipient=f"ehrfusion ({tenant.name} warehouse)",
                action="read",
            )
            for (pseudonym,) in rows
        ]
    new = {b.feed_date.isoformat(): b.batch_id for b in batches if not b.reexport and b.lines}
    if new:
        days = ", ".join(f"'{day}'" for day in new)
        rows = warehouse.query(
            f"select distinct feed_date, patient_pseudonym from {lines} "
            f"where not is_held and patient_pseudonym is not null and feed_date in ({days})"
        )
        records += [
            DisclosureRecord(
                patient_pseudonym=pseudonym,
                scope=f"{domain.name}:{MART}:{new[str(feed_date)[:10]]}",
                purpose=domain.disclosure.purpose,
                recipient=domain.disclosure.recipient,
            )
            for feed_date, pseudonym in sorted(rows, key=lambda row: (str(row[0]), row[1]))
        ]
    if not records:
        return 0
    return DisclosureLog(warehouse, tenant.name, tenant.audit).append(records)

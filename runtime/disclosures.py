"""Record a run's PHI access in the accounting of disclosures.

- read: every patient on the feed lines this run landed (the PHI the product read);
- disclose: every patient on the batches this run exported for the first time, once per run
  (one recipient, one purpose); the scope names the run and its first and last batch, and the
  run's manifests list every batch it sent. A daily run sends one batch, so this is one entry per
  patient per batch in steady state, without a 31-fold log on an initial month's load.
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
    new = sorted((b for b in batches if not b.reexport and b.lines), key=lambda b: b.feed_date)
    if new:
        days = ", ".join(f"'{b.feed_date.isoformat()}'" for b in new)
        rows = warehouse.query(
            f"select distinct patient_pseudonym from {lines} "
            f"where not is_held and patient_pseudonym is not null and feed_date in ({days}) "
            "order by 1"
        )
        sent = new[0].batch_id if len(new) == 1 else f"{new[0].batch_id}..{new[-1].batch_id}"
        records += [
            DisclosureRecord(
                patient_pseudonym=pseudonym,
                scope=f"{domain.name}:{MART}:{run_id}:{sent}",
                purpose=domain.disclosure.purpose,
                recipient=domain.disclosure.recipient,
            )
            for (pseudonym,) in rows
        ]
    if not records:
        return 0
    return DisclosureLog(warehouse, tenant.name, tenant.audit).append(records)

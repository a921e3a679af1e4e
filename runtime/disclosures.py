"""Record a run's PHI access in the accounting of disclosures.

- read: every patient on the feed lines this run landed (the PHI the product read);
- disclose: every patient on the batches this run sent (uploaded to Fusion, or exported for the
  first time where files are collected from the outbox), once per run (one recipient, one
  purpose); the scope names the run and its first and last batch, and the run's manifests list
  every batch it sent. A daily run sends one batch, so this is one entry per
  patient per batch in steady state, without a 31-fold log on an initial month's load.
Patients are named by their keyed pseudonym whatever the domain's PHI mode, so the log never
holds an identifier.
"""

from __future__ import annotations

from datetime import date

from runtime.audit import DisclosureLog, DisclosureRecord
from runtime.config import Domain, Tenant
from runtime.gl_models import gl_models
from runtime.warehouse import Warehouse


def record_phi_access(
    warehouse: Warehouse,
    tenant: Tenant,
    domain: Domain,
    run_id: str,
    files_loaded: list[str],
    sent: dict[str, date],
) -> int:
    """Append the run's read and disclose entries; returns how many were recorded."""
    models = gl_models(domain.source)
    lines = models.relation(warehouse, "validated")
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
    if sent:
        batches = sorted(sent, key=lambda batch_id: sent[batch_id])
        days = ", ".join(f"'{sent[b].isoformat()}'" for b in batches)
        mart = models.relation(warehouse, "gl_interface")
        rows = warehouse.query(
            f"select distinct lines.patient_pseudonym from {mart} as sent "
            f"inner join {lines} as lines on lines.source_line_id = sent.source_line_id "
            f"where lines.patient_pseudonym is not null and sent.batch_date in ({days}) "
            "order by 1"
        )
        span = batches[0] if len(batches) == 1 else f"{batches[0]}..{batches[-1]}"
        records += [
            DisclosureRecord(
                patient_pseudonym=pseudonym,
                scope=f"{domain.name}:{models.gl_interface}:{run_id}:{span}",
                purpose=domain.disclosure.purpose,
                recipient=domain.disclosure.recipient,
            )
            for (pseudonym,) in rows
        ]
    if not records:
        return 0
    return DisclosureLog(warehouse, tenant.name, tenant.audit).append(records)

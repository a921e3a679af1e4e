"""Record a run's PHI access in the accounting of disclosures.

- read: every patient on the feed lines this run landed (the PHI the product read); for the
  database and API sources, every patient on a row this run's extract landed (rows carry the
  dlt load that landed them);
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

from runtime.compliance.audit import DisclosureLog, DisclosureRecord
from runtime.core import catalog
from runtime.core.config import Domain, Tenant
from runtime.core.gl_models import GL_INTERFACE, GlChain
from runtime.core.phi import pseudonymize
from runtime.core.warehouse import Warehouse


def record_phi_access(
    warehouse: Warehouse,
    tenant: Tenant,
    stream: str,
    domain: Domain,
    run_id: str,
    files_loaded: list[str],
    sent: dict[str, date],
) -> int:
    """Append the run's read and disclose entries; returns how many were recorded."""
    chain = GlChain(stream, domain.name)
    records = []
    if files_loaded:
        files = ", ".join(f"'{name}'" for name in files_loaded)
        rows = warehouse.query(
            f"select distinct patient_pseudonym from {chain.rows(warehouse, 'validated', 'lines')} "
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
        rows = warehouse.query(
            "select distinct lines.patient_pseudonym from "
            f"{chain.rows(warehouse, 'gl_interface', 'sent')} "
            f"inner join {chain.rows(warehouse, 'validated', 'lines')} "
            "on lines.source_line_id = sent.source_line_id "
            f"where lines.patient_pseudonym is not null and sent.batch_date in ({days}) "
            "order by 1"
        )
        span = batches[0] if len(batches) == 1 else f"{batches[0]}..{batches[-1]}"
        records += [
            DisclosureRecord(
                patient_pseudonym=pseudonym,
                scope=f"{domain.name}:{GL_INTERFACE}:{run_id}:{span}",
                purpose=domain.disclosure.purpose,
                recipient=domain.disclosure.recipient,
            )
            for (pseudonym,) in rows
        ]
    if not records:
        return 0
    return DisclosureLog(warehouse, tenant.name, tenant.audit).append(records)


def record_landed_reads(
    warehouse: Warehouse, tenant: Tenant, domain: Domain, run_id: str, since: float, key: str
) -> int:
    """Append a `read` entry per patient on the rows this run landed (loads started at or after
    `since`, Unix seconds) from a database or API source; returns how many were recorded."""
    pseudonyms: set[str] = set()
    for rows_of in catalog.source(domain.source).patients:
        schema = warehouse.schema(rows_of.layer)
        if not _has_load_ids(warehouse, schema, rows_of.table):
            continue
        rows = warehouse.query(
            f"select distinct cast({rows_of.system} as varchar), "
            f"cast({rows_of.local_id} as varchar) "
            f"from {schema}.{rows_of.table} "
            "where cast(_dlt_load_id as double precision) >= %s",
            (since,),
        )
        pseudonyms |= {pseudonymize(f"{s}:{i}", "patient", key) for s, i in rows if i}
    records = [
        DisclosureRecord(
            patient_pseudonym=pseudonym,
            scope=f"{domain.name}:{domain.source}:{run_id}",
            purpose=domain.disclosure.purpose,
            recipient=f"ehrfusion ({tenant.name} warehouse)",
            action="read",
        )
        for pseudonym in sorted(pseudonyms)
    ]
    if not records:
        return 0
    return DisclosureLog(warehouse, tenant.name, tenant.audit).append(records)


def _has_load_ids(warehouse: Warehouse, schema: str, table: str) -> bool:
    rows = warehouse.query(
        "select count(*) from information_schema.columns "
        "where table_schema = %s and table_name = %s and column_name = '_dlt_load_id'",
        (schema, table),
    )
    return bool(rows[0][0])

"""Record a domain's PHI access in the accounting of disclosures, step by step, with no holes.

- read: every patient on the rows a landing put in the raw layer (the PHI the product read):
  the feed lines of the files landed, the rows a database or API extract landed. The step is
  the dlt load (each raw row carries the load that landed it).
- disclose: every patient on a batch Fusion received (uploaded, or already held) or that was
  handed over through the outbox where there is no Fusion endpoint. The step is the batch; the
  patients come from the lines of the batch's own file.

Every step is marked accounted in the same warehouse transaction as its entries
(`DisclosureLog.append(..., steps)`), and the entries of all the steps recorded together are one
per patient (one recipient, one purpose), so an initial month's load is not logged 31-fold. A
process that dies between a step and its entries (after the load committed, after Fusion's
answer was recorded) leaves the step unmarked: the domain's next run records it before it does
anything else (`record_unaccounted`), and `audit verify` reports it meanwhile
(`accounting_holes`). Patients are named by their keyed pseudonym whatever the domain's PHI
mode, so the log never holds an identifier.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.csv as pacsv

from load.outbox import Outbox
from runtime.compliance.audit import AccountedStep, DisclosureLog, DisclosureRecord
from runtime.core import catalog
from runtime.core.config import Config, Domain, Tenant
from runtime.core.gl_models import GL_INTERFACE, GlChain
from runtime.core.phi import pseudonymize
from runtime.core.targets import target_of
from runtime.core.warehouse import Warehouse
from runtime.pipeline.locks import Locked, domain_lock
from runtime.pipeline.posting import HANDED_OVER, Posting

LOAD, BATCH = "load", "batch"
_IN_CHUNK = 5_000


def patient_rows(domain: Domain) -> list[catalog.PatientRows]:
    """The raw tables naming patients that this domain lands."""
    tables = target_of(domain).tables
    return [
        rows_of
        for rows_of in catalog.source(domain.source).patients
        if tables is None or rows_of.table in tables
    ]


def record_landed_reads(
    warehouse: Warehouse, tenant: Tenant, stream: str, domain: Domain, run_id: str, key: str
) -> int:
    """Append a `read` entry per patient on the rows of every load of the domain's patient
    tables not accounted for yet (this run's landing, or one a dead process left); returns how
    many entries were recorded."""
    log = DisclosureLog(warehouse, tenant.name, tenant.audit)
    loads = _unaccounted_loads(warehouse, domain, log.accounted(LOAD))
    if not loads:
        return 0
    pseudonyms: set[str] = set()
    for rows_of, load_ids in loads.items():
        schema = warehouse.schema(rows_of.layer)
        local = f"cast({rows_of.local_id} as varchar)"
        value = (
            local
            if rows_of.system is None
            else f"cast({rows_of.system} as varchar) || ':' || {local}"
        )
        for chunk in _chunks(sorted(load_ids)):
            rows = warehouse.query(
                f"select distinct {value} from {schema}.{rows_of.table} "
                f"where {local} <> '' "
                "and cast(_dlt_load_id as varchar) in "
                f"({', '.join(['%s'] * len(chunk))})",
                tuple(chunk),
            )
            pseudonyms |= {pseudonymize(v, rows_of.kind, key) for (v,) in rows if v}
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
    steps = sorted({load for ids in loads.values() for load in ids})
    return log.append(records, [AccountedStep(LOAD, s, stream, domain.name) for s in steps])


def record_sent_batches(
    warehouse: Warehouse,
    tenant: Tenant,
    stream: str,
    domain: Domain,
    outbox: Outbox,
    scope: str,
    only: Iterable[str] | None = None,
) -> int:
    """Append a `disclose` entry per patient on the domain's journal batches Fusion received
    (or that were handed over) and that are not accounted for yet (or only those of `only`);
    `scope` prefixes the span of batches in each entry's scope. Returns the entries recorded."""
    from runtime.pipeline.delivery.journal_submit import read_batch

    log = DisclosureLog(warehouse, tenant.name, tenant.audit)
    batches = sent_batches(warehouse, stream, domain.name) - log.accounted(BATCH)
    if only is not None:
        batches &= set(only)
    if not batches:
        return 0
    chain = GlChain(stream, domain.name)
    validated = chain.rows(warehouse, "validated", "lines")
    # a batch whose file is gone cannot be accounted for: it stays a hole `audit verify` names
    in_outbox = {batch.batch_id: batch for batch in outbox.batches if batch.batch_id in batches}
    if not in_outbox:
        return 0
    line_ids: list[int] = []
    by_day: list[str] = []
    for batch_id in sorted(in_outbox):
        batch = in_outbox[batch_id]
        ids = read_batch(batch, _spec(domain)).source_line_ids
        if ids and all(i is not None for i in ids):
            line_ids += ids
        elif ids:  # aggregate_only files carry no line ids: the batch's day in the mart
            by_day.append(batch.feed_date.isoformat())
    pseudonyms = _patients_of_lines(warehouse, validated, line_ids)
    if by_day:
        days = ", ".join(f"'{day}'" for day in by_day)
        pseudonyms |= {
            p
            for (p,) in warehouse.query(
                f"select distinct lines.patient_pseudonym from "
                f"{chain.rows(warehouse, 'gl_interface', 'sent')} inner join {validated} "
                "on lines.source_line_id = sent.source_line_id "
                f"where lines.patient_pseudonym is not null and sent.batch_date in ({days})"
            )
        }
    ordered = sorted(in_outbox)
    span = ordered[0] if len(ordered) == 1 else f"{ordered[0]}..{ordered[-1]}"
    records = [
        DisclosureRecord(
            patient_pseudonym=pseudonym,
            scope=f"{scope}:{span}",
            purpose=domain.disclosure.purpose,
            recipient=domain.disclosure.recipient,
        )
        for pseudonym in sorted(pseudonyms)
    ]
    return log.append(records, [AccountedStep(BATCH, b, stream, domain.name) for b in ordered])


def sent_scope(domain: Domain, run_id: str) -> str:
    return f"{domain.name}:{GL_INTERFACE}:{run_id}"


def sent_batches(warehouse: Warehouse, stream: str, domain: str) -> set[str]:
    """The domain's batches whose content left: uploaded to Fusion (a request id), found in
    Fusion, or handed over through the outbox."""
    posting = Posting(warehouse)
    posting.ensure()
    rows = warehouse.query(
        f"select batch_id from {posting.schema}.fusion_submissions "
        "where stream = %s and domain = %s and (request_id is not null "
        "or status in ('already_posted', %s))",
        (stream, domain, HANDED_OVER),
    )
    return {str(batch_id) for (batch_id,) in rows}


def accounting_holes(config: Config, tenant_name: str, warehouse: Warehouse) -> list[str]:
    """Landed loads and sent batches of every domain of the tenant that the accounting of
    disclosures does not cover, as problem lines (ids only). A domain whose run is in progress
    (its lock is held) is skipped, as its current step may not be recorded yet."""
    tenant = config.tenant(tenant_name)
    log = DisclosureLog(warehouse, tenant.name, tenant.audit)
    problems: list[str] = []
    for stream in tenant.streams.values():
        for domain in stream.domains.values():
            scope = f"{stream.name}/{domain.name}"
            try:
                with domain_lock(warehouse, stream.name, domain.name):
                    loads = _unaccounted_loads(warehouse, domain, log.accounted(LOAD))
                    batches: set[str] = set()
                    if domain.fusion is not None and domain.fusion.is_gl:
                        batches = sent_batches(warehouse, stream.name, domain.name)
                        batches -= log.accounted(BATCH)
            except Locked:
                continue
            for rows_of, load_ids in loads.items():
                for load_id in sorted(load_ids):
                    problems.append(
                        f"{scope}: load {load_id} landed rows naming patients in "
                        f"{rows_of.layer}.{rows_of.table} with no read entries"
                    )
            problems += [
                f"{scope}: batch {batch_id} went to Fusion with no disclose entries"
                for batch_id in sorted(batches)
            ]
    return problems


def _unaccounted_loads(
    warehouse: Warehouse, domain: Domain, accounted: set[str]
) -> dict[catalog.PatientRows, set[str]]:
    """Per patient table the domain lands, its load ids not accounted for."""
    found: dict[catalog.PatientRows, set[str]] = {}
    for rows_of in patient_rows(domain):
        schema = warehouse.schema(rows_of.layer)
        if not _has_load_ids(warehouse, schema, rows_of.table):
            continue
        rows = warehouse.query(
            f"select distinct cast(_dlt_load_id as varchar) from {schema}.{rows_of.table} "
            f"where {rows_of.local_id} is not null"
        )
        missing = {str(load_id) for (load_id,) in rows} - accounted
        if missing:
            found[rows_of] = missing
    return found


def _patients_of_lines(warehouse: Warehouse, validated: str, line_ids: list[int]) -> set[str]:
    """The pseudonyms of the patients on the given source lines, joined in the warehouse."""
    if not line_ids:
        return set()
    ids = pa.table({"source_line_id": pa.array(sorted(set(line_ids)), pa.int64())})
    query = (
        f"select distinct lines.patient_pseudonym from {validated} "
        "inner join batch_line_ids on batch_line_ids.source_line_id = lines.source_line_id "
        "where lines.patient_pseudonym is not null"
    )
    with warehouse.connect() as con:
        if warehouse.kind == "duckdb":
            con.register("batch_line_ids", ids)
            return {p for (p,) in con.execute(query).fetchall()}
        cur = con.cursor()
        cur.execute("create temporary table batch_line_ids (source_line_id bigint)")
        buffer = io.BytesIO()
        pacsv.write_csv(ids, buffer, pacsv.WriteOptions(include_header=False))
        buffer.seek(0)
        cur.copy_expert("copy batch_line_ids from stdin with (format csv)", buffer)
        cur.execute(query)
        return {p for (p,) in cur.fetchall()}


def _spec(domain: Domain):
    from load.formats import load_spec

    return load_spec(domain.fusion.release, domain.fusion.object)


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _has_load_ids(warehouse: Warehouse, schema: str, table: str) -> bool:
    rows = warehouse.query(
        "select count(*) from information_schema.columns "
        "where table_schema = %s and table_name = %s and column_name = '_dlt_load_id'",
        (schema, table),
    )
    return bool(rows[0][0])

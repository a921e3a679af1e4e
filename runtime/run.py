"""One domain run: extract -> dbt build (with tests) -> export the marts -> record disclosures.

A run holds its domain's lock, is recorded in the run ledger and leaves its metrics behind,
whatever its outcome. Every step is idempotent: files already landed are skipped by the dlt
cursor, dbt rebuilds from the raw layer, feed days not yet in the outbox are exported (so a
killed run resumes), and a day already exported is re-exported only on request, where it must
reproduce the recorded bytes exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from extract.pipeline import run_extract
from load.formats import load_spec
from load.fusion_client import client_for_tenant, fusion_url
from load.manifest import BatchConflictError
from load.submit import SubmitResult, submit_pending
from runtime import exit_codes, metrics
from runtime.config import Config, ConfigError, Domain, Stream, Tenant
from runtime.dbt import DbtOutcome, run_dbt
from runtime.disclosures import record_phi_access
from runtime.endpoints import files_location, has_endpoint
from runtime.export import ExportedBatch, batch_feed_days, export_feed_days
from runtime.http import metrics_observer
from runtime.locks import domain_lock
from runtime.phi import KEY_VERSION_ENV, MODE_ENV, tenant_key, tenant_key_version
from runtime.run_ledger import RunLedger
from runtime.warehouse import Warehouse

Progress = Callable[[str], None]
FUSION_ENDPOINT = "fusion"


@dataclass
class RunResult:
    """What one domain run did, in counts, statuses and paths (never row values)."""

    tenant: str
    stream: str
    domain: str
    warehouse: str
    run_id: str = ""
    status: str = "ok"
    rows_extracted: int = 0
    files_loaded: list[str] = field(default_factory=list)
    files_skipped: int = 0
    dead_letters: list[dict] = field(default_factory=list)
    dbt: DbtOutcome | None = None
    exceptions_by_reason: dict[str, int] = field(default_factory=dict)
    reconciliation: dict = field(default_factory=dict)
    batches: list[ExportedBatch] = field(default_factory=list)
    submission: SubmitResult | None = None
    outbox: str = ""
    dead_letter_dir: str = ""
    message: str = ""
    disclosures: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def lines_exported(self) -> int:
        return sum(b.lines for b in self.batches)

    @property
    def exception_lines(self) -> int:
        return sum(self.exceptions_by_reason.values())


@dataclass(frozen=True)
class DomainPaths:
    """Where one tenant/stream/domain keeps its state and its output."""

    work: Path
    dbt_work: Path
    outbox: Path
    dead_letter: Path

    @classmethod
    def of(cls, config: Config, tenant: str, stream: str, domain: str) -> DomainPaths:
        scope = Path(tenant) / stream / domain
        return cls(
            work=config.work_dir / scope,
            dbt_work=config.work_dir / tenant / "dbt",
            outbox=config.outbox_dir / scope,
            dead_letter=config.dead_letter_dir / scope,
        )


def dbt_environment(warehouse: Warehouse, domain: Domain, phi_key: str) -> dict[str, str]:
    """Everything dbt reads for one domain: the connection, the PHI mode with the key's version,
    and the Fusion target."""
    target = domain.fusion
    return warehouse.dbt_env(phi_key) | {
        MODE_ENV: domain.phi_mode,
        KEY_VERSION_ENV: tenant_key_version(warehouse.tenant),
        "EHRFUSION_LEDGER_ID": str(target.ledger_id),
        "EHRFUSION_LEDGER_NAME": target.ledger_name,
        "EHRFUSION_JOURNAL_SOURCE": target.journal_source,
        "EHRFUSION_JOURNAL_CATEGORY": target.journal_category,
    }


def run_domain(
    config: Config,
    tenant_name: str,
    stream_name: str,
    domain_name: str,
    warehouse_override: str | None = None,
    feed_days: list[date] | None = None,
    phi_key: str | None = None,
    progress: Progress = lambda _: None,
    submit_only: bool = False,
) -> RunResult:
    """Run one domain end to end. `feed_days` re-exports those days instead of the new ones;
    `phi_key` defaults to the tenant's configured key; `submit_only` only submits batches the
    outbox holds that Fusion has not had yet."""
    tenant, stream, domain = config.domain(tenant_name, stream_name, domain_name)
    _check_enabled(tenant, stream, domain)
    warehouse = Warehouse.for_tenant(tenant, warehouse_override)
    phi_key = phi_key or tenant_key(tenant.name)
    drop_dir = None if submit_only else files_location(tenant, domain.endpoint)
    paths = DomainPaths.of(config, tenant.name, stream.name, domain.name)
    result = RunResult(
        tenant=tenant.name,
        stream=stream.name,
        domain=domain.name,
        warehouse=warehouse.label,
        outbox=str(paths.outbox),
        dead_letter_dir=str(paths.dead_letter),
    )
    with domain_lock(warehouse, stream.name, domain.name):
        ledger = RunLedger(warehouse)
        result.run_id = ledger.start(stream.name, domain.name)
        try:
            if not submit_only:
                _prepare(
                    result, warehouse, tenant, domain, phi_key, drop_dir, paths, feed_days, progress
                )
            if result.status in ("ok", "export_conflict"):
                _send(result, warehouse, tenant, domain, paths, progress)
        except BaseException as exc:
            code = exit_codes.CONFIG_ERROR if isinstance(exc, ConfigError) else exit_codes.FAILED
            ledger.finish(result.run_id, "failed", code, message=type(exc).__name__)
            result.status = "failed"
            metrics.record_run(config, result, datetime.now(UTC))
            raise
        ledger.finish(
            result.run_id,
            result.status,
            exit_codes.BY_STATUS[result.status],
            rows_extracted=result.rows_extracted,
            lines_exported=result.lines_exported,
            exception_lines=result.exception_lines,
            dead_letters=len(result.dead_letters),
            message=result.status,
        )
    metrics.record_run(config, result, datetime.now(UTC))
    return result


def _prepare(
    result: RunResult,
    warehouse: Warehouse,
    tenant: Tenant,
    domain: Domain,
    phi_key: str,
    drop_dir: Path,
    paths: DomainPaths,
    feed_days: list[date] | None,
    progress: Progress,
) -> None:
    """Extract, transform (dbt with its checks) and export: everything before Fusion."""
    progress("extract: landing new feed files")
    clock = time.perf_counter()
    report = run_extract(
        warehouse,
        pipeline_name=f"{tenant.name}__{result.stream}__{domain.name}",
        location=drop_dir,
        dead_letter_dir=paths.dead_letter,
        pipelines_dir=paths.work / "dlt",
    )
    result.rows_extracted = report.rows
    result.files_loaded = report.files_loaded
    result.files_skipped = report.files_skipped
    result.dead_letters = report.dead_letters
    clock = _lap(result, "extract", clock)

    progress("transform: dbt build (models and tests)")
    result.dbt = run_dbt(
        "build",
        ["--selector", domain.source],
        dbt_environment(warehouse, domain, phi_key),
        paths.dbt_work,
    )
    clock = _lap(result, "transform", clock)
    if not result.dbt.success:
        result.status = "quality_gate_failed"
        result.message = "dbt build failed; nothing exported (see the failing checks)"
        return

    marts = warehouse.schema("marts")
    result.exceptions_by_reason = dict(
        warehouse.query(
            f"select exception_reason, count(*) from {marts}.exceptions__gl_journal_lines "
            "group by exception_reason order by exception_reason"
        )
    )
    result.reconciliation = _reconciliation(warehouse)

    if feed_days is None:
        done = set(batch_feed_days(paths.outbox).values())
        feed_days = [d for d in _landed_feed_days(warehouse) if d not in done]
    progress(f"export: {len(feed_days)} feed day(s) to FBDI")
    try:
        result.batches = export_feed_days(
            warehouse, tenant.name, result.stream, domain, feed_days, paths.outbox
        )
    except BatchConflictError as exc:
        result.status = "export_conflict"
        result.message = str(exc)
    _lap(result, "export", clock)


def _send(
    result: RunResult,
    warehouse: Warehouse,
    tenant: Tenant,
    domain: Domain,
    paths: DomainPaths,
    progress: Progress,
) -> None:
    """Submit to Fusion when the tenant has one, then record what was read and disclosed.

    Without a Fusion endpoint the outbox is the hand-over point (files collected from it), so
    the batches exported for the first time count as sent.
    """
    clock = time.perf_counter()
    if has_endpoint(tenant, FUSION_ENDPOINT):
        progress("submit: uploading batches to Fusion and following the import jobs")
        client = client_for_tenant(
            tenant.name,
            fusion_url(tenant, FUSION_ENDPOINT),
            observer=metrics_observer(tenant.name, result.stream, domain.name),
        )
        spec = load_spec(domain.fusion.release, domain.fusion.object)
        result.submission = submit_pending(
            warehouse, tenant.name, result.stream, domain, paths.outbox, client, spec, progress
        )
        days = batch_feed_days(paths.outbox)
        sent = {
            b.batch_id: days[b.batch_id]
            for b in result.submission.batches
            if b.request_id or b.status == "already_posted"
        }
        if result.submission.open_batches and result.status == "ok":
            result.status = "submit_incomplete"
            result.message = (
                f"{len(result.submission.open_batches)} batch(es) not finished in Fusion yet; "
                "the next run follows them up"
            )
        clock = _lap(result, "submit", clock)
    else:
        sent = {b.batch_id: b.feed_date for b in result.batches if not b.reexport and b.lines}
    progress("audit: recording PHI reads and disclosures")
    result.disclosures = record_phi_access(
        warehouse, tenant, domain, result.run_id, result.files_loaded, sent
    )
    _lap(result, "audit", clock)


def _lap(result: RunResult, step: str, since: float) -> float:
    now = time.perf_counter()
    result.seconds[step] = round(now - since, 3)
    return now


def _check_enabled(tenant: Tenant, stream: Stream, domain: Domain) -> None:
    if not domain.enabled:
        raise ConfigError(
            f"tenants.{tenant.name}.streams.{stream.name}.domains.{domain.name}.enabled",
            "the domain is disabled; set enabled: true to run it",
        )


def _landed_feed_days(warehouse: Warehouse) -> list[date]:
    lines = f"{warehouse.schema('intermediate')}.int_journal_lines_validated"
    rows = warehouse.query(f"select distinct feed_date from {lines} order by 1")
    return [_as_date(r[0]) for r in rows]


def _reconciliation(warehouse: Warehouse) -> dict:
    marts = warehouse.schema("marts")
    rows = warehouse.query(
        "select count(*), sum(case when status = 'reconciled' then 1 else 0 end), "
        "sum(source_lines), sum(exported_lines), sum(exception_lines), "
        f"sum(source_debit), sum(exported_debit), sum(exception_debit) "
        f"from {marts}.recon__gl_journal_daily"
    )
    days, reconciled, src, exp, exc, src_dr, exp_dr, exc_dr = rows[0]
    return {
        "status": "reconciled" if days and days == reconciled else "drift",
        "feed_days": int(days or 0),
        "feed_days_reconciled": int(reconciled or 0),
        "source_lines": int(src or 0),
        "exported_lines": int(exp or 0),
        "exception_lines": int(exc or 0),
        "source_debit": str(src_dr or 0),
        "exported_debit": str(exp_dr or 0),
        "exception_debit": str(exc_dr or 0),
    }


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))

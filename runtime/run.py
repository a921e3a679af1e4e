"""One domain run: settle -> extract -> dbt build (with tests) -> export -> submit -> disclosures.

A run holds its domain's lock, is recorded in the run ledger and leaves its metrics behind,
whatever its outcome. It first settles what earlier runs left open in Fusion: corrections are
computed against what posted, so nothing new is exported while an earlier batch is unfinished.
Every step is idempotent: files already landed are skipped by the dlt cursor, dbt rebuilds from
the raw layer, delivery days not yet in the outbox are exported (so a killed run resumes), and
a day already exported is re-exported only on request, where it must reproduce the recorded
bytes exactly.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from extract.pipeline import Landing, LandingJob, land
from load.formats import FormatSpec, load_spec
from load.fusion_client import FusionClient, client_for_tenant, fusion_url
from load.manifest import BatchConflictError, read_chain
from load.record_submit import (
    accepted_records,
    read_record_batch,
    record_batches,
    submit_record_batches,
)
from load.submit import SubmitResult, read_batch, submit_pending
from runtime import catalog, exit_codes, metrics
from runtime.config import Config, ConfigError, Domain, Stream, Tenant
from runtime.dbt import DbtOutcome, run_dbt
from runtime.disclosures import record_landed_reads, record_phi_access
from runtime.endpoints import has_endpoint
from runtime.export import ExportedBatch, batch_feed_days, export_feed_days, mart_rows_query
from runtime.gl_models import GlChain
from runtime.locks import domain_lock
from runtime.metrics import metrics_observer
from runtime.phi import KEY_VERSION_ENV, MODE_ENV, tenant_key, tenant_key_version
from runtime.posting import HANDED_OVER, Posting
from runtime.record_export import export_records
from runtime.reference import build_with_reference_data
from runtime.run_ledger import RunLedger
from runtime.targets import dbt_selection, is_record_target, target_of
from runtime.warehouse import Warehouse

Progress = Callable[[str], None]
FUSION_ENDPOINT = "fusion"
# A test runs only when every model it reads is built in this domain (a check that also reads a
# shared model, e.g. the restricted map, stays with its mart).
CAUTIOUS = ["--indirect-selection", "cautious"]
LANDINGS = "landings.jsonl"  # per domain work folder: one manifest line per extract


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
    extract_details: dict = field(default_factory=dict)  # cursors, tables, control totals
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


# The Fusion target settings dbt reads, by environment variable (empty where the domain's
# object takes none: dbt parses every model whatever it builds).
TARGET_SETTINGS_ENV = {
    "EHRFUSION_LEDGER_ID": "ledger_id",
    "EHRFUSION_LEDGER_NAME": "ledger_name",
    "EHRFUSION_JOURNAL_SOURCE": "journal_source",
    "EHRFUSION_JOURNAL_CATEGORY": "journal_category",
    "EHRFUSION_BUSINESS_UNIT": "business_unit",
    "EHRFUSION_INV_SOURCE_CODE": "source_code",
    "EHRFUSION_ASSET_BOOK": "book_type_code",
    "EHRFUSION_FEEDER_SYSTEM": "feeder_system_name",
    "EHRFUSION_SOURCE_SYSTEM_OWNER": "source_system_owner",
    "EHRFUSION_LEGAL_EMPLOYER": "legal_employer_name",
}


def dbt_environment(
    warehouse: Warehouse, stream: str, domain: Domain, phi_key: str
) -> dict[str, str]:
    """Everything dbt reads for one domain: the connection, the stream and domain (whose posted
    state corrections compare with), the PHI mode with the key's version, and the Fusion
    target's settings."""
    settings = {
        env: getattr(domain.fusion, name, None) if domain.fusion else None
        for env, name in TARGET_SETTINGS_ENV.items()
    }
    settings["EHRFUSION_LEDGER_ID"] = settings["EHRFUSION_LEDGER_ID"] or 0
    return (
        warehouse.dbt_env(phi_key)
        | {
            "EHRFUSION_STREAM": stream,
            "EHRFUSION_DOMAIN": domain.name,
            MODE_ENV: domain.phi_mode,
            KEY_VERSION_ENV: tenant_key_version(warehouse.tenant),
        }
        | {env: "" if value is None else str(value) for env, value in settings.items()}
        | catalog.journal_environment(domain.source)
    )


@dataclass(frozen=True)
class DomainContext:
    """One tenant/stream/domain with everything its steps need."""

    config: Config
    tenant: Tenant
    stream: Stream
    domain: Domain
    warehouse: Warehouse
    paths: DomainPaths
    phi_key: str
    progress: Progress

    @classmethod
    def open(
        cls,
        config: Config,
        tenant_name: str,
        stream_name: str,
        domain_name: str,
        warehouse_override: str | None = None,
        phi_key: str | None = None,
        progress: Progress = lambda _: None,
    ) -> DomainContext:
        tenant, stream, domain = config.domain(tenant_name, stream_name, domain_name)
        _check_enabled(tenant, stream, domain)
        return cls(
            config=config,
            tenant=tenant,
            stream=stream,
            domain=domain,
            warehouse=Warehouse.for_tenant(tenant, warehouse_override),
            paths=DomainPaths.of(config, tenant.name, stream.name, domain.name),
            phi_key=phi_key or tenant_key(tenant.name),
            progress=progress,
        )

    def new_result(self) -> RunResult:
        return RunResult(
            tenant=self.tenant.name,
            stream=self.stream.name,
            domain=self.domain.name,
            warehouse=self.warehouse.label,
            outbox=str(self.paths.outbox),
            dead_letter_dir=str(self.paths.dead_letter),
        )


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
    expect_plan: str | None = None,
) -> RunResult:
    """Run one domain end to end. `feed_days` re-exports those days instead of the new ones;
    `phi_key` defaults to the tenant's configured key; `submit_only` only submits batches the
    outbox holds that Fusion has not had yet; `expect_plan` (a plan fingerprint from
    `ehrfusion plan`) exports nothing unless the run would post exactly that plan."""
    ctx = DomainContext.open(
        config, tenant_name, stream_name, domain_name, warehouse_override, phi_key, progress
    )
    result = ctx.new_result()
    with domain_lock(ctx.warehouse, ctx.stream.name, ctx.domain.name):
        ledger = RunLedger(ctx.warehouse)
        result.run_id = ledger.start(ctx.stream.name, ctx.domain.name)
        try:
            _run_steps(ctx, result, feed_days, submit_only, expect_plan)
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


def _run_steps(
    ctx: DomainContext,
    result: RunResult,
    feed_days: list[date] | None,
    submit_only: bool,
    expect_plan: str | None,
) -> None:
    if ctx.domain.fusion is None:
        land_and_build(ctx, result)  # a landing domain: its data is modelled, nothing exported
        return
    fusion = _fusion_client(ctx)
    if fusion is not None and not submit_only:
        _settle(ctx, result, fusion)
    if result.status == "ok" and not submit_only:
        _prepare(ctx, result, feed_days, expect_plan)
    if result.status in ("ok", "export_conflict"):
        _send(ctx, result, fusion)
    # record objects carry no patient data: their extract's reads are logged as they land
    if result.status not in ("quality_gate_failed", "plan_changed") and not _records(ctx):
        ctx.progress("audit: recording PHI reads and disclosures")
        _record_disclosures(ctx, result)


def _records(ctx: DomainContext) -> bool:
    return is_record_target(ctx.domain)


def _prepare(
    ctx: DomainContext, result: RunResult, feed_days: list[date] | None, expect_plan: str | None
) -> None:
    """Land, build and export: everything before Fusion."""
    if _records(ctx):
        _prepare_records(ctx, result, feed_days, expect_plan)
        return
    if _delivered_today(ctx):
        result.message = (
            f"today's delivery from {ctx.domain.source} is exported; the next lands tomorrow "
            "(its rows are batched by the day they land)"
        )
        return
    if not land_and_build(ctx, result):
        return
    days = feed_days if feed_days is not None else pending_days(ctx)
    if expect_plan is not None and plan_fingerprint(ctx, days) != expect_plan:
        result.status = "plan_changed"
        result.message = (
            "the run would post something other than the expected plan (the source, the "
            "crosswalks or Fusion's posted state changed since); nothing exported: run "
            "`ehrfusion plan` again and review it"
        )
        return
    _export(ctx, result, days)


def _prepare_records(
    ctx: DomainContext, result: RunResult, feed_days: list[date] | None, expect_plan: str | None
) -> None:
    """A record domain sends, each run, the records whose values Fusion does not hold yet, as
    one new batch; batches already in the outbox are resubmitted as they are, never rebuilt."""
    for option, given in (("--feed-day", feed_days), ("--expect-plan", expect_plan)):
        if given is not None:
            raise ConfigError(option, f"{ctx.domain.fusion.object} domains take no {option}")
    if not land_and_build(ctx, result):
        return
    clock = time.perf_counter()
    ctx.progress("export: the records Fusion does not hold yet")
    result.batches = export_records(
        ctx.warehouse, ctx.tenant.name, ctx.stream.name, ctx.domain, ctx.paths.outbox
    )
    _lap(result, "export", clock)


def land_and_build(ctx: DomainContext, result: RunResult) -> bool:
    """Extract the source's new data and build the domain's models with their checks; False
    when a check failed or the extract stopped early (the run's status says so and nothing
    may be exported)."""
    ctx.progress(f"extract: landing new data from {ctx.domain.source}")
    clock, started = time.perf_counter(), time.time()
    landing = land(
        LandingJob(
            ctx.warehouse,
            ctx.tenant,
            ctx.domain,
            pipeline_name=f"{ctx.tenant.name}__{ctx.stream.name}__{ctx.domain.name}",
            dead_letter_dir=ctx.paths.dead_letter,
            pipelines_dir=ctx.paths.work / "dlt",
            observer=metrics_observer(ctx.tenant.name, ctx.stream.name, ctx.domain.name),
            tables=target_of(ctx.domain).tables,
        )
    )
    result.rows_extracted = landing.rows
    result.extract_details = landing.details
    result.files_loaded = landing.files_loaded
    result.files_skipped = landing.files_skipped
    result.dead_letters = landing.dead_letters
    _record_landing(ctx, result, landing)
    waited = landing.details.get("rate_limit_wait_seconds")
    if waited:
        metrics.rate_limit_wait(ctx.tenant.name, ctx.stream.name, ctx.domain.name, waited)
    if catalog.source(ctx.domain.source).patients:
        result.disclosures = record_landed_reads(
            ctx.warehouse, ctx.tenant, ctx.domain, result.run_id, started, ctx.phi_key
        )
    clock = _lap(result, "extract", clock)

    ctx.progress("transform: dbt build (models and tests)")
    Posting(ctx.warehouse).ensure()
    env = dbt_environment(ctx.warehouse, ctx.stream.name, ctx.domain, ctx.phi_key)
    fusion_object = ctx.domain.fusion.object if ctx.domain.fusion else "landing"
    result.dbt = build_with_reference_data(
        ctx.warehouse,
        f"{ctx.domain.source}:{fusion_object}",
        ctx.config.dbt_project_dir,
        lambda seeds: run_dbt(
            "build",
            [*dbt_selection(ctx.domain), *seeds, *CAUTIOUS],
            env,
            ctx.paths.dbt_work,
            ctx.config.dbt_project_dir,
        ),
    )
    _lap(result, "transform", clock)
    if not result.dbt.success:
        result.status = "quality_gate_failed"
        result.message = "dbt build failed; nothing exported (see the failing checks)"
        return False
    if not landing.complete:
        result.status = "extract_incomplete"
        result.message = (
            "the source stopped before the end of its changes (see the extract details); what "
            "landed is modelled, the next run resumes from the cursor"
        )
        return False
    if ctx.domain.fusion is None:
        return True
    if _records(ctx):
        result.exceptions_by_reason = _exceptions_by_reason(
            ctx.warehouse, target_of(ctx.domain).exceptions
        )
        return True
    chain = _chain(ctx)
    result.exceptions_by_reason = dict(
        ctx.warehouse.query(
            "select exception_reason, count(*) from "
            f"{chain.rows(ctx.warehouse, 'exceptions', 'held')} "
            "group by exception_reason order by exception_reason"
        )
    )
    result.reconciliation = _reconciliation(ctx.warehouse, chain)
    return True


def _record_landing(ctx: DomainContext, result: RunResult, landing: Landing) -> None:
    """Append the extract's manifest (rows, completeness, per table or stream the cursor from
    and to and control totals; never row values) to the domain's landing log."""
    path = ctx.paths.work / LANDINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "run_id": result.run_id,
        "landed_at": datetime.now(UTC).isoformat(),
        "source": ctx.domain.source,
        "rows": landing.rows,
        "complete": landing.complete,
        "files": landing.files_loaded,
        "dead_letters": landing.dead_letters,
        "details": landing.details,
    }
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry, sort_keys=True, default=str) + "\n")


def _delivered_today(ctx: DomainContext) -> bool:
    """Whether a source batched by landing day already exported today's batch (UTC): a line's
    version must land in exactly one batch, so such a source lands once a day."""
    if not catalog.source(ctx.domain.source).batched_by_landing_day:
        return False
    return datetime.now(UTC).date() in set(batch_feed_days(ctx.paths.outbox).values())


def _exceptions_by_reason(warehouse: Warehouse, mart: str) -> dict[str, int]:
    rows = warehouse.query(
        f"select exception_reason, count(*) from {warehouse.schema('marts')}.{mart} "
        "group by exception_reason order by exception_reason"
    )
    return {reason: int(count) for reason, count in rows}


def pending_days(ctx: DomainContext) -> list[date]:
    """Delivery days the mart has batches for that the outbox does not hold yet."""
    done = set(batch_feed_days(ctx.paths.outbox).values())
    lines = _chain(ctx).rows(ctx.warehouse, "validated", "lines")
    rows = ctx.warehouse.query(f"select distinct batch_date from {lines} order by 1")
    return [day for day in (_as_date(r[0]) for r in rows) if day not in done]


def plan_fingerprint(ctx: DomainContext, days: list[date]) -> str:
    """SHA-256 over the mart rows of `days` in export order: what those batches would post."""
    digest = hashlib.sha256()
    with ctx.warehouse.connect() as con:
        rows = mart_rows_query(ctx.warehouse, ctx.stream.name, ctx.domain, days)
        for chunk in ctx.warehouse.stream_arrow(con, rows):
            for row in chunk.to_pylist():
                digest.update(repr(sorted(row.items())).encode())
    return digest.hexdigest()


def _export(ctx: DomainContext, result: RunResult, days: list[date]) -> None:
    clock = time.perf_counter()
    ctx.progress(f"export: {len(days)} delivery day(s) to FBDI")
    try:
        result.batches = export_feed_days(
            ctx.warehouse, ctx.tenant.name, ctx.stream.name, ctx.domain, days, ctx.paths.outbox
        )
    except BatchConflictError as exc:
        result.status = "export_conflict"
        result.message = str(exc)
    _lap(result, "export", clock)


def _fusion_client(ctx: DomainContext) -> FusionClient | None:
    """The tenant's Fusion client, or None where the outbox is the hand-over point."""
    if not has_endpoint(ctx.tenant, FUSION_ENDPOINT):
        return None
    return client_for_tenant(
        ctx.tenant.name,
        fusion_url(ctx.tenant, FUSION_ENDPOINT),
        observer=metrics_observer(ctx.tenant.name, ctx.stream.name, ctx.domain.name),
    )


def _settle(ctx: DomainContext, result: RunResult, client: FusionClient) -> None:
    """Finish what earlier runs left open in Fusion before computing anything new."""
    ctx.progress("settle: following up batches earlier runs left open")
    _submit(ctx, result, client)
    if result.submission.open_batches:
        result.status = "submit_incomplete"
        result.message = (
            f"{len(result.submission.open_batches)} earlier batch(es) not finished in Fusion; "
            "nothing new is exported until they are, so corrections are computed against "
            "what posted"
        )


def _send(ctx: DomainContext, result: RunResult, client: FusionClient | None) -> None:
    """Submit to Fusion when the tenant has one. Without a Fusion endpoint the outbox is the
    hand-over point (files collected from it): batches exported for the first time are
    recorded as handed over, the posted state later corrections are computed against."""
    clock = time.perf_counter()
    if client is None:
        _hand_over(ctx, result)
        return
    ctx.progress("submit: uploading batches to Fusion and following the import jobs")
    _submit(ctx, result, client)
    if result.submission.open_batches and result.status == "ok":
        result.status = "submit_incomplete"
        result.message = (
            f"{len(result.submission.open_batches)} batch(es) not finished in Fusion yet; "
            "the next run follows them up"
        )
    _lap(result, "submit", clock)


def _submit(ctx: DomainContext, result: RunResult, client: FusionClient) -> None:
    """Submit the outbox's pending batches; outcomes add to the run's submission result."""
    submit = submit_record_batches if _records(ctx) else submit_pending
    submitted = submit(
        ctx.warehouse,
        ctx.tenant.name,
        ctx.stream.name,
        ctx.domain,
        ctx.paths.outbox,
        client,
        _spec(ctx),
        ctx.progress,
    )
    if result.submission is None:
        result.submission = submitted
    else:
        result.submission.batches += submitted.batches


def _hand_over(ctx: DomainContext, result: RunResult) -> None:
    if _records(ctx):
        _hand_over_records(ctx)
        return
    posting = Posting(ctx.warehouse)
    manifests = {e.batch_id: e.manifest for e in read_chain(ctx.paths.outbox)}
    for batch in result.batches:
        if batch.reexport or not batch.lines or posting.submission(batch.batch_id):
            continue
        manifest = json.loads((ctx.paths.outbox / manifests[batch.batch_id]).read_text("utf-8"))
        lines = read_batch(ctx.paths.outbox, manifest, _spec(ctx))
        posting.start(batch.batch_id, ctx.stream.name, ctx.domain.name, lines.group_id, batch.lines)
        posting.finish(
            batch.batch_id,
            HANDED_OVER,
            None,
            lines.lines,
            [],
            "collected from the outbox (no Fusion endpoint)",
            lines.batch_date,
        )


def _hand_over_records(ctx: DomainContext) -> None:
    """Record every batch of the outbox not handed over yet (a run killed after its export
    leaves one) as accepted: the state the next run's records compare with."""
    posting = Posting(ctx.warehouse)
    for batch_id, manifest in record_batches(ctx.paths.outbox):
        if posting.submission(batch_id) is not None:
            continue
        batch = read_record_batch(ctx.paths.outbox, manifest)
        posting.start(batch_id, ctx.stream.name, ctx.domain.name, "", len(batch.record_keys))
        posting.finish_records(
            batch_id,
            HANDED_OVER,
            None,
            accepted_records(batch, set()),
            [],
            "collected from the outbox (no Fusion endpoint)",
            batch.batch_date,
        )


def _record_disclosures(ctx: DomainContext, result: RunResult) -> None:
    """Record what the run read and what it sent (uploaded, or handed over via the outbox)."""
    clock = time.perf_counter()
    if result.submission is not None:
        days = batch_feed_days(ctx.paths.outbox)
        sent = {
            b.batch_id: days[b.batch_id]
            for b in result.submission.batches
            if b.request_id or b.status == "already_posted"
        }
    else:
        sent = {b.batch_id: b.feed_date for b in result.batches if not b.reexport and b.lines}
    result.disclosures = record_phi_access(
        ctx.warehouse,
        ctx.tenant,
        ctx.stream.name,
        ctx.domain,
        result.run_id,
        result.files_loaded,
        sent,
    )
    _lap(result, "audit", clock)


def _spec(ctx: DomainContext) -> FormatSpec:
    return load_spec(ctx.domain.fusion.release, ctx.domain.fusion.object)


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


def _chain(ctx: DomainContext) -> GlChain:
    return GlChain(ctx.stream.name, ctx.domain.name)


def _reconciliation(warehouse: Warehouse, chain: GlChain) -> dict:
    rows = warehouse.query(
        "select count(*), sum(case when status = 'reconciled' then 1 else 0 end), "
        "sum(source_lines), sum(exported_lines), sum(exception_lines), "
        "sum(source_debit), sum(posted_debit), sum(exported_debit), sum(exception_debit) "
        f"from {chain.rows(warehouse, 'recon', 'recon')}"
    )
    days, reconciled, src, exp, exc, src_dr, posted_dr, exp_dr, exc_dr = rows[0]
    return {
        "status": "reconciled" if days and days == reconciled else "drift",
        "feed_days": int(days or 0),
        "feed_days_reconciled": int(reconciled or 0),
        "source_lines": int(src or 0),
        "exported_lines": int(exp or 0),
        "exception_lines": int(exc or 0),
        "source_debit": str(src_dr or 0),
        "posted_before_debit": str(posted_dr or 0),
        "exported_debit": str(exp_dr or 0),
        "exception_debit": str(exc_dr or 0),
    }


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))

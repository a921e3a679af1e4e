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

import json
import time
from datetime import UTC, date, datetime

from extract.pipeline import Landing, LandingJob, land
from load.fusion_client import FusionClient
from load.outbox import Outbox
from runtime.core import catalog, exit_codes
from runtime.core.config import Config, ConfigError, Domain
from runtime.core.phi import KEY_VERSION_ENV, MODE_ENV, tenant_key_version
from runtime.core.phi_keys import check_key_version
from runtime.core.targets import dbt_selection, target_of
from runtime.core.warehouse import Warehouse
from runtime.observability import metrics
from runtime.observability.metrics import metrics_observer
from runtime.pipeline.build_inputs import BuildInputs, build_fingerprint, ops_fingerprint
from runtime.pipeline.check_results import keep_check_results
from runtime.pipeline.dbt import run_dbt
from runtime.pipeline.delivery.kinds import delivery_for
from runtime.pipeline.delivery.protocol import Delivery
from runtime.pipeline.disclosures import record_landed_reads
from runtime.pipeline.domain import DomainContext, Progress, RunResult
from runtime.pipeline.locks import domain_lock
from runtime.pipeline.posting import Posting
from runtime.pipeline.reference import build_with_reference_data
from runtime.pipeline.run_ledger import RunLedger

# A test runs only when every model it reads is built in this domain (a check that also reads a
# shared model, e.g. the restricted map, stays with its mart).
CAUTIOUS = ["--indirect-selection", "cautious"]
LANDINGS = "landings.jsonl"  # per domain work folder: one manifest line per extract


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
        | catalog.contribution_environment(domain.source)
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
    check_key_version(ctx.warehouse, ctx.phi_key, tenant_key_version(ctx.tenant.name))
    # What a process that died left unrecorded in the accounting of disclosures comes first.
    result.disclosures += _record_reads(ctx, result)
    if ctx.domain.fusion is None:
        land_and_build(ctx, result)  # a landing domain: its data is modelled, nothing exported
        return
    delivery = delivery_for(ctx.domain)
    delivery.check_options(ctx, feed_days, expect_plan)
    outbox = Outbox(ctx.paths.outbox)
    result.disclosures += delivery.disclose(ctx, outbox, result)
    fusion = ctx.fusion_client()
    if fusion is not None and not submit_only:
        _settle(ctx, result, delivery, outbox, fusion)
    if result.status == "ok" and not submit_only:
        _prepare(ctx, result, delivery, outbox, feed_days, expect_plan)
    if result.status in ("ok", "export_conflict"):
        _send(ctx, result, delivery, outbox, fusion)
    if result.status == "ok" and result.dbt is not None and result.dbt.success:
        _keep_build_after_own_postings(ctx, delivery)
    ctx.progress("audit: recording the disclosures of the batches sent")
    clock = time.perf_counter()
    result.disclosures += delivery.disclose(ctx, outbox, result)
    _lap(result, "audit", clock)


def _keep_build_after_own_postings(ctx: DomainContext, delivery: Delivery) -> None:
    """A delivery whose built rows do not depend on what posted from its own batches lets the
    next run with nothing new reuse this run's build (runtime/pipeline/build_inputs.py)."""
    if getattr(delivery, "builds_unchanged_by_own_postings", False):
        ops = ops_fingerprint(ctx.warehouse, ctx.stream.name, ctx.domain.name)
        BuildInputs(ctx.paths.work).record_ops(ops)


def _prepare(
    ctx: DomainContext,
    result: RunResult,
    delivery: Delivery,
    outbox: Outbox,
    feed_days: list[date] | None,
    expect_plan: str | None,
) -> None:
    """Land, build and export: everything before Fusion."""
    waiting = delivery.waiting(ctx, outbox)
    if waiting:
        result.message = waiting
        return
    if not land_and_build(ctx, result):
        return
    delivery.summarize(ctx, result)
    clock = time.perf_counter()
    delivery.export(ctx, outbox, result, feed_days, expect_plan)
    _lap(result, "export", clock)


def land_and_build(ctx: DomainContext, result: RunResult) -> bool:
    """Extract the source's new data and build the domain's models with their checks; False
    when a check failed or the extract stopped early (the run's status says so and nothing
    may be exported)."""
    ctx.progress(f"extract: landing new data from {ctx.domain.source}")
    clock = time.perf_counter()
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
    result.files_unrecognised = landing.files_unrecognised
    result.dead_letters = landing.dead_letters
    _record_landing(ctx, result, landing)
    waited = landing.details.get("rate_limit_wait_seconds")
    if waited:
        metrics.rate_limit_wait(ctx.tenant.name, ctx.stream.name, ctx.domain.name, waited)
    result.disclosures += _record_reads(ctx, result)
    clock = _lap(result, "extract", clock)

    ctx.progress("transform: dbt build (models and tests)")
    Posting(ctx.warehouse).ensure()
    env = dbt_environment(ctx.warehouse, ctx.stream.name, ctx.domain, ctx.phi_key)
    inputs = BuildInputs(ctx.paths.work)
    build_print = build_fingerprint(
        ctx.warehouse, env, ctx.phi_key, ctx.config.dbt_project_dir, datetime.now(UTC).date()
    )
    ops_print = ops_fingerprint(ctx.warehouse, ctx.stream.name, ctx.domain.name)
    reused = inputs.unchanged(build_print, ops_print)
    if reused is not None:
        ctx.progress("transform: nothing new since the last build; its models and checks stand")
        result.dbt = reused
    else:
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
        if result.dbt.success:
            inputs.record(build_print, ops_print, result.dbt)
        else:
            inputs.forget()
    _lap(result, "transform", clock)
    keep_check_results(result.dbt, ctx.paths.work)  # the finance page shows every domain's
    if not result.dbt.success:
        result.status = "quality_gate_failed"
        cause = result.dbt.errors[0] if result.dbt.errors else "see the failing checks"
        result.message = f"dbt build failed ({cause}); nothing exported"
        return False
    if not landing.complete:
        result.status = "extract_incomplete"
        result.message = (
            "the source stopped before the end of its changes (see the extract details); what "
            "landed is modelled, the next run resumes from the cursor"
        )
        return False
    return True


def _record_reads(ctx: DomainContext, result: RunResult) -> int:
    """The `read` entries of every load of the domain's patient tables not accounted for yet."""
    return record_landed_reads(
        ctx.warehouse, ctx.tenant, ctx.stream.name, ctx.domain, result.run_id, ctx.phi_key
    )


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
        "files_unrecognised": landing.files_unrecognised,
        "dead_letters": landing.dead_letters,
        "details": landing.details,
    }
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry, sort_keys=True, default=str) + "\n")


def _settle(
    ctx: DomainContext, result: RunResult, delivery: Delivery, outbox: Outbox, client: FusionClient
) -> None:
    """Finish what earlier runs left open in Fusion before computing anything new."""
    ctx.progress("settle: following up batches earlier runs left open")
    _submit(ctx, result, delivery, outbox, client)
    if result.submission.open_batches:
        result.status = "submit_incomplete"
        result.message = (
            f"{len(result.submission.open_batches)} earlier batch(es) not finished in Fusion; "
            "nothing new is exported until they are, so corrections are computed against "
            "what posted"
        )


def _send(
    ctx: DomainContext,
    result: RunResult,
    delivery: Delivery,
    outbox: Outbox,
    client: FusionClient | None,
) -> None:
    """Submit to Fusion when the tenant has one. Without a Fusion endpoint the outbox is the
    hand-over point (files collected from it): every batch with lines not recorded yet is
    recorded as handed over, the state later deltas are computed against."""
    clock = time.perf_counter()
    if client is None:
        posting = Posting(ctx.warehouse)
        # one read of what was recorded, not one connection per batch of the outbox
        recorded = {
            row["batch_id"] for row in posting.submissions(ctx.stream.name, ctx.domain.name)
        }
        for batch in outbox.batches:
            if batch.lines and batch.batch_id not in recorded:
                delivery.hand_over(ctx, batch)
        return
    ctx.progress("submit: uploading batches to Fusion and following the import jobs")
    _submit(ctx, result, delivery, outbox, client)
    if result.submission.open_batches and result.status == "ok":
        result.status = "submit_incomplete"
        result.message = (
            f"{len(result.submission.open_batches)} batch(es) not finished in Fusion yet; "
            "the next run follows them up"
        )
    _lap(result, "submit", clock)


def _submit(
    ctx: DomainContext, result: RunResult, delivery: Delivery, outbox: Outbox, client: FusionClient
) -> None:
    """Submit the outbox's unsettled batches; outcomes add to the run's submission result."""
    submitted = delivery.submit(ctx, outbox, client)
    if result.submission is None:
        result.submission = submitted
    else:
        result.submission.batches += submitted.batches
    names = (ctx.tenant.name, ctx.stream.name, ctx.domain.name)
    if submitted.lines_rejected:
        metrics.lines_rejected(*names, submitted.lines_rejected)
    depth = Posting(ctx.warehouse).open_queue_depth(ctx.stream.name, ctx.domain.name)
    metrics.set_queue_depth(*names, depth)


def _lap(result: RunResult, step: str, since: float) -> float:
    now = time.perf_counter()
    result.seconds[step] = round(now - since, 3)
    return now

"""The delivery of GL journals: one batch per delivery day of the domain's GlInterface rows.

Days come out of the journal chain (runtime/core/gl_models.py) once the build passed; a day already
in the outbox is not exported again unless asked to, and then must reproduce its recorded
bytes. A run can be held to a plan (`ehrfusion plan` fingerprints what it would post). Lines
Fusion rejects wait in the operator queue until a reload re-sends them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime

from load.fusion_client import FusionClient
from load.manifest import BatchConflictError
from load.outbox import Outbox, OutboxBatch
from runtime.core import catalog
from runtime.core.gl_models import GlChain
from runtime.pipeline.delivery.batches import (
    BatchOutcome,
    ReloadRefused,
    ReloadResult,
    SubmitResult,
)
from runtime.pipeline.delivery.journal_export import export_feed_days, mart_rows_query
from runtime.pipeline.delivery.journal_reload import Reloader
from runtime.pipeline.delivery.journal_submit import AfterUpload, JournalSubmitter, read_batch
from runtime.pipeline.delivery.protocol import held_by_reason, submit_unsettled
from runtime.pipeline.disclosures import record_sent_batches, sent_scope
from runtime.pipeline.domain import DomainContext, RunResult
from runtime.pipeline.posting import HANDED_OVER, Posting


@dataclass(frozen=True)
class JournalDelivery:
    # Every journal model compares an entry with what posted in *earlier* batches, so posting
    # this run's batches leaves the build as it is (runtime/pipeline/build_inputs.py).
    builds_unchanged_by_own_postings = True
    job_timeout: float = 3600.0
    after_upload: AfterUpload | None = None  # a test seam: the process dying after an upload

    def check_options(
        self, ctx: DomainContext, feed_days: list[date] | None, expect_plan: str | None
    ) -> None:
        """Journals take both: re-exported days and an expected plan."""

    def waiting(self, ctx: DomainContext, outbox: Outbox) -> str | None:
        """A source batched by landing day lands once a day (UTC): a line's version must land
        in exactly one batch."""
        if not catalog.source(ctx.domain.source).batched_by_landing_day:
            return None
        if datetime.now(UTC).date() not in set(outbox.feed_days().values()):
            return None
        return (
            f"today's delivery from {ctx.domain.source} is exported; the next lands tomorrow "
            "(its rows are batched by the day they land)"
        )

    def summarize(self, ctx: DomainContext, result: RunResult) -> None:
        chain = _chain(ctx)
        held = chain.rows(ctx.warehouse, "exceptions", "held")
        result.exceptions_by_reason = held_by_reason(ctx, held)
        result.reconciliation = _reconciliation(ctx, chain)

    def export(
        self,
        ctx: DomainContext,
        outbox: Outbox,
        result: RunResult,
        feed_days: list[date] | None,
        expect_plan: str | None,
    ) -> None:
        days = feed_days if feed_days is not None else pending_days(ctx, outbox)
        if expect_plan is not None and plan_fingerprint(ctx, days) != expect_plan:
            result.status = "plan_changed"
            result.message = (
                "the run would post something other than the expected plan (the source, the "
                "crosswalks or Fusion's posted state changed since); nothing exported: run "
                "`ehrfusion plan` again and review it"
            )
            return
        ctx.progress(f"export: {len(days)} delivery day(s) to FBDI")
        try:
            result.batches = export_feed_days(
                ctx.warehouse, ctx.tenant.name, ctx.stream.name, ctx.domain, days, outbox, ctx.spec
            )
        except BatchConflictError as exc:
            result.status = "export_conflict"
            result.message = str(exc)

    def hand_over(self, ctx: DomainContext, batch: OutboxBatch) -> None:
        lines = read_batch(batch, ctx.spec)
        posting = Posting(ctx.warehouse)
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

    def submit(
        self,
        ctx: DomainContext,
        outbox: Outbox,
        client: FusionClient,
        only: Collection[str] | None = None,
    ) -> SubmitResult:
        posting = Posting(ctx.warehouse)
        submitter = JournalSubmitter(
            posting,
            client,
            ctx.spec,
            ctx.domain,
            ctx.stream.name,
            self.job_timeout,
            self.after_upload,
        )

        def submit_one(batch: OutboxBatch, existing: dict | None) -> BatchOutcome:
            ctx.progress(f"submit: {batch.batch_id} ({batch.lines} lines)")
            return submitter.submit(read_batch(batch, ctx.spec), existing)

        return submit_unsettled(ctx, outbox, posting, only, submit_one)

    def disclose(self, ctx: DomainContext, outbox: Outbox, result: RunResult) -> int:
        return record_sent_batches(
            ctx.warehouse,
            ctx.tenant,
            ctx.stream.name,
            ctx.domain,
            outbox,
            sent_scope(ctx.domain, result.run_id),
        )

    def reload(self, ctx: DomainContext, outbox: Outbox, batch_id: str) -> ReloadResult:
        client = ctx.fusion_client()
        if client is None:
            raise ReloadRefused(f"tenant {ctx.tenant.name} has no Fusion endpoint to reload into")
        reloader = Reloader(
            ctx, outbox, lambda batch: self.submit(ctx, outbox, client, only={batch}), batch_id
        )
        reloader.run()
        return reloader.result


def pending_days(ctx: DomainContext, outbox: Outbox) -> list[date]:
    """Delivery days the mart has batches for that the outbox does not hold yet."""
    done = set(outbox.feed_days().values())
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


def _chain(ctx: DomainContext) -> GlChain:
    return GlChain(ctx.stream.name, ctx.domain.name)


def _reconciliation(ctx: DomainContext, chain: GlChain) -> dict:
    rows = ctx.warehouse.query(
        "select count(*), sum(case when status = 'reconciled' then 1 else 0 end), "
        "sum(source_lines), sum(exported_lines), sum(exception_lines), "
        "sum(source_debit), sum(posted_debit), sum(exported_debit), sum(exception_debit) "
        f"from {chain.rows(ctx.warehouse, 'recon', 'recon')}"
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

"""The delivery of record objects (inventory transactions, mass additions, HDL workers): each
run sends, as one new batch, the records whose values Fusion does not hold yet.

Batches already in the outbox are resubmitted as they are, never rebuilt; what Fusion accepts
is recorded record by record (`<tenant>_ops.fusion_records`), so the next run's marts send
only what is still missing. A rejected record waits in the operator queue and goes again with
the next run once its cause is fixed: there is nothing to reload. Records carry no patient
data, so their delivery discloses none (the extract's reads are logged as they land).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from load.fusion_client import FusionClient
from load.outbox import Outbox, OutboxBatch
from runtime.core.config import ConfigError
from runtime.core.targets import record_rows, target_of
from runtime.pipeline.delivery.batches import (
    BatchOutcome,
    ReloadRefused,
    ReloadResult,
    SubmitResult,
)
from runtime.pipeline.delivery.protocol import held_by_reason, submit_unsettled
from runtime.pipeline.delivery.records_export import export_records
from runtime.pipeline.delivery.records_submit import (
    RecordSubmitter,
    accepted_records,
    read_record_batch,
)
from runtime.pipeline.domain import DomainContext, RunResult
from runtime.pipeline.posting import HANDED_OVER, Posting


@dataclass(frozen=True)
class RecordDelivery:
    job_timeout: float = 3600.0

    def check_options(
        self, ctx: DomainContext, feed_days: list[date] | None, expect_plan: str | None
    ) -> None:
        for option, given in (("--feed-day", feed_days), ("--expect-plan", expect_plan)):
            if given is not None:
                raise ConfigError(option, f"{ctx.domain.fusion.object} domains take no {option}")

    def waiting(self, ctx: DomainContext, outbox: Outbox) -> str | None:
        """A record domain may run any number of times a day: each run is a batch."""
        return None

    def summarize(self, ctx: DomainContext, result: RunResult) -> None:
        held = record_rows(
            ctx.warehouse,
            ctx.stream.name,
            ctx.domain.name,
            target_of(ctx.domain).exceptions,
            "held",
        )
        result.exceptions_by_reason = held_by_reason(ctx, held)

    def export(
        self,
        ctx: DomainContext,
        outbox: Outbox,
        result: RunResult,
        feed_days: list[date] | None,
        expect_plan: str | None,
    ) -> None:
        ctx.progress("export: the records Fusion does not hold yet")
        result.batches = export_records(
            ctx.warehouse, ctx.tenant.name, ctx.stream.name, ctx.domain, outbox
        )

    def hand_over(self, ctx: DomainContext, batch: OutboxBatch) -> None:
        records = read_record_batch(batch)
        posting = Posting(ctx.warehouse)
        posting.start(
            batch.batch_id, ctx.stream.name, ctx.domain.name, "", len(records.record_keys)
        )
        posting.finish_records(
            batch.batch_id,
            HANDED_OVER,
            None,
            accepted_records(records, set()),
            [],
            "collected from the outbox (no Fusion endpoint)",
            records.batch_date,
        )

    def submit(
        self,
        ctx: DomainContext,
        outbox: Outbox,
        client: FusionClient,
        only: Collection[str] | None = None,
    ) -> SubmitResult:
        posting = Posting(ctx.warehouse)
        submitter = RecordSubmitter(
            posting, client, ctx.spec, ctx.domain, ctx.stream.name, self.job_timeout
        )

        def submit_one(batch: OutboxBatch, existing: dict | None) -> BatchOutcome:
            records = read_record_batch(batch)
            ctx.progress(f"submit: {batch.batch_id} ({len(records.record_keys)} records)")
            return submitter.submit(records, existing)

        return submit_unsettled(ctx, outbox, posting, only, submit_one)

    def disclose(self, ctx: DomainContext, outbox: Outbox, result: RunResult) -> int:
        return 0

    def reload(self, ctx: DomainContext, outbox: Outbox, batch_id: str) -> ReloadResult:
        raise ReloadRefused(
            f"{ctx.domain.fusion.object} records Fusion rejected are sent again by the domain's "
            "next run once the cause is fixed (their queue items close when Fusion accepts them)"
        )

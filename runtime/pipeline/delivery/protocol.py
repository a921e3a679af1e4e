"""The one delivery protocol: the steps every Fusion object's batches go through.

A run (runtime/pipeline/run.py) drives a domain's delivery in this order, whatever the object:
1. settle: `submit` what earlier runs left open in Fusion, before anything new is computed;
2. `waiting`: whether the domain has nothing to do now (then it lands nothing);
3. after the build: `summarize` what the domain holds back (and how its days reconcile);
4. `export` what Fusion does not hold yet as new batches of the outbox;
5. send: `submit` to Fusion, or, where the outbox is the hand-over point, `hand_over` each
   batch not recorded yet;
6. `disclose` the batches that left (uploaded, found in Fusion, handed over) in the accounting
   of disclosures; also first thing in a run, for what a process that died left unrecorded.
`reload` re-sends what Fusion rejected from one batch once its cause is fixed.

Journal batches (journal.py) and record batches (records.py) implement it; the outbox
(load/outbox.py) is one object each step reads and the export adds to.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import date
from typing import Protocol

from load.fusion_client import FusionClient
from load.outbox import Outbox, OutboxBatch
from runtime.pipeline.delivery.batches import BatchOutcome, ReloadResult, SubmitResult
from runtime.pipeline.domain import DomainContext, RunResult
from runtime.pipeline.posting import TERMINAL, Posting


class Delivery(Protocol):
    def check_options(
        self, ctx: DomainContext, feed_days: list[date] | None, expect_plan: str | None
    ) -> None:
        """Refuse run options the object does not take (a ConfigError naming the option)."""

    def waiting(self, ctx: DomainContext, outbox: Outbox) -> str | None:
        """Why the domain lands and exports nothing now; None when it goes on."""

    def summarize(self, ctx: DomainContext, result: RunResult) -> None:
        """After a passing build: what the domain holds back, by reason, and how its days
        reconcile."""

    def export(
        self,
        ctx: DomainContext,
        outbox: Outbox,
        result: RunResult,
        feed_days: list[date] | None,
        expect_plan: str | None,
    ) -> None:
        """Write what Fusion does not hold yet as new batches (`result.batches`); a changed
        plan or a conflicting re-export sets the result's status instead."""

    def hand_over(self, ctx: DomainContext, batch: OutboxBatch) -> None:
        """Record a batch collected from the outbox (no Fusion endpoint) as handed over: the
        state the next run's deltas compare with."""

    def submit(
        self,
        ctx: DomainContext,
        outbox: Outbox,
        client: FusionClient,
        only: Collection[str] | None = None,
    ) -> SubmitResult:
        """Submit the outbox's batches without a terminal submission (or only those of
        `only`), in chain order, and follow each to its end in Fusion."""

    def disclose(self, ctx: DomainContext, outbox: Outbox, result: RunResult) -> int:
        """Record every batch of the domain that left and is not accounted for yet in the
        accounting of disclosures; returns the entries written."""

    def reload(self, ctx: DomainContext, outbox: Outbox, batch_id: str) -> ReloadResult:
        """Re-send what Fusion rejected from `batch_id` (ReloadRefused when the object has no
        reloads or the batch cannot be reloaded now)."""


def held_by_reason(ctx: DomainContext, held: str) -> dict[str, int]:
    """How many of the domain's held rows (`held`: a relation of its exceptions) each reason
    holds back, for the run's summary."""
    sql = f"select exception_reason, count(*) from {held} group by 1 order by 1"
    return {str(reason): int(count) for reason, count in ctx.warehouse.query(sql)}


def unsettled(
    outbox: Outbox, posting: Posting, only: Collection[str] | None = None
) -> Iterator[tuple[OutboxBatch, dict | None]]:
    """The outbox's batches with lines and no terminal submission, in chain order, each with
    its submission row (None: never started)."""
    for batch in outbox.batches:
        if only is not None and batch.batch_id not in only:
            continue
        existing = posting.submission(batch.batch_id)
        if batch.lines and (existing is None or existing["status"] not in TERMINAL):
            yield batch, existing


def submit_unsettled(
    ctx: DomainContext,
    outbox: Outbox,
    posting: Posting,
    only: Collection[str] | None,
    submit_one: Callable[[OutboxBatch, dict | None], BatchOutcome],
) -> SubmitResult:
    """Submit the unsettled batches in chain order, one at a time through `submit_one` (batch,
    its submission row), and collect their outcomes."""
    result = SubmitResult(ctx.tenant.name, ctx.stream.name, ctx.domain.name)
    for batch, existing in unsettled(outbox, posting, only):
        outcome = submit_one(batch, existing)
        ctx.progress(f"submit: {batch.batch_id} {outcome.status}")
        result.batches.append(outcome)
    return result

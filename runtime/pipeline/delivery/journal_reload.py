"""Reload the lines Fusion rejected from one batch, once their cause is fixed.

The operator fixes the cause (a crosswalk or source correction, then `ehrfusion run` rebuilds
the marts; or a change on the Fusion side such as re-enabling a segment combination) and
reloads the batch. The reload reads the current mart rows of exactly the batch's open queue
lines and exports them as a new batch `<batch>-r<n>` in the outbox chain, with its own
GROUP_ID (original GROUP_ID * 100 + n; Fusion imports by source and group id), then submits
it like any batch. Lines Fusion posts become `reloaded` in the queue; lines it rejects again
stay `open` with the new reason; journals the current mart still holds as exceptions are
reported and stay `open`. Journals travel whole: a journal is reloaded only when all of its
open lines are postable. A line Fusion already posted in this batch or one of its reloads is
never sent again (lines of a correction batch have earlier postings of their own).

Crash safety: a reload batch that was exported but not finished (process died, Fusion
unreachable) is resumed through the submitter's usual path before anything new is exported,
so a line never travels in two reload batches at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date

from load.outbox import Outbox, OutboxBatch
from runtime.core.gl_models import GL_INTERFACE, GlChain
from runtime.observability import metrics
from runtime.pipeline.delivery.batches import HeldLine, ReloadRefused, ReloadResult, SubmitResult
from runtime.pipeline.delivery.journal_export import export_source_lines
from runtime.pipeline.disclosures import record_sent_batches
from runtime.pipeline.domain import DomainContext
from runtime.pipeline.posting import TERMINAL, Posting

MAX_RELOADS = 99  # the reload number is the last two digits of the new GROUP_ID


class Reloader:
    """One reload of one batch of a GL domain, under the domain's lock."""

    def __init__(
        self,
        ctx: DomainContext,
        outbox: Outbox,
        submit: Callable[[str], SubmitResult],
        batch_id: str,
    ) -> None:
        self.ctx = ctx
        self.warehouse = ctx.warehouse
        self.tenant = ctx.tenant
        self.stream = ctx.stream.name
        self.domain = ctx.domain
        self.outbox = outbox
        self.progress = ctx.progress
        self.posting = Posting(ctx.warehouse)
        self.submit = submit
        self.result = ReloadResult(ctx.tenant.name, self.stream, self.domain.name, batch_id)

    @property
    def batch_id(self) -> str:
        return self.result.batch_id

    def run(self) -> None:
        original, self.original_group_id = self._original()
        earlier = self._earlier_reloads()
        if self._finish_earlier(earlier):
            open_rows = self.posting.queue_rows(self.batch_id, "open")
            if not open_rows and not self.result.resumed:
                raise ReloadRefused(f"batch {self.batch_id} has no open queue lines to reload")
            feed_date = original.feed_date
            ready = self._reloadable(open_rows, feed_date) if open_rows else []
            if ready:
                number = max(earlier, default=0) + 1
                if number > MAX_RELOADS:
                    raise ReloadRefused(f"batch {self.batch_id} was reloaded {MAX_RELOADS} times")
                self._reload(number, feed_date, ready)
        self._conclude()

    def _original(self) -> tuple[OutboxBatch, int]:
        """The batch and its GROUP_ID, after checking it is an original batch with a finished
        submission."""
        if self.batch_id not in self.outbox:
            raise ReloadRefused(
                f"batch {self.batch_id} is not in the outbox of {self.tenant.name}/"
                f"{self.stream}/{self.domain.name}"
            )
        original = self.outbox.batch(self.batch_id)
        if original.reload_of is not None:
            raise ReloadRefused(f"batch {self.batch_id} is a reload; reload {original.reload_of}")
        submission = self.posting.submission(self.batch_id)
        if submission is None or submission["status"] not in TERMINAL:
            state = submission["status"] if submission else "not submitted"
            raise ReloadRefused(
                f"batch {self.batch_id} is {state} in Fusion; its rejected lines are known "
                "only once its import finished (run `ehrfusion submit` first)"
            )
        return original, int(submission["group_id"])

    def _earlier_reloads(self) -> dict[int, str]:
        """Reload number -> batch id of this batch's earlier reloads in the chain."""
        return {
            batch.scope["reload_number"]: batch.batch_id
            for batch in self.outbox.batches
            if batch.reload_of == self.batch_id
        }

    def _finish_earlier(self, earlier: dict[int, str]) -> bool:
        """Submit earlier reloads left unfinished and settle every finished one; False when
        one is still not finished in Fusion (nothing new may be exported then)."""
        for number in sorted(earlier):
            reload_id = earlier[number]
            submission = self.posting.submission(reload_id)
            if submission is None or submission["status"] not in TERMINAL:
                self.progress(f"reload: finishing the earlier reload {reload_id}")
                self.result.resumed.append(reload_id)
                outcome = self.submit(reload_id)
                if outcome.open_batches:
                    self.result.status = "submit_incomplete"
                    self.result.message = f"{reload_id} is not finished in Fusion yet"
                    return False
                self._disclose(reload_id)
            self.posting.settle_reload(self.batch_id, reload_id)
        return True

    def _reloadable(self, open_rows: list[dict], feed_date: date) -> list[int]:
        """Source line ids to export now: whole journals, not posted before, all of whose open
        lines are in the current mart. The rest are recorded as still held or already
        posted."""
        posted = self.posting.posted_in_batch(
            self.batch_id, (r["source_line_id"] for r in open_rows)
        )
        if posted:
            self.posting.mark_queue(
                self.batch_id,
                "reloaded",
                [r["queue_id"] for r in open_rows if r["source_line_id"] in posted],
            )
            self.result.lines_already_posted = len(posted)
        journals: dict[str, list[int]] = defaultdict(list)
        for row in open_rows:
            if row["source_line_id"] not in posted:
                journals[row["journal_name"]].append(int(row["source_line_id"]))
        all_ids = [i for ids in journals.values() for i in ids]
        in_mart = self._in_mart(feed_date, all_ids)
        ready, held = [], []
        for journal, ids in sorted(journals.items()):
            if in_mart.issuperset(ids):
                ready += ids
            else:
                held += [(i, journal) for i in ids]
        reasons = self._exception_reasons(i for i, _ in held)
        self.result.still_held = [
            HeldLine(i, journal, reasons.get(i, "not in the current mart")) for i, journal in held
        ]
        return ready

    def _reload(self, number: int, feed_date: date, line_ids: list[int]) -> None:
        """Export the lines as reload batch `number`, submit it and settle its outcome."""
        reload_id = f"{self.batch_id}-r{number}"
        group_id = self.original_group_id * 100 + number
        self.progress(f"reload: exporting {len(line_ids)} line(s) as {reload_id}")
        exported = export_source_lines(
            self.warehouse,
            self.tenant.name,
            self.stream,
            self.domain,
            feed_date,
            line_ids,
            self.outbox,
            self.ctx.spec,
            reload_id,
            group_id,
            {"reload_of": self.batch_id, "reload_number": number, "group_id": group_id},
        )
        self.result.reload_batch_id = reload_id
        self.result.reload_number = number
        self.result.group_id = group_id
        self.result.lines_exported = exported.lines
        self.result.zip_path = str(exported.zip_path)
        self.result.manifest_path = str(exported.manifest_path)
        outcome = self.submit(reload_id)
        self.result.submission = outcome
        if outcome.open_batches:
            self.result.status = "submit_incomplete"
            self.result.message = f"{reload_id} is not finished in Fusion yet; reload again later"
            return
        self.result.lines_posted = outcome.lines_posted
        self.result.lines_rejected_again = outcome.lines_rejected
        self._disclose(reload_id)
        self.posting.settle_reload(self.batch_id, reload_id)

    def _conclude(self) -> None:
        still_open = len(self.posting.queue_rows(self.batch_id, "open"))
        self.result.lines_still_open = still_open
        depth = self.posting.open_queue_depth(self.stream, self.domain.name)
        metrics.set_queue_depth(self.tenant.name, self.stream, self.domain.name, depth)
        if self.result.status == "submit_incomplete":
            return
        self.result.status = "lines_still_open" if still_open else "reloaded"
        self.result.message = (
            f"{still_open} line(s) of {self.batch_id} stay open in the operator queue"
            if still_open
            else f"every rejected line of {self.batch_id} is posted"
        )

    def _relation(self, role: str) -> str:
        """The domain's rows of the journal chain's model in `role`, as a FROM item."""
        return GlChain(self.stream, self.domain.name).rows(self.warehouse, role, role)

    def _in_mart(self, feed_date: date, line_ids: list[int]) -> set[int]:
        if not line_ids:
            return set()
        rows = self.warehouse.query(
            f"select source_line_id from {self._relation('gl_interface')} "
            f"where batch_date = '{feed_date.isoformat()}' and source_line_id in "
            f"({_id_list(line_ids)})"
        )
        return {int(r[0]) for r in rows}

    def _exception_reasons(self, line_ids: Iterable[int]) -> dict[int, str]:
        ids = list(line_ids)
        if not ids:
            return {}
        rows = self.warehouse.query(
            "select source_line_id, exception_reason from "
            f"{self._relation('exceptions')} "
            f"where source_line_id in ({_id_list(ids)})"
        )
        return {int(i): str(reason) for i, reason in rows}

    def _disclose(self, reload_id: str) -> None:
        """Record the patients of an uploaded reload batch in the accounting of disclosures."""
        record_sent_batches(
            self.warehouse,
            self.tenant,
            self.stream,
            self.domain,
            self.outbox,
            f"{self.domain.name}:{GL_INTERFACE}:reload",
            only={reload_id},
        )


def _id_list(line_ids: Iterable[int]) -> str:
    return ", ".join(str(int(i)) for i in line_ids)

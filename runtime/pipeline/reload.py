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

from load.outbox import Outbox
from runtime.core.config import Config
from runtime.pipeline.delivery.batches import ReloadRefused, ReloadResult
from runtime.pipeline.delivery.kinds import delivery_for
from runtime.pipeline.domain import DomainContext, Progress
from runtime.pipeline.locks import domain_lock

__all__ = ["ReloadRefused", "ReloadResult", "reload_batch"]


def reload_batch(
    config: Config,
    tenant_name: str,
    stream_name: str,
    domain_name: str,
    batch_id: str,
    warehouse_override: str | None = None,
    progress: Progress = lambda _: None,
) -> ReloadResult:
    """Re-export and re-submit the open queue lines of `batch_id` under the domain's lock.

    Raises ReloadRefused when the domain's object has no reloads, the batch is not this
    domain's original batch, its submission is not terminal, or nothing of it is open;
    `runtime.pipeline.locks.Locked` when the domain is busy.
    """
    ctx = DomainContext.open(
        config, tenant_name, stream_name, domain_name, warehouse_override, progress=progress
    )
    delivery = delivery_for(ctx.domain)
    with domain_lock(ctx.warehouse, ctx.stream.name, ctx.domain.name):
        return delivery.reload(ctx, Outbox(ctx.paths.outbox), batch_id)

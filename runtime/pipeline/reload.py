"""`ehrfusion queue reload`: re-send what Fusion rejected from one batch, once its cause is fixed.

The domain is opened under its lock and its delivery reloads the batch: journals re-export the
batch's open queue lines as a new batch (delivery/journal_reload.py says how); record objects
refuse, their next run sends the rejected records again.
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

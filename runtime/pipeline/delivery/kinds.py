"""Which delivery a domain's Fusion object takes."""

from __future__ import annotations

from runtime.core.config import Domain
from runtime.pipeline.delivery.journal import JournalDelivery
from runtime.pipeline.delivery.protocol import Delivery
from runtime.pipeline.delivery.records import RecordDelivery


def delivery_for(domain: Domain) -> Delivery:
    """GL journals go by delivery day through the journal chain; every other object as
    records (domains without a Fusion block deliver nothing and have none)."""
    return JournalDelivery() if domain.fusion.is_gl else RecordDelivery()

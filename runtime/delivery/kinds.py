"""Which delivery a domain's Fusion object takes."""

from __future__ import annotations

from runtime.config import Domain
from runtime.delivery.journal import JournalDelivery
from runtime.delivery.protocol import Delivery
from runtime.delivery.records import RecordDelivery


def delivery_for(domain: Domain) -> Delivery:
    """GL journals go by delivery day through the journal chain; every other object as
    records (domains without a Fusion block deliver nothing and have none)."""
    return JournalDelivery() if domain.fusion.is_gl else RecordDelivery()

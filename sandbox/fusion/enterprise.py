"""The simulated Fusion's inventory and Fixed Assets setup, beside its chart (`chart.py`).

Like the chart, it is the Fusion side of the sandbox health system: one inventory organization
per facility of `sandbox.world`, named `EHF <facility id> Inventory`, each with the CENTRAL
subinventory; the asset books; and the asset categories of the medical equipment the hospitals
capitalise. Nothing here is read from the product's seeds.
"""

from __future__ import annotations

from functools import cache

from sandbox import world

CENTRAL_SUBINVENTORY = "CENTRAL"

# The two transaction types an EHR feed sends, with the sign their quantity must have.
MISCELLANEOUS_ISSUE = "Miscellaneous Issue"
MISCELLANEOUS_RECEIPT = "Miscellaneous Receipt"
TRANSACTION_SIGNS: dict[str, int] = {MISCELLANEOUS_ISSUE: -1, MISCELLANEOUS_RECEIPT: 1}

# The health system's corporate book, and the reference's example book kept as a second one.
CORPORATE_BOOK = "EHF US CORP"
EXAMPLE_BOOK = "US CORP"
ASSET_BOOKS: tuple[str, ...] = (CORPORATE_BOOK, EXAMPLE_BOOK)

MEDICAL_EQUIPMENT = "MEDEQUIP"
ASSET_CATEGORIES: frozenset[tuple[str, ...]] = frozenset(
    (MEDICAL_EQUIPMENT, minor)
    for minor in ("CARDIAC", "IMAGING", "INFUSION", "MONITORING", "RESPIRATORY")
)


def inventory_organization(facility: world.Facility) -> str:
    """The inventory organization of a facility: `EHF F01 Inventory`."""
    return f"EHF {facility.facility_id} Inventory"


@cache
def inventory_organizations() -> dict[str, tuple[str, ...]]:
    """Every inventory organization with its subinventories."""
    return {inventory_organization(f): (CENTRAL_SUBINVENTORY,) for f in world.FACILITIES}

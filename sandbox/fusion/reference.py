"""Reference reads for the reverse path: the cost-centre value set and suppliers.

Both come from the simulator's own world. Cost centres are the SEGMENT2 values of the chart of
accounts, each described by the clinical department whose revenue accounts it carries. Suppliers
are thirty vendors named after sandbox.world's surnames, written in the PozSuppliersInt column
vocabulary, followed by every supplier a Supplier import (FBDI) created.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from sandbox import world
from sandbox.fusion import chart
from sandbox.fusion.objects import ObjectStore
from sandbox.fusion.rest import Route, filters, not_found, page, route, select
from sandbox.server import Request, Response, json_response

API = "/fscmRestApi/resources/11.13.18.05"
VALUE_SETS = f"{API}/valueSets"
SUPPLIERS = f"{API}/suppliers"
COST_CENTRE_VALUE_SET = "EHF_COST_CENTER"
SUPPLIER_OBJECT = "PozSuppliersInt"
FIRST_VALUE_ID = 300000500000001
FIRST_SUPPLIER_ID = 300000200000001
FIRST_SUPPLIER_NUMBER = 10001
VALUE_ATTRIBUTES = ("ValueId", "Value", "Description", "EnabledFlag", "SummaryFlag")
# supplier item attribute -> PozSuppliersInt column
SUPPLIER_COLUMNS = {
    "SupplierNumber": "SEGMENT1",
    "Supplier": "VENDOR_NAME",
    "AlternateName": "VENDOR_NAME_ALT",
    "SupplierType": "VENDOR_TYPE_LOOKUP_CODE",
    "TaxOrganizationType": "ORGANIZATION_TYPE_LOOKUP_CODE",
    "BusinessRelationship": "BUSINESS_RELATIONSHIP",
    "DUNSNumber": "DUNS_NUMBER",
    "InactiveDate": "END_DATE_ACTIVE",
}
SUPPLIER_ATTRIBUTES = ("SupplierId", *SUPPLIER_COLUMNS)
_WORLD_SUPPLIERS = 30
_SUPPLIER_KINDS = (
    "Medical Supply",
    "Pharmaceuticals",
    "Laboratory Services",
    "Linen Services",
    "Biomedical Engineering",
)


@cache
def cost_centres() -> tuple[dict[str, Any], ...]:
    """The EHF_COST_CENTER value set's values, in value order."""
    departments = {
        chart.natural_account(account): department.name.title()
        for facility in world.FACILITIES
        for department in facility.clinical
        for account, _ in department.revenue
    }
    descriptions: dict[str, str] = {}
    for combination in sorted(chart.chart_of_accounts()):
        _, centre, account, *_ = combination.split("-")
        descriptions.setdefault(centre, departments.get(account, "Balance Sheet"))
    return tuple(
        {
            "ValueId": FIRST_VALUE_ID + i,
            "Value": value,
            "Description": description,
            "EnabledFlag": "Y",
            "SummaryFlag": "N",
            "StartDateActive": None,
            "EndDateActive": None,
        }
        for i, (value, description) in enumerate(sorted(descriptions.items()))
    )


@cache
def world_suppliers() -> tuple[dict[str, str], ...]:
    """The simulator's own suppliers as PozSuppliersInt rows."""
    return tuple(
        {
            "IMPORT_ACTION": "CREATE",
            "VENDOR_NAME": f"{surname.title()} {_SUPPLIER_KINDS[i % len(_SUPPLIER_KINDS)]}",
            "SEGMENT1": str(FIRST_SUPPLIER_NUMBER + i),
            "VENDOR_TYPE_LOOKUP_CODE": "SUPPLIER",
            "ORGANIZATION_TYPE_LOOKUP_CODE": "CORPORATION",
            "BUSINESS_RELATIONSHIP": "SPEND_AUTHORIZED",
        }
        for i, surname in enumerate(world.SURNAMES[:_WORLD_SUPPLIERS])
    )


class Reference:
    """Value sets and suppliers."""

    def __init__(self, objects: ObjectStore, lock: threading.RLock) -> None:
        self.objects = objects
        self.lock = lock

    def routes(self) -> list[Route]:
        """The resources' routes."""
        return [
            route(f"{VALUE_SETS}/{{value_set}}/child/values", GET=self.values),
            route(SUPPLIERS, GET=self.list_suppliers),
            route(f"{SUPPLIERS}/{{supplier_id}}", GET=self.get_supplier),
        ]

    def values(self, request: Request, value_set: str) -> Response:
        """A value set's values, filtered by `q=` and paged."""
        if value_set != COST_CENTRE_VALUE_SET:
            raise not_found(f"no value set {value_set}; the simulator has {COST_CENTRE_VALUE_SET}")
        return page(request, select(list(cost_centres()), filters(request, VALUE_ATTRIBUTES)))

    def list_suppliers(self, request: Request) -> Response:
        """Suppliers, filtered by `q=` and paged."""
        return page(request, select(self._suppliers(), filters(request, SUPPLIER_ATTRIBUTES)))

    def get_supplier(self, request: Request, supplier_id: str) -> Response:
        """One supplier by SupplierId."""
        found = [s for s in self._suppliers() if str(s["SupplierId"]) == supplier_id]
        if not found:
            raise not_found(f"no supplier with SupplierId {supplier_id}")
        return json_response(found[0])

    def _suppliers(self) -> list[dict[str, Any]]:
        """World suppliers, then those Supplier imports created, ids in that order."""
        with self.lock:
            imported = [r.values for r in self.objects.rows(SUPPLIER_OBJECT)]
        created = [r for r in imported if r.get("IMPORT_ACTION", "CREATE") == "CREATE"]
        items = []
        for i, row in enumerate([*world_suppliers(), *created]):
            item: dict[str, Any] = {"SupplierId": FIRST_SUPPLIER_ID + i}
            item |= {name: row.get(column) for name, column in SUPPLIER_COLUMNS.items()}
            item["SupplierNumber"] = item["SupplierNumber"] or str(FIRST_SUPPLIER_NUMBER + i)
            if item["InactiveDate"]:
                item["InactiveDate"] = item["InactiveDate"].replace("/", "-")
            items.append(item)
        return items

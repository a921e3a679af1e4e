"""Practice Fusion's REST API: the source's name, token path, request budget, page size and
the contracts of its delta tables (docs/veradigm_contract.md)."""

from __future__ import annotations

import pyarrow as pa

from extract.shared.rate_limit import Budget
from extract.veradigm.helpers import Field, Table, flag, integer, iso_date, money, text, utc_stamp

SOURCE = "practice_fusion"
TOKEN_PATH = "/oauth2/token"
BUDGET = Budget(requests=30, per_seconds=1.0, burst=1)
PAGE_SIZE = 100
_CHANGE = (
    Field("updated_at", "updated_at", utc_stamp, pa.timestamp("us", tz="UTC")),
    Field("change_seq", "change_seq", integer, pa.int64()),
    Field("deleted", "deleted", flag, pa.bool_()),
)
TABLES = {
    "providers": Table(
        "pf_providers",
        (
            Field("provider_id", "provider_id", text, pa.string()),
            Field("npi", "npi", text, pa.string()),
            Field("last_name", "last_name", text, pa.string()),
            Field("first_name", "first_name", text, pa.string()),
            Field("specialty", "specialty", text, pa.string(), optional=True),
            *_CHANGE,
        ),
        key=("provider_id",),
        order="change_seq",
        constants=("practice_id",),
    ),
    "patients": Table(
        "pf_patients",
        (
            Field("patient_id", "patient_id", text, pa.string()),
            Field("mrn", "mrn", text, pa.string()),
            Field("last_name", "last_name", text, pa.string()),
            Field("first_name", "first_name", text, pa.string()),
            Field("birth_date", "birth_date", iso_date, pa.date32()),
            Field("sex", "sex", text, pa.string(), optional=True),
            Field("postal_code", "postal_code", text, pa.string(), optional=True),
            *_CHANGE,
        ),
        key=("patient_id",),
        order="change_seq",
        constants=("practice_id",),
    ),
    "charges": Table(
        "pf_charges",
        (
            Field("charge_id", "charge_id", text, pa.string()),
            Field("patient_id", "patient_id", text, pa.string()),
            Field("provider_id", "provider_id", text, pa.string()),
            Field("service_date", "service_date", iso_date, pa.date32()),
            Field("cpt_code", "cpt_code", text, pa.string()),
            Field("icd10_code", "icd10_code", text, pa.string(), optional=True),
            Field("units", "units", integer, pa.int64()),
            Field("amount", "amount", money, pa.decimal128(12, 2)),
            Field("status", "status", text, pa.string()),
            *_CHANGE,
        ),
        key=("charge_id",),
        order="change_seq",
        constants=("practice_id",),
    ),
}
AMOUNTS = {"charges": "amount"}

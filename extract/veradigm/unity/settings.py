"""The Veradigm Unity API: the source's name, JSON endpoint, request budget, overlap window and
the contracts of its changed-since actions (docs/veradigm_contract.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from extract.shared.rate_limit import Budget
from extract.veradigm.helpers import (
    Field,
    Table,
    integer_text,
    iso_date,
    money,
    text,
    utc_stamp,
    yes_no,
)

SOURCE = "veradigm_unity"
JSON_API = "/Unity/UnityService.svc/json"
# Unity publishes no numeric limit; stay well inside what a shared Unity server tolerates.
BUDGET = Budget(requests=10, per_seconds=1.0, burst=1)
OVERLAP = timedelta(minutes=10)
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
LOGGED_OUT = "logged out"
_CHANGE = (
    Field("changed_at", "ChangedAt", utc_stamp, pa.timestamp("us", tz="UTC")),
    Field("deleted", "Deleted", yes_no, pa.bool_()),
)
ACTIONS = {
    "GetChangedPatients": Table(
        "unity_patients",
        (
            Field("patient_id", "PatientID", text, pa.string()),
            Field("mrn", "MRN", text, pa.string()),
            Field("last_name", "LastName", text, pa.string()),
            Field("first_name", "FirstName", text, pa.string()),
            Field("birth_date", "DOB", iso_date, pa.date32()),
            Field("sex", "Gender", text, pa.string(), optional=True),
            Field("postal_code", "ZipCode", text, pa.string(), optional=True),
            *_CHANGE,
        ),
        key=("patient_id",),
        order="changed_at",
    ),
    "GetChangedCharges": Table(
        "unity_charges",
        (
            Field("charge_id", "ChargeID", text, pa.string()),
            Field("patient_id", "PatientID", text, pa.string()),
            Field("provider_id", "ProviderID", text, pa.string()),
            Field("service_date", "ServiceDate", iso_date, pa.date32()),
            Field("cpt_code", "CPTCode", text, pa.string()),
            Field("icd10_code", "ICD10Code", text, pa.string(), optional=True),
            Field("units", "Units", integer_text, pa.int64()),
            Field("amount", "Amount", money, pa.decimal128(12, 2)),
            Field("status", "Status", text, pa.string()),
            *_CHANGE,
        ),
        key=("charge_id",),
        order="changed_at",
    ),
}
AMOUNTS = {"GetChangedCharges": "amount"}

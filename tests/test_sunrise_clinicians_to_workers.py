"""Sunrise clinicians -> Fusion HCM Data Loader Worker.dat: the Sunrise stand-in is landed and
`dbt build` of the Sunrise Worker target (runtime/core/catalog.py) runs on DuckDB and Postgres.
The worker mart (one row per clinician, a column per component attribute) writes a valid
Worker.dat; a clinician is sent again only when its values differ from what Fusion accepted
before its batch day; an expired licence suspends the assignment and puts the clinician on the
HR review list; a clinician without a start date is held there."""

from __future__ import annotations

import hashlib
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from extract.allscripts.sunrise import extract_sunrise
from load.formats import load_spec
from load.hdl import validate_hdl, write_hdl_zip
from runtime.core.config import Disclosure, Domain, FusionTarget
from runtime.core.targets import dbt_selection
from runtime.core.warehouse import Warehouse
from runtime.pipeline.dbt import run_dbt
from runtime.pipeline.posting import Posting
from runtime.pipeline.run import dbt_environment
from sandbox import sunrise
from sandbox.sunrise import schema
from sandbox.sunrise.database import engine_for, sqlite_url
from tests.conftest import PHI_KEY

SEED = 5
SCALE = 200  # 20 clinicians, 10001 to 10020
START = date(2026, 10, 1)
DAYS = 5
STREAM, DOMAIN = "sunrise", "clinicians"
OWNER, EMPLOYER, BUSINESS_UNIT = "EHRFUSION_SUNRISE", "St Mary Health LE", "EHF US BU"
EXPIRED = 10001  # licence expired before the batch day
NO_START = 10002  # no start date: held
ACCEPTED = (10003, 10004, 10005, 10006, 10007)  # Fusion accepted them before the batch day
RENAMED = 10003  # then its last name changes
MART = "fusion__hdl_workers"
COMPONENTS = ("Worker", "PersonName", "PersonEmail", "WorkRelationship", "WorkTerms", "Assignment")
# what the mart carries beside the components' attributes (`<component>__<attribute>`)
RECORD_COLUMNS = (
    "stream_name", "domain_name", "record_key", "batch_date", "record_hash", "measure",
)  # fmt: skip


def column_name(attribute: str) -> str:
    """A mart column for an HDL attribute: CamelCase -> snake_case, and a hint `X(SourceSystemId)`
    -> `x_source_system_id` (PersonId(SourceSystemId) -> person_id_source_system_id)."""
    words = re.sub(r"[()]", " ", attribute).split()
    return "_".join(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", w).lower() for w in words)


def test_column_name_rule():
    assert column_name("SourceSystemOwner") == "source_system_owner"
    assert column_name("EffectiveStartDate") == "effective_start_date"
    assert column_name("PersonId(SourceSystemId)") == "person_id_source_system_id"
    assert (
        column_name("WorkTermsAssignmentId(SourceSystemId)")
        == "work_terms_assignment_id_source_system_id"
    )


# The stand-in, landing and dbt -----------------------------------------------------------------
def domain() -> Domain:
    return Domain(
        name=DOMAIN,
        enabled=True,
        source="allscripts_sunrise",
        endpoint="allscripts_sunrise",
        cadence="daily",
        run_at=None,
        month_day=None,
        phi_mode="pseudonymized",
        phi_direct_authorisation=None,
        disclosure=Disclosure("human resources", "Oracle Fusion Cloud (Worker)"),
        fusion=FusionTarget(
            object="Worker",
            release="25B",
            source_system_owner=OWNER,
            legal_employer_name=EMPLOYER,
            business_unit=BUSINESS_UNIT,
        ),
    )


def change_clinicians(url: str, changes: dict[int, dict]) -> None:
    """Update clinicians in the stand-in, each a minute after its latest change (watermark)."""
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            table = schema.clinicians
            latest = conn.execute(sa.select(sa.func.max(table.c.last_modified))).scalar_one()
            for n, (clinician_id, values) in enumerate(sorted(changes.items()), start=1):
                stamp = latest + timedelta(minutes=n)
                conn.execute(
                    table.update()
                    .where(table.c.clinician_id == clinician_id)
                    .values(**values, last_modified=stamp)
                )
    finally:
        engine.dispose()


def land(warehouse: Warehouse, url: str, tmp_path: Path) -> None:
    report = extract_sunrise(
        warehouse, "sunrise", url, "watermark", tmp_path / "dead_letter", tmp_path / "pipelines"
    )
    assert report.rows and not report.dead_letters


def build(warehouse: Warehouse, work_dir: Path) -> None:
    env = dbt_environment(warehouse, STREAM, domain(), PHI_KEY)
    outcome = run_dbt("build", dbt_selection(domain()), env, work_dir)
    assert outcome.success, outcome.errors
    assert not outcome.failed_checks, [check.name for check in outcome.failed_checks]
    unit_tests = sorted(c.name for c in outcome.checks if c.kind == "unit_test")
    assert unit_tests == [
        "worker_sent_when_changed_since_accepted",
        "worker_status_licence_expiry_wins",
    ]
    # staging (clinicians, Fusion records), the Sunrise contribution, the shared workers' models
    # (mapped, changes; the ephemeral pick runs inside them), the worker mart, the review list
    assert outcome.models == 7
    assert outcome.seeds == 1


def rows(warehouse: Warehouse, model: str) -> list[dict]:
    with warehouse.connect() as con:
        cursor = con.cursor()
        cursor.execute(f"select * from {warehouse.schema('marts')}.{model} order by record_key")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def components(warehouse: Warehouse) -> dict[str, dict[str, dict]]:
    """The worker mart split into its components: component -> record_key -> the record columns
    and the component's attributes (the `<component>__` prefix dropped). Every other column of
    the mart belongs to one component."""
    split: dict[str, dict[str, dict]] = {c: {} for c in COMPONENTS}
    prefixes = {c: f"{column_name(c)}__" for c in COMPONENTS}
    for row in rows(warehouse, MART):
        owned = [k for k in row if k in RECORD_COLUMNS or k.startswith(tuple(prefixes.values()))]
        assert owned == list(row), set(row) - set(owned)
        record = {k: v for k, v in row.items() if k in RECORD_COLUMNS}
        for component, prefix in prefixes.items():
            attributes = {k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix)}
            split[component][row["record_key"]] = record | attributes
    return split


def accept(warehouse: Warehouse, workers: list[dict], batch_date: date) -> None:
    """Record `workers` as accepted by Fusion in a batch of `batch_date`."""
    accepted_at = datetime.combine(batch_date, datetime.min.time(), UTC) + timedelta(hours=3)
    sql = (
        f"insert into {warehouse.schema('ops')}.fusion_records (stream, domain, batch_id, "
        "batch_date, record_key, record_hash, measure, accepted_at) "
        "values (%s, %s, %s, %s, %s, %s, null, %s)"
    )
    batch_id = f"WORKER{batch_date:%Y%m%d}"
    for worker in workers:
        params = (STREAM, DOMAIN, batch_id, batch_date, worker["record_key"],
                  worker["record_hash"], accepted_at)  # fmt: skip
        warehouse.query(sql, params)


def expected_hash(marts: dict[str, dict[str, dict]], key: str) -> str:
    """md5 of every value sent, in the order the model hashes them, dates as YYYYMMDD."""
    worker, name, email = marts["Worker"][key], marts["PersonName"][key], marts["PersonEmail"][key]
    relation, terms = marts["WorkRelationship"][key], marts["WorkTerms"][key]
    assignment = marts["Assignment"][key]
    values = [
        worker["source_system_owner"], worker["source_system_id"], worker["person_number"],
        f"{worker['start_date']:%Y%m%d}", worker["action_code"], name["name_type"],
        name["legislation_code"], name["last_name"], name["first_name"], email["email_type"],
        email["email_address"], relation["legal_employer_name"], relation["worker_type"],
        str(terms["effective_sequence"]), terms["effective_latest_change"],
        relation["primary_flag"], terms["assignment_number"], assignment["assignment_number"],
        assignment["assignment_status_type_code"], assignment["person_type_code"],
        assignment["business_unit_short_code"],
    ]  # fmt: skip
    return hashlib.md5("|".join(v or "" for v in values).encode()).hexdigest()


def hdl_input(marts: dict[str, dict[str, dict]]) -> dict[str, list[dict]]:
    """Each mart's rows keyed by HDL attribute name (the record columns dropped)."""
    spec = load_spec("25B", "Worker")
    components = {}
    for component in spec.components:
        attribute = {column_name(a.name): a.name for a in component.attributes}
        components[component.name] = [
            {attribute[column]: value for column, value in row.items()
             if column not in RECORD_COLUMNS}
            for row in marts[component.name].values()
        ]  # fmt: skip
    return components


@pytest.fixture
def stand_in(tmp_path, phi_key) -> str:
    url = sqlite_url(tmp_path / "sunrise.db")
    sunrise.generate(url, SEED, SCALE, START, DAYS, cdc=False)
    change_clinicians(
        url,
        {EXPIRED: {"license_expiry": date(2026, 1, 31)}, NO_START: {"start_date": None}},
    )
    return url


def test_clinicians_become_hdl_workers_sent_until_fusion_holds_them(warehouse, stand_in, tmp_path):
    work_dir = tmp_path / "work"
    Posting(warehouse).ensure()
    landing_days = {datetime.now(UTC).date()}
    land(warehouse, stand_in, tmp_path)
    landing_days.add(datetime.now(UTC).date())
    build(warehouse, work_dir)

    marts = components(warehouse)
    clinicians = {str(10001 + n) for n in range(20)}
    sendable = clinicians - {str(NO_START)}
    assert {c: set(m) for c, m in marts.items()} == {c: sendable for c in COMPONENTS}
    [batch_date] = {r["batch_date"] for m in marts.values() for r in m.values()}
    assert batch_date in landing_days
    for key in sendable:
        assert marts["Worker"][key]["record_hash"] == expected_hash(marts, key), key
        assert marts["Worker"][key]["measure"] is None
        assert marts["Worker"][key]["source_system_id"] == f"CLN{key}"
        assert marts["Assignment"][key]["work_terms_assignment_id_source_system_id"] == (
            f"CLN{key}_WT"
        )

    # The marts write a Worker.dat the validator finds no problem in; no licence number in it.
    spec = load_spec("25B", "Worker")
    written = write_hdl_zip(hdl_input(marts), spec, tmp_path / "Worker1.zip")
    assert written.lines == {c: len(sendable) for c in COMPONENTS}
    with zipfile.ZipFile(written.zip_path) as archive:
        assert archive.namelist() == ["Worker.dat"]
        text = archive.read("Worker.dat").decode("utf-8")
    assert validate_hdl(text, spec) == []
    assert f"MERGE|Worker|{OWNER}|CLN{EXPIRED}|" in text
    licences = warehouse.query(
        f"select license_number from {warehouse.schema('raw_sunrise')}.clinicians"
    )
    assert licences and not any(number in text for (number,) in licences)

    # An expired licence suspends the assignment and is on the review list; no start date holds.
    assert marts["Assignment"][str(EXPIRED)]["assignment_status_type_code"] == "SUSPEND_PROCESS"
    review = rows(warehouse, "exceptions__workers")
    reasons = {(r["record_key"], r["exception_reason"]): r for r in review}
    expired = reasons[(str(EXPIRED), "license_expired")]
    assert not expired["is_held"] and expired["days_to_license_expiry"] < 0
    assert reasons[(str(NO_START), "missing_start_date")]["is_held"]
    assert all(not r["is_held"] for r in review if r["record_key"] != str(NO_START))

    # Fusion accepted some clinicians in an earlier batch; then one of them is renamed.
    accept(warehouse, [marts["Worker"][str(k)] for k in ACCEPTED], batch_date - timedelta(1))
    change_clinicians(stand_in, {RENAMED: {"last_name": "OKAFOR-BRANDT"}})
    land(warehouse, stand_in, tmp_path)
    build(warehouse, work_dir)

    after = components(warehouse)
    unchanged = {str(k) for k in ACCEPTED} - {str(RENAMED)}
    assert {c: set(m) for c, m in after.items()} == {c: sendable - unchanged for c in COMPONENTS}
    assert after["PersonName"][str(RENAMED)]["last_name"] == "OKAFOR-BRANDT"
    renamed = after["Worker"][str(RENAMED)]
    assert renamed["record_hash"] != marts["Worker"][str(RENAMED)]["record_hash"]
    assert renamed["record_hash"] == expected_hash(after, str(RENAMED))
    written = write_hdl_zip(hdl_input(after), spec, tmp_path / "Worker2.zip")
    assert written.lines == {c: len(sendable - unchanged) for c in COMPONENTS}

"""dbMotion identity end to end on DuckDB and Postgres (its stand-in on SQLite and Postgres): the
stand-in knows every patient the other stand-ins generate for the same seed, the canary patients
share one pseudonym across Sunrise, TouchWorks and every Practice Fusion practice, an unmerge
splits a record off and a merge brings it back, injected conflicts show in the mart, and no raw
identifier leaves staging."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from extract.allscripts.dbmotion import extract_dbmotion
from runtime.core.phi import pseudonymize
from sandbox import dbmotion
from sandbox.canaries import CANARY_MRNS, canary_hits
from sandbox.dbmotion.generator import enterprise_id, practice_charges
from sandbox.practice_fusion import PRACTICES
from sandbox.practice_fusion import generate as generate_practices
from sandbox.standin import GenerationRequest
from sandbox.sunrise.database import sqlite_url
from tests.conftest import PHI_KEY
from tests.test_source_staging import (
    DAYS,
    SCALE,
    SEED,
    START,
    assert_no_identifier_left_staging,
    build,
    keyed_query,
    land_practice_fusion,
    land_sunrise,
    land_touchworks,
)
from tests.test_sql_changes import source_database

GL_SOURCES = ("allscripts_sunrise", "veradigm_touchworks", "practice_fusion")
# Every patient of the three sources' staging models, with the pseudonym the identity model
# resolves it to (its own where dbMotion does not know it).
RESOLVED = """
    with staged as (
        select 'sunrise' as source_system, patient_pseudonym from {staging}.stg_sunrise__encounters
        union
        select 'touchworks', patient_pseudonym from {staging}.stg_touchworks__patients
        union
        select 'practice_fusion', patient_pseudonym from {staging}.stg_veradigm__pf_patients
    )
    select staged.patient_pseudonym, ids.patient_pseudonym
    from staged
    left join {intermediate}.int_identity__patient_pseudonyms as ids
        on ids.source_system = staged.source_system
        and ids.local_patient_pseudonym = staged.patient_pseudonym
"""


def canary_records(n: int) -> list[tuple[str, str]]:
    """(source system, local id) of canary patient `n` (0-based) in every source."""
    practices = [f"pf{1001 + p}" for p in range(PRACTICES)]
    return [
        ("sunrise", CANARY_MRNS[n]),
        ("touchworks", str(20_000_001 + n)),
        *(("practice_fusion", f"{p}:{p}-P{n + 1:06d}") for p in practices),
    ]


def local(system: str, local_id: str) -> str:
    return pseudonymize(f"{system}:{local_id}", "patient", PHI_KEY)


def resolved(warehouse) -> dict[str, str | None]:
    """Staged local pseudonym -> its patient pseudonym across sources."""
    sql = RESOLVED.format(
        staging=warehouse.schema("staging"), intermediate=warehouse.schema("intermediate")
    )
    return dict(keyed_query(warehouse, sql))


def conflicts(warehouse) -> list[tuple]:
    return warehouse.query(
        "select conflict_kind, local_patient_reference, enterprise_reference, "
        f"mismatched_fields, phi_key_version from {warehouse.schema('marts')}."
        "exceptions__identity_conflicts"
    )


def test_identity_resolves_merges_unmerges_and_lists_conflicts(warehouse, tmp_path, request):
    land_sunrise(warehouse, tmp_path)
    land_touchworks(warehouse, tmp_path)
    land_practice_fusion(warehouse, tmp_path)
    url = source_database(
        "postgres" if warehouse.kind == "postgres" else "sqlite", tmp_path, request
    )
    dbmotion.generate(url, SEED, SCALE, START, DAYS)
    work_dir = tmp_path / "work"

    def sync():
        report = extract_dbmotion(
            warehouse, "dbmotion", url, "watermark", tmp_path / "dead_letter",
            tmp_path / "pipelines",
        )  # fmt: skip
        outcome = build(warehouse, work_dir, "dbmotion_identity")
        unit_tests = {c.name for c in outcome.checks if c.kind == "unit_test"}
        assert len(unit_tests) == 3
        return report

    assert sync().tables["patient_links"].resync_reason == "initial"
    for source in GL_SOURCES:
        build(warehouse, work_dir, source)

    patients = resolved(warehouse)
    assert None not in patients.values()  # dbMotion knows every patient of the three sources
    for n, enterprise in enumerate(dbmotion.CANARY_ENTERPRISE_IDS):
        records = canary_records(n)
        assert len(records) == 2 + PRACTICES
        for record in records:
            assert patients[local(*record)] == pseudonymize(enterprise, "patient", PHI_KEY)
    assert conflicts(warehouse) == []

    # An unmerge splits one Practice Fusion record off the first canary patient.
    split_off = canary_records(0)[2]
    split = dbmotion.unmerge(url, *split_off)
    # A faulty feed links the second canary's TouchWorks record to another patient as well, and
    # a correction gives the third canary's Sunrise record another birth date.
    doubly_linked = canary_records(1)[1]
    other = enterprise_id(1)
    dbmotion.add_link(url, other, *doubly_linked)
    dbmotion.correct_demographics(url, *canary_records(2)[0], birth_date=date(1901, 1, 1))
    report = sync()

    assert not report.tables["patient_links"].resync
    assert (report.tables["patient_links"].rows, report.tables["patient_identities"].rows) == (3, 1)
    patients = resolved(warehouse)
    first = pseudonymize(dbmotion.CANARY_ENTERPRISE_IDS[0], "patient", PHI_KEY)
    assert patients[local(*split_off)] == pseudonymize(split, "patient", PHI_KEY)
    assert [patients[local(*r)] for r in canary_records(0) if r != split_off] == [first] * 5
    found = conflicts(warehouse)
    reference = pseudonymize(doubly_linked[1], "local_patient", PHI_KEY)
    overlapping = {(r[1], r[2]) for r in found if r[0] == "overlapping_links"}
    assert overlapping == {
        (reference, pseudonymize(enterprise, "patient", PHI_KEY))
        for enterprise in (other, dbmotion.CANARY_ENTERPRISE_IDS[1])
    }
    mismatched = {(r[1], r[3]) for r in found if r[0] == "demographics_mismatch"}
    third = {
        (pseudonymize(local_id, "local_patient", PHI_KEY), "birth_date")
        for _, local_id in canary_records(2)
    }
    assert third <= mismatched
    assert {r[4] for r in found} == {"v1"}

    # Merging the split-off enterprise id back gives the record the canary's pseudonym again.
    assert dbmotion.merge(url, dbmotion.CANARY_ENTERPRISE_IDS[0], split) == 1
    sync()

    patients = resolved(warehouse)
    assert {patients[local(*r)] for r in canary_records(0)} == {first}
    assert_no_identifier_left_staging(warehouse, work_dir)


@pytest.mark.parametrize("scale", [1, 2_000, 100_000])
def test_dbmotion_sizes_practices_like_the_practice_fusion_stand_in(tmp_path, scale):
    recipe = generate_practices(GenerationRequest(tmp_path, SEED, scale, START, DAYS))
    assert (recipe["practices"], recipe["charges_per_practice"]) == (
        PRACTICES,
        practice_charges(scale),
    )


def test_stand_in_writes_its_database_and_endpoint(tmp_path):
    summary = dbmotion.STAND_IN.generate(GenerationRequest(tmp_path, SEED, SCALE, START, DAYS))

    entry = dbmotion.STAND_IN.endpoint(tmp_path)
    assert (entry["url"], entry["mechanism"]) == (sqlite_url(Path(summary["path"])), "watermark")
    assert summary["rows"]["patient_links"] == summary["rows"]["patient_identities"]
    assert not canary_hits(json.dumps(summary))


def test_mutations_refuse_unknown_ids_without_naming_them(tmp_path):
    url = source_database("sqlite", tmp_path, None)
    dbmotion.generate(url, SEED, SCALE, START, DAYS)
    for call in (
        lambda: dbmotion.merge(url, enterprise_id(1), "E999999999"),
        lambda: dbmotion.unmerge(url, "touchworks", "99999999"),
        lambda: dbmotion.correct_demographics(url, "sunrise", "S9999999", sex="F"),
    ):
        with pytest.raises(ValueError) as error:
            call()
        assert "9999" not in str(error.value)
    with pytest.raises(ValueError):
        dbmotion.correct_demographics(url, "sunrise", CANARY_MRNS[0], mrn="X")
    assert dbmotion.current_enterprise_ids(url, "sunrise", CANARY_MRNS[0]) == [
        dbmotion.CANARY_ENTERPRISE_IDS[0]
    ]

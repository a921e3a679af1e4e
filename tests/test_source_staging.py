"""The Sunrise, TouchWorks, Practice Fusion and Unity staging models, built by their targets on
DuckDB and Postgres from sandbox data the extracts landed: models, tests and unit tests pass;
patient references and pseudonyms equal the Python twin for every landed patient; and no canary
identifier or key reaches a built relation, the target folder or the logs. Also the helpers the
identity tests share."""

from __future__ import annotations

import contextlib
from datetime import date
from pathlib import Path

import duckdb
import psycopg2

from extract.allscripts.sunrise import extract_sunrise
from extract.shared.rate_limit import LimiterRegistry
from extract.veradigm import practice_fusion as pf
from extract.veradigm import unity
from extract.veradigm.touchworks import extract_touchworks
from runtime.core import catalog
from runtime.core.dbt_duckdb_phi import INNER_PAD_FUNCTION, OUTER_PAD_FUNCTION, hmac_pads
from runtime.core.http import RetryPolicy
from runtime.core.phi import PG_SETTING, pseudonymize
from runtime.core.warehouse import Warehouse
from runtime.pipeline.dbt import DbtOutcome, run_dbt
from runtime.pipeline.posting import Posting
from runtime.pipeline.run import TARGET_SETTINGS_ENV
from sandbox import sunrise, touchworks
from sandbox.canaries import canary_hits
from sandbox.dbmotion.generator import practice_charges
from sandbox.practice_fusion import (
    PRACTICES,
    PracticeFusionServer,
    build_practices,
    client_id,
    client_secret,
)
from sandbox.sunrise.database import sqlite_url
from sandbox.unity import APP_USER, APPNAME, PASSWORD, USERNAME, UnityServer, organisation
from tests.conftest import PHI_KEY

SEED = 7
SCALE = 200
START = date(2026, 10, 1)
DAYS = 5
FAST = RetryPolicy(base_delay=0.05, floor=0.05)
# staging model -> (raw layer and table, SQL of the local patient id, source system)
PATIENT_MODELS = {
    "stg_sunrise__encounters": ("raw_sunrise", "encounters", "patient_id", "sunrise"),
    "stg_touchworks__patients": ("raw_touchworks", "tw_patients", "patient_id", "touchworks"),
    "stg_touchworks__charges": ("raw_touchworks", "tw_charges", "patient_id", "touchworks"),
    "stg_veradigm__pf_patients": (
        "raw_veradigm", "pf_patients", "practice_id || ':' || patient_id", "practice_fusion",
    ),
    "stg_veradigm__pf_charges": (
        "raw_veradigm", "pf_charges", "practice_id || ':' || patient_id", "practice_fusion",
    ),
    "stg_veradigm__unity_patients": ("raw_veradigm", "unity_patients", "patient_id", "unity"),
    "stg_veradigm__unity_charges": ("raw_veradigm", "unity_charges", "patient_id", "unity"),
}  # fmt: skip
SELECTOR_MODELS = {
    # staging, the source's contribution and the journal chain's tables (posted lines, the
    # validated lines, the deltas, the GL mart, exceptions, review, reconciliation)
    "allscripts_sunrise": 11,
    "veradigm_touchworks": 11,
    "practice_fusion": 11,
    "veradigm_unity": 10,
}
JOURNAL_UNIT_TESTS = {
    "exact_department_mapping_beats_facility_wide_and_respects_dates",
    "one_bad_line_holds_its_whole_entry",
    "restated_entries_take_a_correction_path",
    "deltas_correct_reverse_and_take_back_against_what_posted",
    "ambulatory_cpt_map_dated_exact_location_wins",
    "ambulatory_unmapped_cpt_held_as_exception",
}
# Sunrise staging models outside the charges' target (each Fusion object of Sunrise has its own
# target, with its marts): built by name.
SUNRISE_STAGING = (
    "stg_sunrise__clinicians",
    "stg_sunrise__supply_consumption",
    "stg_sunrise__device_assets",
)


# Landing sandbox data --------------------------------------------------------------------------
def land_sunrise(warehouse: Warehouse, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "sunrise.db")
    sunrise.generate(url, SEED, SCALE, START, DAYS)
    extract_sunrise(
        warehouse, "sunrise", url, "cdc", tmp_path / "dead_letter", tmp_path / "pipelines"
    )


def land_touchworks(warehouse: Warehouse, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "touchworks.db")
    touchworks.generate(url, SEED, SCALE, START, DAYS)
    extract_touchworks(
        warehouse, "touchworks", url, "change_tracking", tmp_path / "dead_letter",
        tmp_path / "pipelines",
    )  # fmt: skip


def land_practice_fusion(warehouse: Warehouse, tmp_path: Path) -> None:
    """The practices the sandbox generates for SEED and SCALE, as dbMotion knows them."""
    practices = build_practices(SEED, PRACTICES, practice_charges(SCALE))
    with PracticeFusionServer(practices) as server:
        credentials = [
            pf.PracticeCredentials(p, client_id(p), client_secret(p)) for p in server.practices
        ]
        report = pf.extract_practice_fusion(
            warehouse, "practice_fusion", server.url, credentials, tmp_path / "dead_letter",
            tmp_path / "pipelines", LimiterRegistry(), policy=FAST,
        )  # fmt: skip
    assert report.ok


def land_unity(warehouse: Warehouse, tmp_path: Path) -> None:
    credentials = unity.UnityCredentials(APPNAME, USERNAME, APP_USER, PASSWORD)
    with UnityServer(organisation(SEED, 20)) as server:
        report = unity.extract_unity(
            warehouse, "unity", server.url, credentials, tmp_path / "dead_letter",
            tmp_path / "pipelines", LimiterRegistry(), policy=FAST,
        )  # fmt: skip
    assert report.ok


# dbt and the warehouse -------------------------------------------------------------------------
def build(warehouse: Warehouse, work_dir: Path, source: str, *models: str) -> DbtOutcome:
    """`dbt build` of a source's catalog target (its GL journal where it has one, else its
    landing target) as a pseudonymized domain run does it, or of `models` by name when
    `source` is empty."""
    env = (
        warehouse.dbt_env(PHI_KEY)
        | dict.fromkeys(TARGET_SETTINGS_ENV, "")
        | {
            "EHRFUSION_PHI_MODE": "pseudonymized",
            "EHRFUSION_PHI_KEY_VERSION": "v1",
            "EHRFUSION_LEDGER_ID": "1",
            "EHRFUSION_LEDGER_NAME": "L",
            "EHRFUSION_JOURNAL_SOURCE": "S",
            "EHRFUSION_JOURNAL_CATEGORY": "C",
            "EHRFUSION_STREAM": "allscripts",
            "EHRFUSION_DOMAIN": "identity",
        }
        | catalog.contribution_environment(source or None)
    )
    Posting(warehouse).ensure()  # what Fusion posted: the Sunrise journal chain reads it
    if source:
        entry = catalog.source(source)
        selection = [*(entry.targets.get("GlInterface") or entry.landing).select]
    else:
        selection = [*models]
    selection = ["--select", *selection]
    outcome = run_dbt("build", [*selection, "--indirect-selection", "cautious"], env, work_dir)
    assert outcome.success, outcome.errors
    assert not outcome.failed_checks, [check.name for check in outcome.failed_checks]
    return outcome


def _constant(value: bytes):
    return lambda: value


def keyed_query(warehouse: Warehouse, sql: str) -> list[tuple]:
    """Rows of `sql` over a connection holding the PHI key the way dbt's do, so the staging
    views' pseudonyms can be read."""
    if warehouse.kind == "duckdb":
        with contextlib.closing(duckdb.connect(str(warehouse.duckdb_path))) as con:
            # dbt-duckdb may still hold the database in this process, its functions with it.
            known = {
                name
                for (name,) in con.execute(
                    "select function_name from duckdb_functions()"
                ).fetchall()
            }
            pads = zip((INNER_PAD_FUNCTION, OUTER_PAD_FUNCTION), hmac_pads(PHI_KEY), strict=True)
            for name, pad in pads:
                if name not in known:
                    con.create_function(name, _constant(pad), [], "BLOB", side_effects=False)
            return con.execute(sql).fetchall()
    with contextlib.closing(
        psycopg2.connect(warehouse.dsn, options=f"-c {PG_SETTING}={PHI_KEY}")
    ) as con:
        cursor = con.cursor()
        cursor.execute(sql)
        return cursor.fetchall()


def assert_no_identifier_left_staging(warehouse: Warehouse, work_dir: Path) -> None:
    """No canary value in any relation built outside the raw layer (staging views included),
    nor in dbt's target folder and logs; no key there either."""
    layers = ("staging", "intermediate", "marts", "test_failures")
    relations = warehouse.query(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in (%s, %s, %s, %s)",
        tuple(warehouse.schema(layer) for layer in layers),
    )
    assert relations
    for schema, name in relations:
        rows = keyed_query(warehouse, f'select * from "{schema}"."{name}"')
        assert not canary_hits(repr(rows)), f"{schema}.{name}"
    files = [path for path in work_dir.rglob("*") if path.is_file()]
    assert any(path.parent.name == "target" for path in files)
    for path in files:
        text = path.read_bytes()
        assert not canary_hits(text), path
        assert PHI_KEY.encode() not in text, path


def test_source_selectors_build_staging_without_raw_identifiers(warehouse, tmp_path):
    land_sunrise(warehouse, tmp_path)
    land_touchworks(warehouse, tmp_path)
    land_practice_fusion(warehouse, tmp_path)
    land_unity(warehouse, tmp_path)
    work_dir = tmp_path / "work"

    outcomes = {source: build(warehouse, work_dir, source) for source in SELECTOR_MODELS}
    staged = build(warehouse, work_dir, "", *SUNRISE_STAGING)

    assert {s: o.models for s, o in outcomes.items()} == SELECTOR_MODELS
    assert staged.models == len(SUNRISE_STAGING)
    unit_tests = [c.name for c in outcomes["allscripts_sunrise"].checks if c.kind == "unit_test"]
    # its staging's own unit test, and the journal chain's, which every GL domain build runs
    assert set(unit_tests) == {"stg_sunrise_sfm_overlay_wins_over_the_charge", *JOURNAL_UNIT_TESTS}

    for model, (layer, table, local_id, system) in PATIENT_MODELS.items():
        raw = warehouse.query(f"select {local_id} from {warehouse.schema(layer)}.{table}")
        expected = [
            (pseudonymize(str(i), "local_patient", PHI_KEY),
             pseudonymize(f"{system}:{i}", "patient", PHI_KEY))
            for (i,) in raw
        ]  # fmt: skip
        staging = warehouse.schema("staging")
        staged = keyed_query(
            warehouse, f"select patient_reference, patient_pseudonym from {staging}.{model}"
        )
        assert raw and sorted(staged) == sorted(expected), model
    columns = warehouse.query(
        "select column_name from information_schema.columns where table_schema = %s",
        (warehouse.schema("staging"),),
    )
    names = {name for (name,) in columns}
    assert not names & {"_deleted", "deleted", "patient_id", "patient_name", "mrn"}
    assert_no_identifier_left_staging(warehouse, work_dir)

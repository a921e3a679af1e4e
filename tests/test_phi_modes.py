"""The five PHI modes: the Python twin, and every mode end to end through the sandbox on DuckDB
and Postgres, checked in the Fusion files, the marts and the restricted surrogate map."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from load.formats import load_spec
from runtime.core.config import PHI_MODES, ConfigError, load_config
from runtime.core.phi import (
    PhiPolicy,
    load_restricted_zip3,
    pseudonymize,
    redact,
    safe_harbor_age,
    safe_harbor_year,
    safe_harbor_zip3,
    small_cell_count,
    tenant_key_version,
)
from runtime.core.targets import dbt_selection
from runtime.core.warehouse import Warehouse
from runtime.pipeline.dbt import run_dbt
from runtime.pipeline.run import dbt_environment
from sandbox.canaries import CANARY_ACCOUNTS, CANARY_MRNS, CANARY_VALUES
from sandbox.generate import generate
from tests.conftest import PHI_KEY, TENANT, write_config

SCALE = 600
COLUMNS = [c.name for c in load_spec("25B", "GlInterface").columns]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# The Python twin -------------------------------------------------------------------------------
def test_safe_harbor_building_blocks():
    restricted = load_restricted_zip3()
    assert safe_harbor_zip3("03601", restricted) == "000"
    assert safe_harbor_zip3(" 60614-1234", restricted) == "606"
    assert safe_harbor_zip3("12", restricted) is None
    assert safe_harbor_year(date(1950, 7, 4)) == 1950
    assert (safe_harbor_age(89), safe_harbor_age(90), safe_harbor_age(None)) == ("89", "90+", None)
    assert redact("Jane") is None
    assert (small_cell_count(10), small_cell_count(11)) == (None, 11)


@pytest.mark.parametrize("mode", PHI_MODES)
def test_the_python_twin_applies_each_mode(mode):
    policy = PhiPolicy(mode, PHI_KEY, "v3")
    restricted = load_restricted_zip3()
    reference = policy.patient_reference("MRN1", "mrn", surrogate="a-surrogate")
    expected = {
        "direct": "MRN1",
        "limited_data_set": None,
        "safe_harbor": "a-surrogate",
        "pseudonymized": pseudonymize("MRN1", "mrn", PHI_KEY),
        "aggregate_only": None,
    }
    assert reference == expected[mode]
    assert policy.key_version_reference() == ("v3" if mode == "pseudonymized" else None)
    assert policy.record_reference("J1") == (None if mode == "aggregate_only" else "J1")
    de_identified = mode in ("safe_harbor", "aggregate_only")
    assert policy.patient_date(date(2026, 10, 5)) == (None if de_identified else date(2026, 10, 5))
    assert policy.patient_zip("60614", restricted) == ("606" if de_identified else "60614")


def test_unknown_modes_and_malformed_key_versions_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="unknown PHI mode"):
        PhiPolicy("anonymous", PHI_KEY)
    assert tenant_key_version(TENANT) == "v1"
    monkeypatch.setenv(f"EHRFUSION__{TENANT.upper()}__PHI_KEY_VERSION", "2")
    with pytest.raises(ConfigError, match="phi_key_version"):
        tenant_key_version(TENANT)


# End to end ------------------------------------------------------------------------------------
@pytest.fixture
def sandbox(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sandbox")
    generate(root, seed=5, scale=SCALE)
    return root


def run_mode(root: Path, sandbox: Path, warehouse_arg: str, mode: str, *extra: str):
    """Run the domain with `mode`; return (exit code, summary, warehouse)."""
    authorised = {"phi_direct_authorisation": "BAA-2026-014"} if mode == "direct" else {}
    config_path = write_config(root, sandbox, phi_mode=mode, **authorised)
    args = ["run", "--config", str(config_path), "--tenant", TENANT, "--stream", "epic"]
    args += ["--domain", "gl_journal", "--warehouse", warehouse_arg, "--json", *extra]
    result = CliRunner().invoke(main, args)
    tenant = load_config(config_path).tenants[TENANT]
    return result.exit_code, json.loads(result.stdout), Warehouse.for_tenant(tenant, warehouse_arg)


def exported_rows(summary: dict) -> list[dict[str, str]]:
    rows = []
    for batch in summary["export"]["batches"]:
        with zipfile.ZipFile(batch["zip"]) as archive:
            text = archive.read("GlInterface.csv").decode("utf-8")
        rows += [dict(zip(COLUMNS, row, strict=True)) for row in csv.reader(io.StringIO(text))]
    assert rows
    return rows


def raw_identifiers(warehouse: Warehouse) -> dict[str, tuple[str, str]]:
    """Source line id -> (MRN, hospital account) from the raw layer."""
    raw = warehouse.schema("raw_epic")
    rows = warehouse.query(
        f"select journal_line_id, pat_mrn_id, hsp_account_id from {raw}.resolute_journal_lines"
    )
    return {str(line): (mrn, account) for line, mrn, account in rows}


@pytest.mark.parametrize("mode", PHI_MODES)
def test_every_mode_end_to_end(mode, tmp_path, sandbox, warehouse_arg, phi_key, monkeypatch):
    monkeypatch.setenv(f"EHRFUSION__{TENANT.upper()}__PHI_KEY_VERSION", "v2")
    code, summary, warehouse = run_mode(tmp_path, sandbox, warehouse_arg, mode)
    assert code == 0, summary
    assert summary["reconciliation"]["status"] == "reconciled"
    rows = exported_rows(summary)
    files = json.dumps(rows)
    references = [(r["REFERENCE23"], r["REFERENCE21"], r["REFERENCE22"]) for r in rows]

    if mode == "direct":
        identifiers = raw_identifiers(warehouse)
        assert any(canary in files for canary in CANARY_MRNS + CANARY_ACCOUNTS)
        for line, account, mrn in references:
            assert (mrn, account) == identifiers[line]
    else:
        assert not [canary for canary in CANARY_VALUES if canary in files]

    if mode in ("limited_data_set", "aggregate_only"):
        assert {(account, mrn) for _, account, mrn in references} == {("", "")}
    if mode == "aggregate_only":
        assert {(r["REFERENCE4"], r["REFERENCE23"]) for r in rows} == {("", "")}
    if mode == "pseudonymized":
        identifiers = raw_identifiers(warehouse)
        for line, account, mrn in references:
            raw_mrn, raw_account = identifiers[line]
            assert mrn == pseudonymize(raw_mrn, "mrn", phi_key)
            assert account == pseudonymize(raw_account, "hospital_account", phi_key)
        assert {r["REFERENCE24"] for r in rows} == {"v2"}
    else:
        assert {r["REFERENCE24"] for r in rows} == {""}


def test_safe_harbor_surrogates_are_random_stable_and_mapped_only_by_pseudonym(
    tmp_path, sandbox, warehouse_arg, phi_key
):
    code, summary, warehouse = run_mode(tmp_path, sandbox, warehouse_arg, "safe_harbor")
    assert code == 0, summary
    rows = exported_rows(summary)
    identifiers = raw_identifiers(warehouse)
    restricted = warehouse.schema("restricted")
    surrogates = {
        (kind, pseudonym): surrogate
        for kind, pseudonym, surrogate in warehouse.query(
            "select identifier_kind, identifier_pseudonym, surrogate "
            f"from {restricted}.restricted__identifier_surrogates"
        )
    }
    raw_values = {value for pair in identifiers.values() for value in pair}
    assert not raw_values & {value for key in surrogates for value in key}

    for row in rows:
        raw_mrn, raw_account = identifiers[row["REFERENCE23"]]
        mrn_pseudonym = pseudonymize(raw_mrn, "mrn", phi_key)
        assert UUID.match(row["REFERENCE22"]) and row["REFERENCE22"] != mrn_pseudonym
        assert row["REFERENCE22"] == surrogates[("mrn", mrn_pseudonym)]
        account_pseudonym = pseudonymize(raw_account, "hospital_account", phi_key)
        assert row["REFERENCE21"] == surrogates[("hospital_account", account_pseudonym)]

    # A second run assigns nothing new and re-exports the same bytes (else exit 4).
    day = summary["export"]["batches"][0]["feed_date"]
    code, again, _ = run_mode(tmp_path, sandbox, warehouse_arg, "safe_harbor", "--feed-date", day)
    assert code == 0, again
    assert again["export"]["batches"][0]["reexport"] is True
    count = warehouse.query(f"select count(*) from {restricted}.restricted__identifier_surrogates")
    assert count == [(len(surrogates),)]


def test_switching_modes_between_runs_reparses_the_project(tmp_path, sandbox, phi_key):
    assert run_mode(tmp_path, sandbox, "duckdb", "pseudonymized")[0] == 0
    code, _, warehouse = run_mode(tmp_path, sandbox, "duckdb", "limited_data_set")
    assert code == 0
    marts = warehouse.schema("marts")
    carried = warehouse.query(
        f"select count(*) from {marts}.fusion__gl_interface "
        "where reference21 is not null or reference22 is not null or reference24 is not null"
    )
    assert carried == [(0,)]


def test_every_fusion_bound_mart_is_tested_against_the_mode(tmp_path, sandbox, phi_key):
    assert run_mode(tmp_path, sandbox, "duckdb", "pseudonymized")[0] == 0
    target = tmp_path / "work" / TENANT / "dbt" / "target"
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    checks = {
        test_id: node["depends_on"]["nodes"]
        for test_id, node in nodes.items()
        if node.get("test_metadata", {}).get("name") == "obeys_phi_mode"
    }
    # The tables patient identifiers come from: the ones the checks compare outbound values with.
    patient_sources = {n for models in checks.values() for n in models if n.startswith("source.")}

    def reads_patients(key: str) -> bool:
        parents = nodes.get(key, {}).get("depends_on", {}).get("nodes", [])
        return any(p in patient_sources or reads_patients(p) for p in parents)

    marts = {
        key
        for key, node in nodes.items()
        if node["resource_type"] == "model"
        and node["name"].startswith(("fusion__", "exceptions__"))
        and reads_patients(key)  # inventory, asset and worker marts read no patient table
    }
    assert marts and marts <= {model for models in checks.values() for model in models}
    # Every check on a mart this domain built against the identifiers of a source this domain
    # read ran and passed (the journal chain's marts carry one check per GL source).
    results = json.loads((target / "run_results.json").read_text())["results"]
    built = {r["unique_id"] for r in results if r["unique_id"] in marts}

    # the source tables this domain's build read (the staging models it ran select from them)
    read = {
        parent
        for r in results
        for parent in nodes.get(r["unique_id"], {}).get("depends_on", {}).get("nodes", [])
        if parent.startswith("source.")
    }
    own = {
        test
        for test, models in checks.items()
        if built & set(models) and {m for m in models if m.startswith("source.")} <= read
    }
    assert own and {
        r["unique_id"]: r["status"] for r in results if r["unique_id"] in checks
    } == dict.fromkeys(own, "pass")


def test_a_mart_built_in_one_mode_fails_the_check_of_a_stricter_one(tmp_path, sandbox, phi_key):
    assert run_mode(tmp_path, sandbox, "duckdb", "direct")[0] == 0
    config = load_config(tmp_path / "ehrfusion.yml")
    _, _, domain = config.domain(TENANT, "epic", "gl_journal")
    warehouse = Warehouse.for_tenant(config.tenants[TENANT], "duckdb")
    env = dbt_environment(warehouse, "epic", domain, phi_key) | {
        "EHRFUSION_PHI_MODE": "limited_data_set"
    }
    work = tmp_path / "work" / TENANT / "dbt"
    selection = [*dbt_selection(domain), "--indirect-selection", "cautious"]
    outcome = run_dbt("test", selection, env, work)
    assert not outcome.success
    # Every mart that carries patient references fails; the finance review list has none.
    statuses = {c.name: c.status for c in outcome.checks if c.name.startswith("obeys_phi_mode")}
    carrying = {name for name in statuses if "closed_period_corrections" not in name}
    assert carrying and {statuses[name] for name in carrying} == {"fail"}

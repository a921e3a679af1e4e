"""The config file: tenants -> streams -> domains, validated strictly before anything runs."""

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from runtime.core.config import ConfigError, load_config
from tests.conftest import write_config


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, tmp_path / "sandbox")


def edit(path: Path, change) -> Path:
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document))
    return path


def domain_of(document: dict) -> dict:
    return document["tenants"]["testhosp"]["streams"]["epic"]["domains"]["gl_journal"]


def test_the_shipped_example_config_is_valid():
    config = load_config(Path(__file__).parent.parent / "ehrfusion.yml")
    tenant, _, domain = config.domain("stmarys", "epic", "gl_journal")
    assert domain.cadence == "daily"
    assert domain.fusion.ledger_name == "EHF US Primary Ledger"
    assert tenant.warehouse.kind == "duckdb"


def test_an_unknown_key_is_named_with_its_path_and_the_allowed_keys(config_path):
    edit(config_path, lambda d: domain_of(d).update(cadance="daily"))
    with pytest.raises(ConfigError) as error:
        load_config(config_path)
    assert error.value.path == "tenants.testhosp.streams.epic.domains.gl_journal.cadance"
    assert "unknown key" in str(error.value)
    assert "cadence" in str(error.value)


def test_a_missing_ledger_is_named(config_path):
    edit(config_path, lambda d: domain_of(d)["fusion"].pop("ledger_id"))
    with pytest.raises(ConfigError) as error:
        load_config(config_path)
    assert error.value.path == "tenants.testhosp.streams.epic.domains.gl_journal.fusion.ledger_id"
    assert "required" in str(error.value)


def test_a_bad_cadence_lists_what_is_allowed(config_path):
    edit(config_path, lambda d: domain_of(d).update(cadence="weekly"))
    with pytest.raises(ConfigError) as error:
        load_config(config_path)
    assert "'weekly' is not one of: realtime, 15min, hourly, daily, monthly" in str(error.value)


def test_a_wrong_type_is_reported(config_path):
    edit(config_path, lambda d: domain_of(d)["fusion"].update(ledger_id="not-a-number"))
    with pytest.raises(ConfigError, match=r"fusion\.ledger_id: expected int"):
        load_config(config_path)


@pytest.mark.parametrize("release", ["24A", "latest"])
def test_a_release_without_format_specs_is_refused_with_the_releases_shipped(config_path, release):
    edit(config_path, lambda d: domain_of(d)["fusion"].update(release=release))
    with pytest.raises(
        ConfigError, match=r"fusion\.release: no format spec of GlInterface"
    ) as error:
        load_config(config_path)
    assert "releases shipped: 25B, 26C" in str(error.value)
    result = CliRunner().invoke(main, ["config", "validate", "--config", str(config_path)])
    assert result.exit_code == 2 and "releases shipped" in result.output


def test_a_release_between_shipped_ones_takes_the_earlier_ones_specs(config_path):
    edit(config_path, lambda d: domain_of(d)["fusion"].update(release="26A"))
    _, _, domain = load_config(config_path).domain("testhosp", "epic", "gl_journal")
    assert domain.fusion.release == "26A"


def test_credentials_have_no_place_in_the_yaml(config_path):
    edit(config_path, lambda d: d["tenants"]["testhosp"]["warehouse"].update(password="x"))
    with pytest.raises(ConfigError, match=r"warehouse\.password: unknown key"):
        load_config(config_path)


def test_the_cli_stops_with_exit_code_2_and_runs_nothing(config_path, tmp_path):
    edit(config_path, lambda d: domain_of(d).update(cadence="weekly"))
    args = ["--config", str(config_path), "--tenant", "testhosp", "--stream", "epic"]
    result = CliRunner().invoke(main, ["run", *args, "--domain", "gl_journal"])
    assert result.exit_code == 2
    assert "cadence" in result.output
    assert not (tmp_path / "work").exists()
    assert not (tmp_path / "warehouse").exists()


def test_direct_identifiers_need_a_named_authorisation(config_path):
    edit(config_path, lambda d: domain_of(d).update(phi_mode="direct"))
    with pytest.raises(ConfigError, match=r"gl_journal\.phi_direct_authorisation: phi_mode direct"):
        load_config(config_path)


def test_an_unconfigured_domain_lists_the_configured_ones(config_path):
    with pytest.raises(ConfigError, match="configured: gl_journal"):
        load_config(config_path).domain("testhosp", "epic", "charges")


def test_a_daily_domain_needs_its_time_of_day(config_path):
    edit(config_path, lambda d: domain_of(d).pop("run_at"))
    with pytest.raises(ConfigError, match=r"run_at: required for cadence daily"):
        load_config(config_path)


def test_a_monthly_domain_needs_the_day_after_period_close(config_path):
    edit(config_path, lambda d: domain_of(d).update(cadence="monthly"))
    with pytest.raises(ConfigError, match=r"month_day: required for cadence monthly"):
        load_config(config_path)


def test_an_unknown_timezone_is_named(config_path):
    edit(config_path, lambda d: d["tenants"]["testhosp"].update(timezone="Mars/Olympus"))
    with pytest.raises(ConfigError, match=r"testhosp\.timezone: 'Mars/Olympus' is not an IANA"):
        load_config(config_path)


def test_audit_and_disclosure_defaults(config_path, tmp_path):
    tenant, _, domain = load_config(config_path).domain("testhosp", "epic", "gl_journal")
    assert tenant.audit.mirror_file == tmp_path / "audit" / "testhosp.disclosures.jsonl"
    assert tenant.audit.syslog is None
    assert domain.disclosure.recipient == "Oracle Fusion Cloud (EHF US Primary Ledger)"


def test_a_source_can_feed_only_one_domain_per_tenant(config_path):
    def second_stream(document):
        streams = document["tenants"]["testhosp"]["streams"]
        streams["epic2"] = {"domains": {"gl_journal": dict(domain_of(document))}}

    edit(config_path, second_stream)
    with pytest.raises(ConfigError, match=r"a tenant holds one instance of each source"):
        load_config(config_path)


def landing_domain(document: dict, **values) -> dict:
    """Add a stream `veradigm` with one domain of the given settings; return the domain."""
    domain = {"source": "practice_fusion", "endpoint": "practice_fusion", "cadence": "15min"}
    domain |= {"phi_mode": "pseudonymized", "practices": ["pf1001", "pf1002"]} | values
    streams = document["tenants"]["testhosp"]["streams"]
    streams["veradigm"] = {"domains": {"pf": domain}}
    return domain


def test_a_landing_domain_needs_no_fusion_block_and_lists_its_practices(config_path):
    edit(config_path, landing_domain)
    _, _, domain = load_config(config_path).domain("testhosp", "veradigm", "pf")
    assert domain.fusion is None
    assert domain.practices == ("pf1001", "pf1002")
    assert domain.disclosure.recipient == "ehrfusion warehouse"


@pytest.mark.parametrize(
    ("values", "key", "says"),
    [
        ({"practices": []}, "practices", "list the Practice Fusion practice ids"),
        ({"practices": ["PF 1001"]}, "practices", "list the Practice Fusion practice ids"),
        ({"source": "veradigm_unity", "endpoint": "u"}, "practices", "only for source"),
        (
            {"source": "dbmotion_identity", "practices": None, "fusion": {"object": "GlInterface"}},
            "fusion",
            "has no Fusion mart yet",
        ),
    ],
)
def test_landing_domain_mistakes_are_named(config_path, values, key, says):
    edit(config_path, lambda d: landing_domain(d, **values))
    with pytest.raises(ConfigError) as error:
        load_config(config_path)
    assert error.value.path == f"tenants.testhosp.streams.veradigm.domains.pf.{key}"
    assert says in str(error.value)

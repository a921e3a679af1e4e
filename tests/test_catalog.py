"""The source catalog declares each source once: nothing outside it (and the source's own
extract package) names a source, every source contributes one model per Fusion object it feeds
in that object's canonical shape (the journal chain's, each record object's), and every
catalogued object has a format spec."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from load.formats import available_objects
from runtime.core import catalog
from runtime.core.config import source_phi_modes

ROOT = Path(__file__).resolve().parent.parent
DBT = ROOT / "dbt_project"


def test_no_other_module_of_the_product_names_a_source():
    names = "|".join(map(re.escape, catalog.SOURCES))
    quoted = re.compile(rf"[\"']({names})[\"']")
    modules = [
        ROOT / "cli.py",
        *(p for d in ("runtime", "load", "extract") for p in (ROOT / d).rglob("*.py")),
    ]
    found = {}
    for path in modules:
        rel = path.relative_to(ROOT).as_posix()
        # the catalog, and a source's own extract settings naming its dlt source
        if rel == "runtime/core/catalog.py" or (
            rel.startswith("extract/") and path.name == "settings.py"
        ):
            continue
        if names_found := set(quoted.findall(path.read_text(encoding="utf-8"))):
            found[rel] = names_found
    assert found == {}


def test_each_source_extract_resolves_to_a_landing_function():
    for source in catalog.SOURCES.values():
        module, function = source.extract.split(":")
        assert callable(getattr(__import__(module, fromlist=[function]), function)), source.name


def contracted_models(contracts_file: str) -> tuple[dict, list[str]]:
    """The enforced models of a contributions file and its column list."""
    contracts = yaml.safe_load((DBT / "models/intermediate" / contracts_file).read_text())
    contracted = {
        m["name"]: m
        for m in contracts["models"]
        if m.get("config", {}).get("contract", {}).get("enforced")
    }
    return contracted, [c["name"] for c in contracts["models"][0]["columns"]]


def test_every_gl_source_contributes_one_model_of_journal_lines_or_of_charges():
    journal_contracts, journal_columns = contracted_models("_journal__contributions.yml")
    charge_contracts, charge_columns = contracted_models("_charges__contributions.yml")
    gl_targets = {
        source.name: target
        for source in catalog.SOURCES.values()
        for target in source.targets.values()
        if target.journal
    }
    assert gl_targets, "no GL source in the catalog"
    assert any(t.charges for t in gl_targets.values()), "no charge source in the catalog"
    for name, target in gl_targets.items():
        # a charge source's charges become journal lines in the chain's one charge model
        own = target.charges or target.journal.model
        contracted, columns = (
            (charge_contracts, charge_columns)
            if target.charges
            else (journal_contracts, journal_columns)
        )
        if target.charges:
            assert target.journal.model == catalog.CHARGE_JOURNAL_LINES
        assert own in contracted, f"{name}: {own} has no enforced contract"
        assert [c["name"] for c in contracted[own]["columns"]] == columns
        sql = next(DBT.joinpath("models").rglob(f"{own}.sql")).read_text()
        assert f"'{name}' as data_source" in sql
        # the chain selection starts from the contribution and builds the one journal chain
        assert f"+{own}" in source_target(name).select
        assert catalog.JOURNAL_CHAIN in source_target(name).select


def source_target(name: str) -> catalog.Target:
    return catalog.SOURCES[name].targets["GlInterface"]


def test_the_contribution_environment_names_every_contribution_and_the_domains_own():
    env = catalog.contribution_environment("veradigm_unity")
    assert env["EHRFUSION_JOURNAL_MODEL"] == catalog.CHARGE_JOURNAL_LINES
    assert env["EHRFUSION_CHARGE_MODEL"] == "int_unity__charges"
    assert "int_touchworks__charges" in env["EHRFUSION_CHARGE_MODELS"].split(",")
    assert catalog.contribution_environment("epic_resolute_journal")["EHRFUSION_CHARGE_MODEL"] == ""
    assert set(env["EHRFUSION_JOURNAL_MODELS"].split(",")) == {
        t.journal.model for s in catalog.SOURCES.values() for t in s.targets.values() if t.journal
    }
    assert catalog.contribution_environment("dbmotion_identity")["EHRFUSION_JOURNAL_MODEL"] == ""


def record_targets() -> dict[tuple[str, str], catalog.Target]:
    return {
        (source.name, fusion_object): target
        for source in catalog.SOURCES.values()
        for fusion_object, target in source.targets.items()
        if fusion_object in catalog.RECORD_OBJECTS
    }


def test_every_record_source_contributes_one_model_per_object_under_its_contract():
    targets = record_targets()
    assert {o for _, o in targets} == set(catalog.RECORD_OBJECTS), "an object nobody feeds"
    for (name, fusion_object), target in targets.items():
        chain = catalog.RECORD_OBJECTS[fusion_object]
        contracts = yaml.safe_load(
            (DBT / f"models/intermediate/_{chain.chain}__contributions.yml").read_text()
        )
        contracted = {
            m["name"]: m for m in contracts["models"] if m["config"]["contract"]["enforced"]
        }
        columns = [c["name"] for c in contracts["models"][0]["columns"]]
        assert target.contribution in contracted, f"{name}: {target.contribution} has no contract"
        assert [c["name"] for c in contracted[target.contribution]["columns"]] == columns
        assert target.contribution.startswith("int_")
        assert target.contribution.endswith(f"__{chain.chain}")
        sql = next(DBT.joinpath("models").rglob(f"{target.contribution}.sql")).read_text()
        assert f"'{name}' as data_source" in sql
        # the contribution with its upstream, then the object's shared models (by their tag)
        assert target.select == (f"+{target.contribution}", f"tag:{chain.chain}")
        assert (target.marts, target.exceptions) == (chain.marts, chain.exceptions)


def test_the_record_objects_shared_models_pick_the_domains_contribution_from_the_catalog():
    env = catalog.contribution_environment("allscripts_sunrise")
    for fusion_object, chain in catalog.RECORD_OBJECTS.items():
        name = f"EHRFUSION_{chain.chain.upper()}_MODEL"
        feeding = {t.contribution for (_, o), t in record_targets().items() if o == fusion_object}
        assert set(env[f"{name}S"].split(",")) == feeding
        assert (
            env[name] == catalog.SOURCES["allscripts_sunrise"].targets[fusion_object].contribution
        )
        assert catalog.contribution_environment("epic_resolute_journal")[name] == ""
        # one model picks it, by the object's name in that environment; the marts and the
        # exceptions are written once (no source's name in them)
        picks = [
            p for p in DBT.joinpath("models").rglob("*.sql")
            if f"domain_contribution('{chain.chain}')" in p.read_text()
        ]  # fmt: skip
        assert [p.stem for p in picks] == [f"int_{chain.chain}"]
        for mart in (*chain.marts.values(), chain.exceptions):
            assert next(DBT.joinpath("models/marts/fusion", chain.chain).glob(f"{mart}.sql"))


def test_every_catalogued_fusion_object_has_a_format_spec_and_phi_modes():
    shipped = set(available_objects("25B"))
    for source in catalog.SOURCES.values():
        assert set(source.targets) <= shipped, source.name
        modes = source_phi_modes(source.name)
        assert ("safe_harbor" in modes) == source.safe_harbor
        assert source.targets or source.landing is not None, source.name

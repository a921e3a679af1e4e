"""The source catalog declares each source once: nothing outside it (and the source's own
extract package) names a source, every GL source contributes one model to the journal chain
in the canonical shape, and every catalogued object has a format spec."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from load.formats import available_objects
from runtime import catalog
from runtime.config import source_phi_modes

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
        if rel == "runtime/catalog.py" or (
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


def test_every_gl_source_contributes_one_model_under_the_journal_contract():
    contracts = yaml.safe_load(
        (DBT / "models/intermediate/_journal__contributions.yml").read_text()
    )
    contracted = {m["name"]: m for m in contracts["models"] if m["config"]["contract"]["enforced"]}
    journals = {
        source.name: target.journal
        for source in catalog.SOURCES.values()
        for target in source.targets.values()
        if target.journal
    }
    assert journals, "no GL source in the catalog"
    columns = [c["name"] for c in contracts["models"][0]["columns"]]
    for name, journal in journals.items():
        assert journal.model in contracted, f"{name}: {journal.model} has no enforced contract"
        assert [c["name"] for c in contracted[journal.model]["columns"]] == columns
        sql = next(DBT.joinpath("models").rglob(f"{journal.model}.sql")).read_text()
        assert f"'{name}' as data_source" in sql
        # the chain selection starts from the contribution and builds the one journal chain
        assert f"+{journal.model}" in source_target(name).select
        assert catalog.JOURNAL_CHAIN in source_target(name).select


def source_target(name: str) -> catalog.Target:
    return catalog.SOURCES[name].targets["GlInterface"]


def test_the_journal_environment_names_every_contribution_and_the_domains_own():
    env = catalog.journal_environment("veradigm_unity")
    assert env["EHRFUSION_JOURNAL_MODEL"] == "int_unity__journal_lines"
    assert set(env["EHRFUSION_JOURNAL_MODELS"].split(",")) == {
        t.journal.model for s in catalog.SOURCES.values() for t in s.targets.values() if t.journal
    }
    assert catalog.journal_environment("dbmotion_identity")["EHRFUSION_JOURNAL_MODEL"] == ""


def test_every_catalogued_fusion_object_has_a_format_spec_and_phi_modes():
    shipped = set(available_objects("25B"))
    for source in catalog.SOURCES.values():
        assert set(source.targets) <= shipped, source.name
        modes = source_phi_modes(source.name)
        assert ("safe_harbor" in modes) == source.safe_harbor
        assert source.targets or source.landing is not None, source.name

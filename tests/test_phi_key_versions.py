"""A PHI key version names one key: a different key under the same version is refused before
anything is read (exit 2, naming the fix), a deliberate rotation to a new version goes through,
and only a keyed fingerprint of each key is stored, on DuckDB and Postgres."""

from __future__ import annotations

import pytest

from runtime.core.config import ConfigError
from runtime.core.phi_keys import check_key_version, key_fingerprint
from tests.conftest import PHI_KEY, TENANT

OTHER_KEY = "another-valid-phi-key-fedcba9876543210fedcba98"


def test_another_key_under_the_same_version_is_refused(warehouse):
    check_key_version(warehouse, PHI_KEY, "v1")
    check_key_version(warehouse, PHI_KEY, "v1")  # the same key again
    with pytest.raises(ConfigError) as refused:
        check_key_version(warehouse, OTHER_KEY, "v1")
    assert refused.value.path == f"ehrfusion.{TENANT}.phi_key"
    assert "phi_key_version to a new version, e.g. v2" in refused.value.problem
    assert OTHER_KEY not in str(refused.value) and PHI_KEY not in str(refused.value)

    check_key_version(warehouse, OTHER_KEY, "v2")  # a deliberate rotation
    check_key_version(warehouse, PHI_KEY, "v1")  # the old version keeps its own key
    with pytest.raises(ConfigError, match=r"e\.g\. v3"):
        check_key_version(warehouse, PHI_KEY, "v2")

    stored = warehouse.query(
        f"select version, fingerprint from {warehouse.schema('ops')}.phi_key_versions "
        "order by version"
    )
    assert stored == [
        ("v1", key_fingerprint(PHI_KEY, TENANT, "v1")),
        ("v2", key_fingerprint(OTHER_KEY, TENANT, "v2")),
    ]
    assert all(PHI_KEY not in f and OTHER_KEY not in f for _, f in stored)


def test_a_run_with_another_key_under_the_same_version_exits_2(world, monkeypatch):
    check_key_version(world.warehouse, PHI_KEY, "v1")  # what an earlier run recorded
    monkeypatch.setenv(f"EHRFUSION__{TENANT.upper()}__PHI_KEY", OTHER_KEY)
    code, summary = world.run()
    assert code == 2
    assert "phi_key_version" in summary["error"] and "new version" in summary["error"]
    raw = world.warehouse.query(
        "select count(*) from information_schema.tables where table_schema = %s",
        (world.warehouse.schema("raw_epic"),),
    )
    assert raw == [(0,)]  # nothing was read

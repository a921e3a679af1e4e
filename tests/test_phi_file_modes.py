"""Files and folders that can hold PHI are the owner's only: the raw warehouse file, the
dead-letter store (original bytes of rejected feed files) and dlt's working folders."""

from __future__ import annotations

import stat

from tests.conftest import TENANT


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_warehouse_dead_letters_and_dlt_folders_are_owner_only(world):
    truncated = world.drop / "resolute_journal_20261003.parquet"
    truncated.write_bytes(truncated.read_bytes()[:500])  # goes to the dead-letter store

    code, summary = world.run()

    assert code == 0, summary
    dead_letters = world.root / "dead_letter" / TENANT / "epic" / "gl_journal"
    quarantined = list(dead_letters.iterdir())
    assert quarantined and mode(dead_letters) == 0o700
    assert {mode(path) for path in quarantined} == {0o600}
    assert mode(world.root / "work" / TENANT / "epic" / "gl_journal" / "dlt") == 0o700
    if world.warehouse.kind == "duckdb":
        assert mode(world.warehouse.duckdb_path) == 0o600
        assert mode(world.warehouse.duckdb_path.parent) == 0o700

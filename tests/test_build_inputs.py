"""A run with nothing new reuses the domain's last build; anything new builds again."""

from __future__ import annotations

import shutil
from datetime import date

import runtime.pipeline.run as run_module
from runtime.pipeline.build_inputs import INPUTS_FILE
from sandbox.generate import generate
from tests.conftest import TENANT, WORLD_SCALE


def test_a_run_with_nothing_new_reuses_the_last_build_and_new_data_builds(
    world, tmp_path, monkeypatch, phi_key
):
    builds = []
    real_run_dbt = run_module.run_dbt

    def counted(*args, **kwargs):
        builds.append(args[0])
        return real_run_dbt(*args, **kwargs)

    monkeypatch.setattr(run_module, "run_dbt", counted)

    code, first = world.run()
    assert code == 0 and builds == ["build"]
    kept = world.root / "work" / TENANT / "epic" / "gl_journal" / INPUTS_FILE
    assert kept.exists() and phi_key not in kept.read_text()

    # Nothing landed and nothing else changed (the first run's own hand-over included).
    code, again = world.run()
    assert code == 0 and builds == ["build"]
    assert again["dbt"] == first["dbt"]
    assert again["export"]["batches"] == []

    generate(
        tmp_path / "next", seed=11, scale=WORLD_SCALE // 31, start_date=date(2026, 11, 1), days=1
    )
    new_file = "resolute_journal_20261101.parquet"
    shutil.copy(tmp_path / "next" / "epic" / "resolute" / new_file, world.drop / new_file)
    code, new_day = world.run()
    assert code == 0 and builds == ["build", "build"]
    assert [b["feed_date"] for b in new_day["export"]["batches"]] == ["2026-11-01"]

    code, after = world.run()
    assert code == 0 and builds == ["build", "build"]
    assert after["export"]["batches"] == []

"""The journal chain's tables are shared by a tenant's GL domains: two streams building them at
the same time on Postgres neither block nor corrupt each other, and a domain's build never
rebuilds another domain's rows."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

from runtime.core.config import load_config
from runtime.core.warehouse import Warehouse
from runtime.operations.tick import tick
from runtime.pipeline.run import run_domain
from sandbox.generate import generate
from tests.conftest import TENANT, write_config

# The chain's tables with the column their rows are told apart by.
CHAIN = (
    ("intermediate", "int_journal_lines_validated", "source_line_id"),
    ("intermediate", "int_journal_line_deltas", "source_line_id"),
    ("marts", "fusion__gl_interface", "source_line_id"),
    ("marts", "exceptions__gl_journal_lines", "source_line_id"),
    ("marts", "recon__gl_journal_daily", "batch_date"),
)


def two_gl_streams(tmp_path):
    """Epic's journal feed and Sunrise's charges, each a GL domain of its own stream."""
    sandbox_dir = tmp_path / "sandbox"
    generate(sandbox_dir, seed=5, scale=2000)
    config_path = write_config(tmp_path, sandbox_dir)
    document = yaml.safe_load(config_path.read_text())
    streams = document["tenants"][TENANT]["streams"]
    epic = streams["epic"]["domains"]["gl_journal"]
    charges = epic | {
        "source": "allscripts_sunrise",
        "endpoint": "allscripts_sunrise",
        "fusion": epic["fusion"] | {"journal_source": "Sunrise"},
    }
    streams["sunrise"] = {"domains": {"charges": charges}}
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))
    return config_path


def domain_rows(warehouse: Warehouse) -> dict[tuple[str, str], tuple]:
    """Per chain table and domain: its rows and a fingerprint of their keys."""
    found = {}
    for layer, table, key in CHAIN:
        rows = warehouse.query(
            "select stream_name || '/' || domain_name, count(*), "
            f"md5(string_agg(cast({key} as varchar), ',' order by {key})) "
            f"from {warehouse.schema(layer)}.{table} group by 1"
        )
        found.update({(table, owner): (n, mark) for owner, n, mark in rows})
    return found


def test_two_streams_build_the_shared_chain_at_once_and_keep_their_rows_apart(
    tmp_path, phi_key, pg_dsn
):
    config_path = two_gl_streams(tmp_path)
    config = load_config(config_path)

    result = tick(config, config_path, datetime.now(UTC), pg_dsn)

    outcomes = {o.stream: (o.status, o.exit_code) for o in result.outcomes}
    assert outcomes == {"epic": ("ok", 0), "sunrise": ("ok", 0)}
    warehouse = Warehouse.for_tenant(config.tenants[TENANT], pg_dsn)
    built = domain_rows(warehouse)
    for _, table, _ in CHAIN:
        owners = {owner for (t, owner) in built if t == table}
        # both domains' rows, side by side (a domain may well have nothing held)
        expected = {"epic/gl_journal", "sunrise/charges"}
        assert owners <= expected if table.startswith("exceptions") else owners == expected, table

    # Epic builds again (nothing new lands): Sunrise's rows are exactly as its own build left them.
    again = run_domain(config, TENANT, "epic", "gl_journal", pg_dsn)
    assert again.status == "ok"
    rebuilt = domain_rows(warehouse)
    assert {k: v for k, v in rebuilt.items() if k[1] == "sunrise/charges"} == {
        k: v for k, v in built.items() if k[1] == "sunrise/charges"
    }
    assert {k: v for k, v in rebuilt.items() if k[1] == "epic/gl_journal"} == {
        k: v for k, v in built.items() if k[1] == "epic/gl_journal"
    }

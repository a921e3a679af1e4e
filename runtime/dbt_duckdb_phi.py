"""dbt-duckdb plugin: registers `ehrfusion_pseudonymize(kind, value)` on every connection.

Listed under `plugins:` in dbt_project/profiles.yml. The key is read from the process
environment when the connection opens, so it is never part of the profile, a var or the SQL.
"""

from __future__ import annotations

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from runtime.phi import key_from_env, pseudonymize

UDF_NAME = "ehrfusion_pseudonymize"


def _udf(key: str):
    def pseudonymize_batch(kinds: pa.Array, values: pa.Array) -> pa.Array:
        pairs = zip(kinds.to_pylist(), values.to_pylist(), strict=True)
        return pa.array([pseudonymize(v, k, key) for k, v in pairs], type=pa.string())

    return pseudonymize_batch


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        conn.create_function(
            UDF_NAME,
            _udf(key_from_env()),
            ["VARCHAR", "VARCHAR"],
            "VARCHAR",
            type="arrow",
            side_effects=False,
        )

"""dbt-duckdb plugin: registers `ehrfusion_pseudonymize(kind, value)` on every connection.

Listed under `plugins:` in dbt_project/profiles.yml. The key is read from the process
environment when the connection opens, so it is never part of the profile, a var or the SQL.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from runtime.phi import key_from_env, keyed_digest

UDF_NAME = "ehrfusion_pseudonymize"
# DuckDB hands the UDF small vectors; a patient appears on many lines across them, so digests
# are remembered for the connection's lifetime (bounded, in process memory only).
CACHE_LIMIT = 2_000_000


def _udf(key: str):
    cache: dict[str, str] = {}

    def digest(message: str | None) -> str | None:
        if message is None:
            return None
        found = cache.get(message)
        if found is None:
            found = cache[message] = keyed_digest(message, key)
        return found

    def pseudonymize_batch(kinds: pa.Array, values: pa.Array) -> pa.Array:
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        messages = pc.binary_join_element_wise(kinds, values, ":")
        distinct = pc.unique(messages)
        digests = pa.array([digest(m) for m in distinct.to_pylist()], type=pa.string())
        return pc.take(digests, pc.index_in(messages, distinct))

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

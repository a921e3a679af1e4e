"""dbt-duckdb plugin: gives every dbt connection the HMAC key pads for `pseudonymize()`.

Listed under `plugins:` in dbt_project/profiles.yml. HMAC-SHA256 is
sha256(outer_pad || sha256(inner_pad || message)) with the pads derived from the key (RFC 2104).
The pads come from two argument-less functions registered here, which DuckDB folds to constants
once per query, so the hashing itself runs natively and in parallel. The key is read from the
process environment when the connection opens: it is never part of the profile, a var, the SQL
text or anything dbt writes.
"""

from __future__ import annotations

import hashlib

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from runtime.core.phi import key_from_env

INNER_PAD_FUNCTION = "ehrfusion_phi_inner_pad"
OUTER_PAD_FUNCTION = "ehrfusion_phi_outer_pad"
_BLOCK = 64  # SHA-256 block size in bytes


def hmac_pads(key: str) -> tuple[bytes, bytes]:
    """The (inner, outer) padded keys of HMAC-SHA256 for `key`."""
    raw = key.encode()
    if len(raw) > _BLOCK:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in raw), bytes(b ^ 0x5C for b in raw)


def _constant(value: bytes):
    return lambda: value


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        inner, outer = hmac_pads(key_from_env())
        for name, pad in ((INNER_PAD_FUNCTION, inner), (OUTER_PAD_FUNCTION, outer)):
            conn.create_function(name, _constant(pad), [], "BLOB", side_effects=False)

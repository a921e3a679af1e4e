"""One PHI key per key version: a keyed fingerprint of each version's key, never the key.

Pseudonyms are only comparable when they were made with the same key, and outbound files say
which key made them by its version (REFERENCE24 in pseudonymized mode). The first run under a
version records the fingerprint of its key in `<tenant>_ops.phi_key_versions`; every later
run under that version must present a key with the same fingerprint, or stops (exit 2) before
it reads anything: a different key under the same version would send new pseudonyms for the
same patients while the files still claim the old version. A deliberate rotation is a new key
with a new version (`phi_key_version`), which records its own fingerprint; an older version
stays usable with its own key.

The fingerprint is HMAC-SHA256 of a fixed label naming the tenant and version, keyed with the
PHI key: it identifies the key without revealing it, and differs from every pseudonym (whose
messages are `<kind>:<value>`).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from runtime.core.config import ConfigError
from runtime.core.warehouse import Warehouse

TABLE = "phi_key_versions"


def key_fingerprint(key: str, tenant: str, version: str) -> str:
    """The keyed fingerprint of `key` as `version` of `tenant`'s PHI key."""
    label = f"ehrfusion phi key fingerprint/{tenant}/{version}".encode()
    return hmac.new(key.encode(), label, hashlib.sha256).hexdigest()


def check_key_version(warehouse: Warehouse, key: str, version: str) -> None:
    """Record the fingerprint of `version`'s key on its first use; afterwards refuse (a
    ConfigError, exit 2) a key whose fingerprint differs from the one recorded."""
    tenant = warehouse.tenant
    fingerprint = key_fingerprint(key, tenant, version)
    schema = warehouse.schema("ops")
    with warehouse.connect() as con:
        cur = con.cursor()
        statements = [
            f"create schema if not exists {schema}",
            f"create table if not exists {schema}.{TABLE} (version varchar primary key, "
            "fingerprint varchar(64) not null, first_used_at varchar(32) not null)",
        ]
        for sql in statements:
            cur.execute(sql)
        mark = "?" if warehouse.kind == "duckdb" else "%s"
        cur.execute(
            f"insert into {schema}.{TABLE} (version, fingerprint, first_used_at) "
            f"values ({mark}, {mark}, {mark}) on conflict do nothing",
            (version, fingerprint, datetime.now(UTC).isoformat(timespec="seconds")),
        )
        cur.execute(f"select fingerprint from {schema}.{TABLE} where version = {mark}", (version,))
        recorded = cur.fetchone()[0]
    if hmac.compare_digest(recorded, fingerprint):
        return
    number = int(version[1:]) if version[1:].isdigit() else 1
    versions = [row[0] for row in warehouse.query(f"select version from {schema}.{TABLE}")]
    taken = {int(v[1:]) for v in versions if v[1:].isdigit()}
    suggestion = f"v{max(taken | {number}) + 1}"
    raise ConfigError(
        f"ehrfusion.{tenant}.phi_key",
        f"this is not the key version {version} was first used with (its fingerprint differs), "
        f"so its pseudonyms would not match those already sent as {version}. Set the "
        f"{version} key back, or rotate deliberately: keep the new key and set "
        f"ehrfusion.{tenant}.phi_key_version to a new version, e.g. {suggestion} (README, "
        '"Rotating the PHI key")',
    )

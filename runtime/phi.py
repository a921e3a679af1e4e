"""Keyed pseudonyms: HMAC-SHA256 over `<kind>:<value>`, hex encoded.

The warehouse computes the same value (dbt macro `pseudonymize`): on DuckDB natively from the key
pads that `runtime.dbt_duckdb_phi` gives every dbt connection, on Postgres with pgcrypto's hmac()
and the key in the session setting `ehrfusion.phi_key` (passed in PGOPTIONS). The key therefore
never appears in SQL, dbt variables, manifests or logs.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from runtime.config import ConfigError
from runtime.secrets import require_secret

KEY_ENV = "EHRFUSION_PHI_KEY"
PG_SETTING = "ehrfusion.phi_key"
MIN_KEY_LENGTH = 32


def pseudonymize(value: str | None, kind: str, key: str) -> str | None:
    """Pseudonym of one identifier; `kind` separates namespaces (an MRN vs an account number)."""
    if value is None:
        return None
    message = f"{kind}:{value}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def validate_key(key: str, where: str) -> str:
    if len(key) < MIN_KEY_LENGTH or any(ch.isspace() for ch in key) or "\\" in key:
        raise ConfigError(
            where,
            f"the PHI key must be at least {MIN_KEY_LENGTH} characters without whitespace or "
            "backslashes (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)",
        )
    return key


def tenant_key(tenant: str) -> str:
    """The tenant's pseudonymization key, validated."""
    key = require_secret(tenant, "phi_key", "the key for PHI pseudonyms")
    return validate_key(key, f"ehrfusion.{tenant}.phi_key")


def key_from_env() -> str:
    """The key handed to the warehouse process for the current dbt invocation."""
    key = os.environ.get(KEY_ENV)
    if not key:
        raise RuntimeError(f"{KEY_ENV} is not set for this dbt invocation")
    return key

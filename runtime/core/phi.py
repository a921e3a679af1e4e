"""PHI handling for the extract side, twin of the dbt macros in dbt_project/macros/phi/.

Keyed pseudonyms: HMAC-SHA256 over `<kind>:<value>`, hex encoded, with the key's version carried
beside them (`PhiPolicy.key_version_reference`). The modes (`PhiPolicy`) and the safe-harbor
building blocks (year, age, zip3, redaction) give the same values as the macros of the same names.

The warehouse computes the same value (dbt macro `pseudonymize`): on DuckDB natively from the key
pads that `runtime.core.dbt_duckdb_phi` gives every dbt connection, on Postgres with
pgcrypto's hmac() and the key in the session setting `ehrfusion.phi_key` (passed in PGOPTIONS).
The key therefore never appears in SQL, dbt variables, manifests or logs.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from runtime.core.config import PHI_MODES, ConfigError
from runtime.core.secrets import optional_secret, require_secret

KEY_ENV = "EHRFUSION_PHI_KEY"
KEY_VERSION_ENV = "EHRFUSION_PHI_KEY_VERSION"
MODE_ENV = "EHRFUSION_PHI_MODE"
PG_SETTING = "ehrfusion.phi_key"
MIN_KEY_LENGTH = 32
DEFAULT_KEY_VERSION = "v1"
RESTRICTED_ZIP3_SEED = (
    Path(__file__).resolve().parents[2] / "seeds" / "safe_harbor_restricted_zip3.csv"
)
_KEY_VERSION = re.compile(r"^v[0-9]{1,6}$")


def pseudonymize(value: str | None, kind: str, key: str) -> str | None:
    """Pseudonym of one identifier; `kind` separates namespaces (an MRN vs an account number)."""
    if value is None:
        return None
    message = f"{kind}:{value}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def validate_key(key: str, where: str) -> str:
    """The key, or a ConfigError naming `where` when it is too weak or unsafe to pass on."""
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


def tenant_key_version(tenant: str) -> str:
    """The version of the tenant's current PHI key (secret `phi_key_version`, default v1).

    Rotating the key means a new key and a new version together, so every pseudonym can be
    matched with the key that made it.
    """
    version = optional_secret(tenant, "phi_key_version") or DEFAULT_KEY_VERSION
    if not _KEY_VERSION.match(version):
        raise ConfigError(
            f"ehrfusion.{tenant}.phi_key_version", "write the key version as v<number>, e.g. v2"
        )
    return version


def safe_harbor_year(value: date | None) -> int | None:
    """The year of a date related to an individual (all safe harbor keeps of it)."""
    return None if value is None else value.year


def safe_harbor_age(age: int | None) -> str | None:
    """An age as text, with every age over 89 in the one category '90+'."""
    if age is None:
        return None
    return "90+" if age > 89 else str(age)


def load_restricted_zip3(path: Path = RESTRICTED_ZIP3_SEED) -> frozenset[str]:
    """The zip3 areas of 20,000 people or fewer, from the versioned seed."""
    with path.open(newline="", encoding="utf-8") as handle:
        return frozenset(row["zip3"] for row in csv.DictReader(handle))


def safe_harbor_zip3(zip_code: str | None, restricted: frozenset[str]) -> str | None:
    """The first three digits of a ZIP code, '000' for a restricted area, None if too short."""
    if zip_code is None or len(zip_code.strip()) < 3:
        return None
    zip3 = zip_code.strip()[:3]
    return "000" if zip3 in restricted else zip3


def redact(_value: object) -> None:
    """A direct identifier removed: the field stays, its value goes."""
    return None


@dataclass(frozen=True)
class PhiPolicy:
    """One domain's PHI mode with the key it pseudonymizes with, as the dbt macros apply it."""

    mode: str
    key: str
    key_version: str = DEFAULT_KEY_VERSION

    def __post_init__(self) -> None:
        if self.mode not in PHI_MODES:
            raise ValueError(f"unknown PHI mode {self.mode!r}; one of {', '.join(PHI_MODES)}")

    def identifier(self, value: str | None, kind: str, surrogate: str | None = None) -> str | None:
        """The identifier as the mode keeps it internally (macro `phi_identifier`); in
        safe_harbor that is the `surrogate` looked up in the restricted map."""
        if self.mode == "direct":
            return value
        if self.mode == "safe_harbor":
            return surrogate
        return pseudonymize(value, kind, self.key)

    def patient_reference(
        self, value: str | None, kind: str, surrogate: str | None = None
    ) -> str | None:
        """What the mode allows of an identifier on an outbound line (macro `patient_reference`)."""
        if self.mode in ("limited_data_set", "aggregate_only"):
            return redact(value)
        return self.identifier(value, kind, surrogate)

    def key_version_reference(self) -> str | None:
        """The key version beside outbound pseudonyms (macro `key_version_reference`)."""
        return self.key_version if self.mode == "pseudonymized" else None

    def record_reference(self, value: str | None) -> str | None:
        """A source record key (journal or line id): dropped only in aggregate_only."""
        return redact(value) if self.mode == "aggregate_only" else value

    def patient_date(self, value: date | None) -> date | None:
        """A date related to an individual: no day in safe_harbor and aggregate_only."""
        return None if self.mode in ("safe_harbor", "aggregate_only") else value

    def patient_zip(self, zip_code: str | None, restricted: frozenset[str]) -> str | None:
        """A ZIP code: five digits where the mode keeps geography, safe-harbor zip3 otherwise."""
        if self.mode in ("safe_harbor", "aggregate_only"):
            return safe_harbor_zip3(zip_code, restricted)
        return zip_code


def small_cell_count(count: int, minimum: int = 11) -> int | None:
    """A published patient count, None below the minimum cell size."""
    return count if count >= minimum else None

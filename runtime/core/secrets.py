"""Credentials and keys, from environment variables or dlt's secrets.toml (never the YAML).

A secret named `ehrfusion.<tenant>.<name>` is read by dlt from the environment variable
`EHRFUSION__<TENANT>__<NAME>` or from `[ehrfusion.<tenant>] <name> = "..."` in secrets.toml.
"""

from __future__ import annotations

from runtime.core.config import ConfigError


def secret_key(tenant: str, name: str) -> str:
    return f"ehrfusion.{tenant}.{name}"


def env_name(tenant: str, name: str) -> str:
    return f"EHRFUSION__{tenant.upper()}__{name.upper()}"


def optional_secret(tenant: str, name: str) -> str | None:
    import dlt  # here, not at the top: commands that read no secret start without it

    value = dlt.secrets.get(secret_key(tenant, name))
    return str(value) if value not in (None, "") else None


def require_secret(tenant: str, name: str, purpose: str) -> str:
    """Return the secret or stop with a message that says exactly how to provide it."""
    value = optional_secret(tenant, name)
    if value is None:
        raise ConfigError(
            secret_key(tenant, name),
            f"missing ({purpose}); set the environment variable {env_name(tenant, name)} "
            f'or add `{name} = "..."` under [ehrfusion.{tenant}] in .dlt/secrets.toml',
        )
    return value

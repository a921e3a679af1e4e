"""Resolve a domain's endpoint name to a location through the tenant's endpoints file.

The same file format serves production (written by the operations team) and the sandbox
(written by `ehrfusion sandbox generate`), so the product cannot tell one from the other.
"""

from __future__ import annotations

import json
from pathlib import Path

from runtime.core.config import ConfigError, Tenant


def resolve_endpoint(tenant: Tenant, name: str) -> dict:
    """The endpoint entry (`{"kind": "files", "path": ...}` or `{"kind": "http", "url": ...}`)."""
    where = f"tenants.{tenant.name}.endpoints_file"
    try:
        document = json.loads(tenant.endpoints_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            where,
            f"{tenant.endpoints_file} does not exist; run `ehrfusion sandbox generate` for the "
            "sandbox or write the file with the real locations",
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(where, f"{tenant.endpoints_file} is not valid JSON: {exc}") from None
    endpoints = document.get("endpoints", {})
    if name not in endpoints:
        raise ConfigError(
            where,
            f"no endpoint named {name!r} in {tenant.endpoints_file}; "
            f"it has: {', '.join(sorted(endpoints)) or '(none)'}",
        )
    return endpoints[name]


def has_endpoint(tenant: Tenant, name: str) -> bool:
    """Whether the tenant's endpoints file names `name` (e.g. whether Fusion is reachable)."""
    try:
        resolve_endpoint(tenant, name)
    except ConfigError:
        return False
    return True


def files_location(tenant: Tenant, name: str) -> Path:
    """The directory of a file-drop endpoint."""
    entry = resolve_endpoint(tenant, name)
    if entry.get("kind") != "files" or "path" not in entry:
        raise ConfigError(
            f"endpoint {name}", f"expected a file drop (kind: files, path: ...), found {entry}"
        )
    path = Path(entry["path"])
    if not path.is_dir():
        raise ConfigError(
            f"endpoint {name}",
            f"the drop folder {path} does not exist; fix the path in {tenant.endpoints_file} "
            "or mount the folder",
        )
    return path

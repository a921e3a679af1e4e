"""The quickstart: generate the sandbox health system, start its Fusion, and run every enabled
domain on it to the end: files landed, checked, exported, posted, disclosed and reported. Then
a restatement changes a few posted entries and a second run posts the corrections.

What the demo uses and the tenant does not set (a generated PHI key, the sandbox's published
credentials) it writes to `.dlt/secrets.toml` beside the config file (owner-only), where every
later command run from that folder finds it; the sandbox's Fusion keeps its state beside the
endpoints file, so `ehrfusion sandbox serve` brings back the Fusion the demo posted to.
"""

from __future__ import annotations

import os
import secrets
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import tomlkit

from load.fusion_client import client_for_tenant, fusion_url
from runtime.core.config import Config, Tenant
from runtime.core.phi import tenant_key, validate_key
from runtime.core.private_files import private_folder
from runtime.core.secrets import env_name, optional_secret
from runtime.core.warehouse import Warehouse
from runtime.pipeline.domain import Progress, RunResult
from runtime.pipeline.run import run_domain
from runtime.reports.reconcile import build_pack
from runtime.reports.report import collect_report, default_report_path, write_report
from sandbox import practice_fusion, unity
from sandbox.epic_restatements import Restatement, restate
from sandbox.fusion import server as fusion_sandbox
from sandbox.generate import STAND_INS, generate


def demo_secrets_file(config: Config) -> Path:
    """Where the demo keeps what it generated: dlt's `.dlt/secrets.toml` beside the config."""
    return config.path.parent / ".dlt" / "secrets.toml"


def demo_key(config: Config, tenant: str) -> str:
    """The tenant's configured PHI key, or else a stable demo key.

    The demo key is generated once into `.dlt/secrets.toml` beside the config file (mode 0600),
    as `[ehrfusion.<tenant>] phi_key`, where dlt finds it for every later command run from that
    folder; a real deployment sets EHRFUSION__<TENANT>__PHI_KEY or its own secrets.toml.
    """
    if optional_secret(tenant, "phi_key"):
        return tenant_key(tenant)
    path = demo_secrets_file(config)
    key = _saved_secrets(path, tenant).get("phi_key")
    if key is None:
        key = secrets.token_hex(32)
        _save_secrets(path, tenant, {"phi_key": key})
    return validate_key(key, f"{path}: [ehrfusion.{tenant}] phi_key")


def _saved_secrets(path: Path, tenant: str) -> dict[str, str]:
    if not path.exists():
        return {}
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    return {k: str(v) for k, v in document.get("ehrfusion", {}).get(tenant, {}).items()}


def _save_secrets(path: Path, tenant: str, values: dict[str, str]) -> None:
    """Add `values` under [ehrfusion.<tenant>] of the secrets file, keeping everything else;
    the file is the owner's only and replaced atomically."""
    private_folder(path.parent)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    document = tomlkit.parse(text)
    section = document.setdefault("ehrfusion", tomlkit.table(is_super_table=True))
    table = section.setdefault(tenant, tomlkit.table())
    for name, value in values.items():
        table[name] = value
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as out:
        out.write(tomlkit.dumps(document))
    os.replace(temporary, path)


def run_demo(
    config: Config,
    seed: int,
    scale: int,
    warehouse_override: str | None,
    progress: Progress,
) -> tuple[dict, list[RunResult], dict[str, Path], dict[str, dict]]:
    """Generate the sandbox next to each tenant's endpoints file, run the enabled domains, and
    write each tenant's finance review page."""
    generated: dict = {}
    results = []
    reports: dict[str, Path] = {}
    packs: dict[str, dict] = {}
    with ExitStack() as running:
        for tenant in config.tenants.values():
            generated[tenant.name] = _prepare_sandbox(tenant, seed, scale, progress)
            for stand_in in STAND_INS:
                if stand_in.kind == "http":
                    running.enter_context(stand_in.start(tenant.endpoints_file.parent))
            _use_sandbox_credentials(config, tenant)
            results += _run_tenant(config, tenant, warehouse_override, progress)
            _restate(tenant, generated[tenant.name], seed, progress)
            results += _run_tenant(config, tenant, warehouse_override, progress)
            reports[tenant.name] = _write_report(config, tenant, warehouse_override, progress)
            month = generated[tenant.name]["start_date"][:7]
            packs[tenant.name] = _reconcile(config, tenant, warehouse_override, month, progress)
    return generated, results, reports, packs


def _prepare_sandbox(tenant: Tenant, seed: int, scale: int, progress: Progress) -> dict:
    sandbox_dir: Path = tenant.endpoints_file.parent
    progress(f"sandbox: generating {scale:,} journal lines (seed {seed}) in {sandbox_dir}")
    return generate(sandbox_dir, seed=seed, scale=scale)


def _restate(tenant: Tenant, generated: dict, seed: int, progress: Progress) -> None:
    """The day after the generated month, the feed restates a few entries posted in it."""
    day = date.fromisoformat(generated["start_date"]) + timedelta(days=generated["days"])
    progress(f"sandbox: restating posted entries on {day} (re-codes, amount fixes, a void)")
    restate(
        tenant.endpoints_file.parent,
        seed,
        Restatement(day=day, recode=2, amount_fix=2, void=1),
    )


def _use_sandbox_credentials(config: Config, tenant: Tenant) -> None:
    """The stand-ins' published credentials, for every secret the tenant does not set: in this
    process, and in the demo's secrets file for later commands."""
    sandbox = {
        "fusion_client_id": fusion_sandbox.CLIENT_ID,
        "fusion_client_secret": fusion_sandbox.CLIENT_SECRET,
        "unity_appname": unity.APPNAME,
        "unity_username": unity.USERNAME,
        "unity_app_user": unity.APP_USER,
        "unity_password": unity.PASSWORD,
    }
    for stream in tenant.streams.values():
        for domain in stream.domains.values():
            for practice in domain.practices:
                sandbox[f"pf_{practice}_client_id"] = practice_fusion.client_id(practice)
                sandbox[f"pf_{practice}_client_secret"] = practice_fusion.client_secret(practice)
    missing = {name: v for name, v in sandbox.items() if not optional_secret(tenant.name, name)}
    path = demo_secrets_file(config)
    saved = _saved_secrets(path, tenant.name)
    if any(saved.get(name) != value for name, value in missing.items()):
        _save_secrets(path, tenant.name, missing)
    for name, value in missing.items():
        os.environ[env_name(tenant.name, name)] = value


def _run_tenant(
    config: Config, tenant: Tenant, warehouse_override: str | None, progress: Progress
) -> list[RunResult]:
    phi_key = demo_key(config, tenant.name)
    return [
        run_domain(
            config,
            tenant.name,
            stream.name,
            domain.name,
            warehouse_override=warehouse_override,
            phi_key=phi_key,
            progress=progress,
        )
        for stream in tenant.streams.values()
        for domain in stream.domains.values()
        if domain.enabled
    ]


def _write_report(
    config: Config, tenant: Tenant, warehouse_override: str | None, progress: Progress
) -> Path:
    progress("report: writing the finance review page")
    warehouse = Warehouse.for_tenant(tenant, warehouse_override)
    page = collect_report(config, tenant.name, warehouse, datetime.now(UTC))
    return write_report(page, default_report_path(config, tenant.name))


def _reconcile(
    config: Config, tenant: Tenant, warehouse_override: str | None, month: str, progress: Progress
) -> dict:
    progress(f"reconcile: {month} against the Fusion ledger balances")
    client = client_for_tenant(tenant.name, fusion_url(tenant))
    warehouse = Warehouse.for_tenant(tenant, warehouse_override)
    return build_pack(
        config, tenant.name, warehouse, client, month, None, datetime.now(UTC)
    ).summary()

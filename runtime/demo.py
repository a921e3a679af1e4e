"""The quickstart: generate the sandbox health system and run every enabled domain on it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from runtime.config import Config
from runtime.phi import tenant_key, validate_key
from runtime.report import collect_report, default_report_path, write_report
from runtime.run import Progress, RunResult, run_domain
from runtime.secrets import optional_secret
from runtime.warehouse import Warehouse
from sandbox.generate import generate


def demo_key(config: Config, tenant: str) -> str:
    """The tenant's configured PHI key, or else a stable demo key.

    The demo key is generated once into the work folder (mode 0600); a real deployment sets
    EHRFUSION__<TENANT>__PHI_KEY or secrets.toml instead.
    """
    if optional_secret(tenant, "phi_key"):
        return tenant_key(tenant)
    key_file = config.work_dir / tenant / "demo_phi.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_hex(32), encoding="utf-8")
    return validate_key(key_file.read_text(encoding="utf-8").strip(), str(key_file))


def run_demo(
    config: Config,
    seed: int,
    scale: int,
    warehouse_override: str | None,
    progress: Progress,
) -> tuple[dict, list[RunResult], dict[str, Path]]:
    """Generate the sandbox next to each tenant's endpoints file, run the enabled domains, and
    write each tenant's finance review page."""
    generated: dict = {}
    results = []
    reports: dict[str, Path] = {}
    for tenant in config.tenants.values():
        sandbox_dir: Path = tenant.endpoints_file.parent
        progress(f"sandbox: generating {scale:,} journal lines (seed {seed}) in {sandbox_dir}")
        generated[tenant.name] = generate(sandbox_dir, seed=seed, scale=scale)
        phi_key = demo_key(config, tenant.name)
        for stream in tenant.streams.values():
            for domain in stream.domains.values():
                if domain.enabled:
                    results.append(
                        run_domain(
                            config,
                            tenant.name,
                            stream.name,
                            domain.name,
                            warehouse_override=warehouse_override,
                            phi_key=phi_key,
                            progress=progress,
                        )
                    )
        progress("report: writing the finance review page")
        warehouse = Warehouse.for_tenant(tenant, warehouse_override)
        page = collect_report(config, tenant.name, warehouse, datetime.now(UTC))
        reports[tenant.name] = write_report(page, default_report_path(config, tenant.name))
    return generated, results, reports

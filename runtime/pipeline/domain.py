"""One tenant/stream/domain opened for work: its configuration, warehouse, folders, PHI key
and Fusion client, and the result a run of it fills in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from load.formats import AnySpec, load_spec
from load.fusion_client import FusionClient, client_for_tenant, fusion_url
from runtime.core.config import Config, ConfigError, Domain, Stream, Tenant
from runtime.core.endpoints import has_endpoint
from runtime.core.phi import tenant_key
from runtime.core.warehouse import Warehouse
from runtime.observability.metrics import metrics_observer
from runtime.pipeline.dbt import DbtOutcome
from runtime.pipeline.delivery.batches import ExportedBatch, SubmitResult

Progress = Callable[[str], None]
FUSION_ENDPOINT = "fusion"


@dataclass
class RunResult:
    """What one domain run did, in counts, statuses and paths (never row values)."""

    tenant: str
    stream: str
    domain: str
    warehouse: str
    run_id: str = ""
    status: str = "ok"
    rows_extracted: int = 0
    extract_details: dict = field(default_factory=dict)  # cursors, tables, control totals
    files_loaded: list[str] = field(default_factory=list)
    files_skipped: int = 0
    files_unrecognised: list[str] = field(default_factory=list)  # drop-folder names never read
    dead_letters: list[dict] = field(default_factory=list)
    dbt: DbtOutcome | None = None
    exceptions_by_reason: dict[str, int] = field(default_factory=dict)
    reconciliation: dict = field(default_factory=dict)
    batches: list[ExportedBatch] = field(default_factory=list)
    submission: SubmitResult | None = None
    outbox: str = ""
    dead_letter_dir: str = ""
    message: str = ""
    disclosures: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    # what Fusion accepts one of: journal lines, or records (a record's batch file carries one
    # or more lines per record: a mass addition and its distribution, a worker's components)
    posted_unit: str = "lines"

    @property
    def lines_exported(self) -> int:
        return sum(b.lines for b in self.batches)

    @property
    def exception_lines(self) -> int:
        return sum(self.exceptions_by_reason.values())


@dataclass(frozen=True)
class DomainPaths:
    """Where one tenant/stream/domain keeps its state and its output."""

    work: Path
    dbt_work: Path
    outbox: Path
    dead_letter: Path

    @classmethod
    def of(cls, config: Config, tenant: str, stream: str, domain: str) -> DomainPaths:
        scope = Path(tenant) / stream / domain
        return cls(
            work=config.work_dir / scope,
            dbt_work=config.work_dir / tenant / "dbt",
            outbox=config.outbox_dir / scope,
            dead_letter=config.dead_letter_dir / scope,
        )


@dataclass(frozen=True)
class DomainContext:
    """One tenant/stream/domain with everything its steps need."""

    config: Config
    tenant: Tenant
    stream: Stream
    domain: Domain
    warehouse: Warehouse
    paths: DomainPaths
    given_phi_key: str | None
    progress: Progress

    @classmethod
    def open(
        cls,
        config: Config,
        tenant_name: str,
        stream_name: str,
        domain_name: str,
        warehouse_override: str | None = None,
        phi_key: str | None = None,
        progress: Progress = lambda _: None,
    ) -> DomainContext:
        tenant, stream, domain = config.domain(tenant_name, stream_name, domain_name)
        if not domain.enabled:
            raise ConfigError(
                f"tenants.{tenant.name}.streams.{stream.name}.domains.{domain.name}.enabled",
                "the domain is disabled; set enabled: true to run it",
            )
        return cls(
            config=config,
            tenant=tenant,
            stream=stream,
            domain=domain,
            warehouse=Warehouse.for_tenant(tenant, warehouse_override),
            paths=DomainPaths.of(config, tenant.name, stream.name, domain.name),
            given_phi_key=phi_key,
            progress=progress,
        )

    @cached_property
    def phi_key(self) -> str:
        """The key given for this run, or the tenant's configured key (read when first
        needed: settling or reloading batches needs none)."""
        return self.given_phi_key or tenant_key(self.tenant.name)

    @cached_property
    def spec(self) -> AnySpec:
        """The format spec of the domain's Fusion object in its release."""
        return load_spec(self.domain.fusion.release, self.domain.fusion.object)

    def fusion_client(self) -> FusionClient | None:
        """The tenant's Fusion client, or None where the outbox is the hand-over point."""
        if not has_endpoint(self.tenant, FUSION_ENDPOINT):
            return None
        return client_for_tenant(
            self.tenant.name,
            fusion_url(self.tenant, FUSION_ENDPOINT),
            observer=metrics_observer(self.tenant.name, self.stream.name, self.domain.name),
        )

    def new_result(self) -> RunResult:
        records = self.domain.fusion is not None and not self.domain.fusion.is_gl
        return RunResult(
            tenant=self.tenant.name,
            stream=self.stream.name,
            domain=self.domain.name,
            warehouse=self.warehouse.label,
            outbox=str(self.paths.outbox),
            dead_letter_dir=str(self.paths.dead_letter),
            posted_unit="records" if records else "lines",
        )

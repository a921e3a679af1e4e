"""Land a configured source into the warehouse's raw layer with dlt, whatever kind it is.

`land()` picks the source's extract (file drop, SQL change reader, rate-limited REST API) and
returns one `Landing` report the run records. Locations come from the tenant's endpoints file,
credentials from the tenant's secrets; every HTTP source shares the process's token buckets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from extract.epic.resolute import extract_resolute
from extract.shared.rate_limit import LimiterRegistry
from runtime.core import catalog
from runtime.core.config import ConfigError, Domain, Tenant
from runtime.core.endpoints import files_location, resolve_endpoint
from runtime.core.http import Observer
from runtime.core.secrets import require_secret
from runtime.core.warehouse import Warehouse

# One set of token buckets per process: every extract of a credential shares its budget.
LIMITERS = LimiterRegistry()


@dataclass
class Landing:
    """What one extract landed: counts, scope and cursors, never row values."""

    rows: int = 0
    files_loaded: list[str] = field(default_factory=list)  # file drops: the files landed
    files_skipped: int = 0
    files_unrecognised: list[str] = field(default_factory=list)  # names not of the feed's pattern
    dead_letters: list[dict] = field(default_factory=list)
    complete: bool = True  # False: a table or stream stopped early; its cursor did not move
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LandingJob:
    """Where one domain's extract lands and keeps its state; `tables` are the source tables
    the domain's target needs (the caller knows them; a source that lands them all ignores it)."""

    warehouse: Warehouse
    tenant: Tenant
    domain: Domain
    pipeline_name: str
    dead_letter_dir: Path
    pipelines_dir: Path
    observer: Observer | None = None
    tables: tuple[str, ...] | None = None  # the source tables the domain lands (None: all)


def land(job: LandingJob) -> Landing:
    """Extract the domain's source into the raw layer with the extract its catalog entry names
    (one of the `land_*` functions below; extract.shared.landing runs the load)."""
    return catalog.source(job.domain.source).land(job)


def land_resolute(job: LandingJob) -> Landing:
    report = extract_resolute(
        job.warehouse,
        job.pipeline_name,
        files_location(job.tenant, job.domain.endpoint),
        job.dead_letter_dir,
        job.pipelines_dir,
    )
    return Landing(
        rows=report.rows,
        files_loaded=report.files_loaded,
        files_skipped=report.files_skipped,
        files_unrecognised=report.files_unrecognised,
        dead_letters=report.dead_letters,
    )


# The SQL and REST extracts import their drivers on first use: a file-drop run never pays
# for SQLAlchemy or OAuth sessions.
def land_sunrise(job: LandingJob) -> Landing:
    from extract.allscripts.sunrise import extract_sunrise

    return _sql_landing(job, partial(extract_sunrise, tables=job.tables))


def land_touchworks(job: LandingJob) -> Landing:
    from extract.veradigm.touchworks import extract_touchworks

    return _sql_landing(job, extract_touchworks)


def land_dbmotion(job: LandingJob) -> Landing:
    from extract.allscripts.dbmotion import extract_dbmotion

    return _sql_landing(job, extract_dbmotion)


def _sql_landing(job: LandingJob, extract: Callable) -> Landing:
    entry = _entry(job, "url", "mechanism")
    report = extract(
        job.warehouse,
        job.pipeline_name,
        entry["url"],
        entry["mechanism"],
        job.dead_letter_dir,
        job.pipelines_dir,
    )
    return Landing(rows=report.rows, dead_letters=report.dead_letters, details=report.as_dict())


def land_practice_fusion(job: LandingJob) -> Landing:
    from extract.veradigm.practice_fusion import PracticeCredentials, extract_practice_fusion

    tenant = job.tenant.name
    practices = [
        PracticeCredentials(
            practice,
            require_secret(tenant, f"pf_{practice}_client_id", f"Practice Fusion {practice}"),
            require_secret(tenant, f"pf_{practice}_client_secret", f"Practice Fusion {practice}"),
        )
        for practice in job.domain.practices
    ]
    report = extract_practice_fusion(
        job.warehouse,
        job.pipeline_name,
        _entry(job, "url")["url"],
        practices,
        job.dead_letter_dir,
        job.pipelines_dir,
        LIMITERS,
        observer=job.observer,
    )
    return _rest_landing(report)


def land_unity(job: LandingJob) -> Landing:
    from extract.veradigm.unity import UnityCredentials, extract_unity

    tenant, purpose = job.tenant.name, "the Veradigm Unity API"
    credentials = UnityCredentials(
        appname=require_secret(tenant, "unity_appname", purpose),
        username=require_secret(tenant, "unity_username", purpose),
        app_user=require_secret(tenant, "unity_app_user", purpose),
        password=require_secret(tenant, "unity_password", purpose),
    )
    report = extract_unity(
        job.warehouse,
        job.pipeline_name,
        _entry(job, "url")["url"],
        credentials,
        job.dead_letter_dir,
        job.pipelines_dir,
        LIMITERS,
        observer=job.observer,
    )
    return _rest_landing(report)


def _rest_landing(report) -> Landing:
    return Landing(
        rows=report.rows,
        dead_letters=report.dead_letters,
        complete=report.ok,
        details=report.to_json(),
    )


def _entry(job: LandingJob, *keys: str) -> dict:
    entry = resolve_endpoint(job.tenant, job.domain.endpoint)
    missing = [key for key in keys if key not in entry]
    if missing:
        raise ConfigError(
            f"endpoint {job.domain.endpoint}",
            f"needs {', '.join(missing)} for source {job.domain.source}; fix the entry in "
            f"{job.tenant.endpoints_file}",
        )
    return entry

"""One scheduler tick: run every enabled domain that is due, each stream in its own lane.

Safe to call every minute. The tick only decides what is due (cadence + last success in the
run ledger) and fans out: each due domain runs as `python -m cli run ... --json` in its own
process, which takes the domain's lock and writes the ledger. Lanes run concurrently, the
domains of one lane one after another, so one stream's failure or slowness never holds
another. A DuckDB file admits one writer process, so on DuckDB a tenant's streams share one
lane; Postgres gives every stream its own.

Exit code of a tick: 0 when every due domain succeeded, was locked, or nothing was due;
otherwise the worst domain code in the order 6 (submit incomplete) < 11 (extract incomplete) <
3 (quality gate) < 4 (export conflict) < 10 (plan changed) < 1 (failed, timed out) <
2 (configuration error). A locked domain (75) is not a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from runtime.core import exit_codes
from runtime.core.config import Config, ConfigError, Domain, Stream, Tenant
from runtime.core.warehouse import Warehouse
from runtime.operations.cadence import is_due
from runtime.pipeline.locks import Locked, writer_slot
from runtime.pipeline.run_ledger import RunLedger

DEFAULT_TIMEOUT_SECONDS = 3300.0
STATUS_BY_EXIT_CODE = {code: status for status, code in exit_codes.BY_STATUS.items()} | {
    exit_codes.CONFIG_ERROR: "config_error",
}
# Least to most severe; the tick exits with the most severe code among its domains. Waiting on
# Fusion or on a source is less severe than a failed check: the next tick resumes either.
SEVERITY = (
    exit_codes.OK,
    exit_codes.LOCKED,
    exit_codes.SUBMIT_INCOMPLETE,
    exit_codes.EXTRACT_INCOMPLETE,
    exit_codes.QUALITY_GATE_FAILED,
    exit_codes.EXPORT_CONFLICT,
    exit_codes.PLAN_CHANGED,
    exit_codes.FAILED,
    exit_codes.CONFIG_ERROR,
)


@dataclass
class DomainOutcome:
    """How one due domain's run ended in this tick. `status` is ok, quality_gate_failed,
    export_conflict, failed, config_error, locked or timeout."""

    tenant: str
    stream: str
    domain: str
    status: str
    exit_code: int
    message: str = ""
    summary: dict | None = None  # the run's `--json` output


@dataclass
class TickResult:
    """Every due domain's outcome; `exit_code` is the tick's (see the module docstring)."""

    now: datetime
    outcomes: list[DomainOutcome]

    @property
    def exit_code(self) -> int:
        codes = [o.exit_code for o in self.outcomes] or [exit_codes.OK]
        worst = max(codes, key=SEVERITY.index)
        return exit_codes.OK if worst == exit_codes.LOCKED else worst

    def to_json(self) -> dict:
        """A JSON-serialisable summary for `ehrfusion tick --json`."""
        return {
            "now": self.now.isoformat(),
            "exit_code": self.exit_code,
            "outcomes": [asdict(o) for o in self.outcomes],
        }


@dataclass(frozen=True)
class _Job:
    tenant: Tenant
    stream: Stream
    domain: Domain


def tick(
    config: Config,
    config_path: Path,
    now: datetime,
    warehouse_override: str | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> TickResult:
    """Run the domains due at `now` (aware) and wait for them, at most `timeout_seconds`;
    runs still going then are killed (they resume safely on a later tick)."""
    deadline = time.monotonic() + timeout_seconds
    lanes, outcomes = _plan(config, now, warehouse_override)
    command = [sys.executable, "-m", "cli", "run", "--config", str(Path(config_path).resolve())]
    if warehouse_override:
        command += ["--warehouse", warehouse_override]
    if lanes:
        with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            for lane in pool.map(lambda jobs: _run_lane(command, jobs, deadline), lanes):
                outcomes += lane
    outcomes.sort(key=lambda o: (o.tenant, o.stream, o.domain))
    return TickResult(now=now, outcomes=outcomes)


def _plan(
    config: Config, now: datetime, warehouse_override: str | None
) -> tuple[list[list[_Job]], list[DomainOutcome]]:
    """The due domains grouped in lanes, and outcomes for tenants whose ledger is unreadable."""
    lanes: dict[tuple[str, str], list[_Job]] = defaultdict(list)
    outcomes: list[DomainOutcome] = []
    for tenant in config.tenants.values():
        jobs = [
            _Job(tenant, s, d)
            for s in tenant.streams.values()
            for d in s.domains.values()
            if d.enabled
        ]
        try:
            warehouse = Warehouse.for_tenant(tenant, warehouse_override)
            due = _due_jobs(warehouse, jobs, now)
        except Exception as exc:
            outcomes += [_unreadable(job, exc) for job in jobs]
            continue
        shared = warehouse.kind == "duckdb"  # one writer process per DuckDB file
        for job in due:
            lanes[(tenant.name, "" if shared else job.stream.name)].append(job)
    return list(lanes.values()), outcomes


def _due_jobs(warehouse: Warehouse, jobs: list[_Job], now: datetime) -> list[_Job]:
    if not jobs:
        return []
    ledger = RunLedger(warehouse)
    with writer_slot(warehouse):
        return [
            job
            for job in jobs
            if is_due(
                job.domain,
                job.tenant.timezone,
                ledger.last_success(job.stream.name, job.domain.name),
                now,
            )
        ]


def _unreadable(job: _Job, exc: Exception) -> DomainOutcome:
    """A tenant whose ledger cannot be read: busy, misconfigured or unreachable."""
    if isinstance(exc, Locked):
        return _outcome(job, exit_codes.LOCKED, str(exc))
    if isinstance(exc, ConfigError):
        return _outcome(job, exit_codes.CONFIG_ERROR, str(exc))
    return _outcome(job, exit_codes.FAILED, f"run ledger unreadable: {type(exc).__name__}")


def _run_lane(command: list[str], jobs: list[_Job], deadline: float) -> list[DomainOutcome]:
    outcomes = []
    for job in jobs:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            outcomes.append(_timed_out(job, "not started: the tick's time limit was reached"))
            continue
        outcomes.append(_run_domain_process(command, job, remaining))
    return outcomes


def _run_domain_process(command: list[str], job: _Job, timeout: float) -> DomainOutcome:
    scope = ["--tenant", job.tenant.name, "--stream", job.stream.name]
    scope += ["--domain", job.domain.name, "--json"]
    # A session of its own, so a timeout kills the run and anything it started.
    proc = subprocess.Popen(
        [*command, *scope], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return _timed_out(job, "killed at the tick's time limit; it resumes on a later tick")
    summary = _parse_summary(stdout)
    message = (summary or {}).get("message") or (summary or {}).get("error") or ""
    return _outcome(job, proc.returncode, message, summary)


def _parse_summary(stdout: str) -> dict | None:
    try:
        summary = json.loads(stdout)
    except json.JSONDecodeError:
        return None
    return summary if isinstance(summary, dict) else None


def _outcome(job: _Job, code: int, message: str, summary: dict | None = None) -> DomainOutcome:
    if code not in SEVERITY:  # killed by a signal, or an exit code the CLI does not document
        code, message = exit_codes.FAILED, message or f"the run exited with code {code}"
    return DomainOutcome(
        tenant=job.tenant.name,
        stream=job.stream.name,
        domain=job.domain.name,
        status=STATUS_BY_EXIT_CODE.get(code, "failed"),
        exit_code=code,
        message=message,
        summary=summary,
    )


def _timed_out(job: _Job, message: str) -> DomainOutcome:
    return DomainOutcome(
        job.tenant.name, job.stream.name, job.domain.name, "timeout", exit_codes.FAILED, message
    )

"""Prometheus metrics per tenant/stream/domain: recorded after each run, served by services.

Labels are tenant, stream and domain, plus closed enums (step, error kind, exception reason).
Nothing read from row data becomes a label: names are checked against the config's name rule
and enum labels outside their list become `other`, so no identifier can reach a metric.

Batch runs write one node_exporter textfile per domain (`textfile_path`), replaced atomically,
and also push it to a Pushgateway when one is configured. The file is the domain's state:
the first record for a domain in a process reads its previous file, so counters stay
cumulative across runs (`increase()` and `rate()` work on them) and gauges this run did not
measure keep their last value (the last success time survives failing runs). A lost file is a
counter reset, which Prometheus handles.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    push_to_gateway,
    start_http_server,
    write_to_textfile,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from runtime.core.http import Observer, RetryEvent

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from runtime.core.config import Config


class RunResult(Protocol):
    """What the metrics read of one domain run (runtime.pipeline.domain.RunResult), declared
    here so the observability layer does not import the orchestration."""

    tenant: str
    stream: str
    domain: str
    status: str
    rows_extracted: int
    dead_letters: list
    files_unrecognised: list
    dead_letter_dir: str
    exceptions_by_reason: dict[str, int]
    reconciliation: dict
    seconds: dict[str, float]
    batches: list
    dbt: Any


log = logging.getLogger(__name__)

SCOPE_LABELS = ("tenant", "stream", "domain")
Scope = tuple[str, str, str]
PUSH_JOB = "ehrfusion"

# How often each cadence is due; a domain is stale after twice this without a success.
# Real-time domains are event driven: 5 minutes is the longest quiet spell expected.
CADENCE_SECONDS = {
    "realtime": 300,
    "15min": 900,
    "hourly": 3600,
    "daily": 86400,
    "monthly": 31 * 86400,
}
STEPS = ("extract", "transform", "export", "submit", "reconcile", "other")
ERROR_KINDS = ("quality_gate_failed", "export_conflict", "error", "other")
# The reasons the exceptions marts assign (int_journal_lines_validated.sql); new reasons are
# added here so the label stays a closed set.
EXCEPTION_REASONS = (
    "missing_amount",
    "non_numeric_amount",
    "unmapped_coa",
    "unmapped_cpt",
    "no_gl_period",
    "closed_period",
    "period_not_open",
    "held_with_entry",
    "entry_out_of_balance",
    "no_open_period_for_correction",
    "other",
)
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

REGISTRY = CollectorRegistry(auto_describe=True)


# Sample name -> metric, for restoring a previous textfile.
_COUNTERS: dict[str, Counter] = {}
_GAUGES: dict[str, Gauge] = {}
_GAUGE_NAMES: dict[Gauge, str] = {}


def _counter(name: str, doc: str, extra: tuple[str, ...] = ()) -> Counter:
    _COUNTERS[name] = Counter(name, doc, SCOPE_LABELS + extra, registry=REGISTRY)
    return _COUNTERS[name]


def _gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> Gauge:
    _GAUGES[name] = Gauge(name, doc, SCOPE_LABELS + extra, registry=REGISTRY)
    _GAUGE_NAMES[_GAUGES[name]] = name
    return _GAUGES[name]


RUNS = _counter("ehrfusion_runs_total", "Domain runs recorded.")
RUN_ERRORS = _counter(
    "ehrfusion_run_errors_total", "Domain runs that did not end ok, by kind.", ("kind",)
)
ROWS_EXTRACTED = _counter("ehrfusion_rows_extracted_total", "Source rows landed in the raw layer.")
LINES_EXPORTED = _counter(
    "ehrfusion_lines_exported_total", "Lines written to new Fusion import batches (no re-exports)."
)
LINES_REJECTED = _counter(
    "ehrfusion_lines_rejected_total",
    "Lines Fusion rejected on import (sent to the operator queue).",
)
FILES_DEAD_LETTERED = _counter(
    "ehrfusion_files_dead_lettered_total", "Input files quarantined in the dead-letter store."
)
RATE_LIMIT_WAIT = _counter(
    "ehrfusion_rate_limit_wait_seconds_total", "Time spent waiting for the rate-limit budget."
)
THROTTLED = _counter(
    "ehrfusion_throttled_responses_total", "HTTP 429 responses received from an API."
)
LAST_RUN = _gauge("ehrfusion_last_run_timestamp_seconds", "When the last run ended (Unix time).")
LAST_SUCCESS = _gauge(
    "ehrfusion_last_success_timestamp_seconds", "When the last ok run ended (Unix time)."
)
CADENCE = _gauge("ehrfusion_domain_cadence_seconds", "Configured interval between runs.")
RUN_DURATION = _gauge("ehrfusion_run_duration_seconds", "Duration of the last run, all steps.")
STEP_DURATION = _gauge(
    "ehrfusion_run_step_duration_seconds", "Duration of each step of the last run.", ("step",)
)
END_TO_END = _gauge(
    "ehrfusion_end_to_end_latency_seconds",
    "From the end of the newest exported feed day to its export.",
)
DBT_CHECKS_FAILED = _gauge(
    "ehrfusion_dbt_checks_failed", "dbt tests and unit tests that did not pass in the last run."
)
EXCEPTION_LINES = _gauge(
    "ehrfusion_exception_lines", "Lines held in the exceptions mart, by reason.", ("reason",)
)
DEAD_LETTER_FILES = _gauge(
    "ehrfusion_dead_letter_files", "Files currently in the domain's dead-letter folder."
)
UNRECOGNISED_FILES = _gauge(
    "ehrfusion_unrecognised_files",
    "Files in the drop folder whose names are not the feed's, at the last extract (not read).",
)
QUEUE_DEPTH = _gauge("ehrfusion_operator_queue_depth", "Items waiting in the operator queue.")
DRIFT_LINES = _gauge(
    "ehrfusion_reconciliation_drift_lines", "Source lines minus exported minus exception lines."
)
DRIFT_CENTS = _gauge(
    "ehrfusion_reconciliation_drift_cents", "Source debits minus exported minus exception debits."
)
UNRECONCILED_DAYS = _gauge(
    "ehrfusion_reconciliation_unreconciled_feed_days", "Feed days whose reconciliation drifts."
)

_ENUMS = {"kind": ERROR_KINDS, "reason": EXCEPTION_REASONS, "step": STEPS}

_lock = threading.Lock()
_restored: set[Scope] = set()
# Gauge series set in this process; restoring a previous file must not overwrite them.
_measured: set[tuple[str, tuple[tuple[str, str], ...]]] = set()


def _scope_labels(tenant: str, stream: str, domain: str) -> dict[str, str]:
    for label, value in zip(SCOPE_LABELS, (tenant, stream, domain), strict=True):
        if not isinstance(value, str) or not _NAME.match(value):
            raise ValueError(f"metrics: {label} must be a configured name (lower-case, digits, _)")
    return {"tenant": tenant, "stream": stream, "domain": domain}


def _enum(label: str, value: str) -> str:
    return value if value in _ENUMS[label] else "other"


def _set(gauge: Gauge, labels: dict[str, str], value: float) -> None:
    with _lock:
        _measured.add((_GAUGE_NAMES[gauge], tuple(sorted(labels.items()))))
    gauge.labels(**labels).set(value)


def rate_limit_wait(tenant: str, stream: str, domain: str, seconds: float) -> None:
    """Count time an API client waited for its rate-limit budget (token bucket, back-off)."""
    RATE_LIMIT_WAIT.labels(**_scope_labels(tenant, stream, domain)).inc(seconds)


def throttled(tenant: str, stream: str, domain: str, responses: int = 1) -> None:
    """Count HTTP 429 responses an API client received."""
    THROTTLED.labels(**_scope_labels(tenant, stream, domain)).inc(responses)


def lines_rejected(tenant: str, stream: str, domain: str, lines: int) -> None:
    """Count lines Fusion rejected on import (the loader calls this after an import job)."""
    LINES_REJECTED.labels(**_scope_labels(tenant, stream, domain)).inc(lines)


def set_queue_depth(tenant: str, stream: str, domain: str, depth: int) -> None:
    """Set how many items wait in the domain's operator queue."""
    _set(QUEUE_DEPTH, _scope_labels(tenant, stream, domain), depth)


class _ScopeView(Collector):
    """One domain's series from the process registry, without `_created` samples (they would
    claim a carried-forward counter started in this process)."""

    def __init__(self, labels: dict[str, str]):
        self.labels = labels

    def collect(self) -> Iterator[Metric]:
        for family in REGISTRY.collect():
            samples = [
                s
                for s in family.samples
                if s.name != f"{family.name}_created"
                and all(s.labels.get(k) == v for k, v in self.labels.items())
            ]
            if samples:
                view = Metric(family.name, family.documentation, family.type, family.unit)
                view.samples = samples
                yield view


def registry_for(tenant: str, stream: str, domain: str) -> Collector:
    """The metrics of one domain, as written to its textfile and pushed to a Pushgateway."""
    return _ScopeView(_scope_labels(tenant, stream, domain))


def textfile_path(metrics_dir: Path, tenant: str, stream: str, domain: str) -> Path:
    """The domain's textfile; `-` cannot occur in names, so two domains never share a file."""
    _scope_labels(tenant, stream, domain)
    return metrics_dir / f"ehrfusion-{tenant}-{stream}-{domain}.prom"


def _restore(labels: dict[str, str], path: Path) -> None:
    if not path.is_file():
        return
    try:
        families = list(text_string_to_metric_families(path.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError):
        log.warning("metrics: %s is unreadable; counters restart from zero", path.name)
        return
    for family in families:
        for sample in family.samples:
            extra = {k: v for k, v in sample.labels.items() if k not in SCOPE_LABELS}
            if any(sample.labels.get(k) != v for k, v in labels.items()) or any(
                k not in _ENUMS or v not in _ENUMS[k] for k, v in extra.items()
            ):
                continue
            _restore_sample(sample.name, labels | extra, sample.value)


def _restore_sample(name: str, series: dict[str, str], value: float) -> None:
    # A series this release does not define (renamed labels, negative counts) is dropped.
    try:
        if name in _COUNTERS:
            _COUNTERS[name].labels(**series).inc(value)
        elif name in _GAUGES and (name, tuple(sorted(series.items()))) not in _measured:
            _GAUGES[name].labels(**series).set(value)
    except ValueError:
        log.warning("metrics: dropped a series of %s from the previous textfile", name)


def _initialise(labels: dict[str, str]) -> None:
    """Create every counter series at zero, so the first increase after it is visible."""
    for counter in _COUNTERS.values():
        if counter is not RUN_ERRORS:
            counter.labels(**labels)
    for kind in ERROR_KINDS:
        RUN_ERRORS.labels(**labels, kind=kind)


def _end_of_day_latency(result: RunResult, config: Config, now: datetime) -> float | None:
    new_days = [b.feed_date for b in result.batches if not b.reexport]
    if not new_days:
        return None
    tenant = config.tenants[result.tenant]
    day_end = datetime.combine(max(new_days) + timedelta(days=1), datetime.min.time())
    return max(0.0, (now - day_end.replace(tzinfo=tenant.timezone)).total_seconds())


def _dead_letter_files(folder: str) -> int | None:
    if not folder:
        return None
    path = Path(folder)  # created with the first dead letter: no folder means none
    return sum(1 for p in path.iterdir() if p.is_file()) if path.is_dir() else 0


def _apply(result: RunResult, config: Config, now: datetime, labels: dict[str, str]) -> None:
    _, _, domain = config.domain(result.tenant, result.stream, result.domain)
    _set(CADENCE, labels, CADENCE_SECONDS[domain.cadence])
    RUNS.labels(**labels).inc()
    _set(LAST_RUN, labels, now.timestamp())
    if result.status == "ok":
        _set(LAST_SUCCESS, labels, now.timestamp())
    else:
        RUN_ERRORS.labels(**labels, kind=_enum("kind", result.status)).inc()

    ROWS_EXTRACTED.labels(**labels).inc(result.rows_extracted)
    LINES_EXPORTED.labels(**labels).inc(sum(b.lines for b in result.batches if not b.reexport))
    FILES_DEAD_LETTERED.labels(**labels).inc(len(result.dead_letters))

    steps: dict[str, float] = {}
    for step, seconds in result.seconds.items():
        steps[_enum("step", step)] = steps.get(_enum("step", step), 0.0) + seconds
    for step in STEPS:
        _set(STEP_DURATION, labels | {"step": step}, steps.get(step, 0.0))
    _set(RUN_DURATION, labels, round(sum(steps.values()), 3))

    if (latency := _end_of_day_latency(result, config, now)) is not None:
        _set(END_TO_END, labels, latency)
    if (files := _dead_letter_files(result.dead_letter_dir)) is not None:
        _set(DEAD_LETTER_FILES, labels, files)
    if "extract" in result.seconds:
        _set(UNRECOGNISED_FILES, labels, len(result.files_unrecognised))
    if result.dbt is not None:
        _set(DBT_CHECKS_FAILED, labels, len(result.dbt.failed_checks))
        if result.dbt.success:
            reasons = {r: 0 for r in EXCEPTION_REASONS}
            for reason, lines in result.exceptions_by_reason.items():
                reasons[_enum("reason", reason)] += lines
            for reason, lines in reasons.items():
                _set(EXCEPTION_LINES, labels | {"reason": reason}, lines)
    if rec := result.reconciliation:
        _set(
            DRIFT_LINES,
            labels,
            rec["source_lines"] - rec["exported_lines"] - rec["exception_lines"],
        )
        debit = (
            Decimal(rec["source_debit"])
            - Decimal(rec["exported_debit"])
            - Decimal(rec["exception_debit"])
        )
        _set(DRIFT_CENTS, labels, int(debit * 100))
        _set(UNRECONCILED_DAYS, labels, rec["feed_days"] - rec["feed_days_reconciled"])


def record_run(config: Config, result: RunResult, now: datetime) -> Path:
    """Record one finished domain run (any status): update the domain's metrics, write its
    textfile atomically under `config.metrics_dir`, and push it when `config.pushgateway` is
    set. `now` is when the run ended, timezone-aware. Returns the textfile's path.

    A failed push is logged and never fails the run: the textfile holds the same values."""
    if now.tzinfo is None:
        raise ValueError("metrics: record_run needs a timezone-aware `now`")
    labels = _scope_labels(result.tenant, result.stream, result.domain)
    scope: Scope = (result.tenant, result.stream, result.domain)
    path = textfile_path(config.metrics_dir, *scope)
    with _lock:
        first = scope not in _restored
        _restored.add(scope)
    if first:
        _restore(labels, path)
    _initialise(labels)
    _apply(result, config, now, labels)

    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry_for(*scope))
    if config.pushgateway:
        push(config.pushgateway, *scope)
    return path


def push(gateway: str, tenant: str, stream: str, domain: str) -> bool:
    """Replace the domain's group (job `ehrfusion`, grouping key tenant/stream/domain) on a
    Pushgateway. Returns False, after logging a warning, when the push fails."""
    labels = _scope_labels(tenant, stream, domain)
    try:
        push_to_gateway(
            gateway, job=PUSH_JOB, registry=registry_for(**labels), grouping_key=labels, timeout=10
        )
    except OSError as exc:
        log.warning(
            "metrics: push to the Pushgateway failed for %s/%s/%s (%s)",
            tenant,
            stream,
            domain,
            type(exc).__name__,
        )
        return False
    return True


def serve(registry: Collector, port: int, addr: str = "127.0.0.1") -> WSGIServer:
    """Expose `registry` (usually `REGISTRY`) on http://addr:port/metrics from a daemon thread,
    for long-running services. Port 0 picks a free port (`server.server_port`); stop it with
    `server.shutdown()` then `server.server_close()`."""
    server, _ = start_http_server(port, addr=addr, registry=registry)
    return server


def metrics_observer(tenant: str, stream: str, domain: str) -> Observer:
    """An observer counting waits and 429 answers in the domain's Prometheus metrics."""

    def observe(event: RetryEvent) -> None:
        rate_limit_wait(tenant, stream, domain, event.wait_seconds)
        if event.status == 429:
            throttled(tenant, stream, domain)

    return observe

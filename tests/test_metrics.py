"""Prometheus metrics: what a recorded run exposes, that no row data becomes a label, the
atomic per-domain textfile, carrying counters across runs, the Pushgateway and /metrics."""

from __future__ import annotations

import os
import re
import socket
import threading
import urllib.request
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from runtime.core.config import Config, Stream, parse_config
from runtime.observability import metrics
from runtime.pipeline.dbt import DbtCheck, DbtOutcome
from runtime.pipeline.delivery.batches import ExportedBatch
from runtime.pipeline.domain import RunResult
from sandbox.canaries import CANARY_ACCOUNTS, CANARY_MRNS, CANARY_NAMES, canary_hits

NOW = datetime(2026, 10, 6, 7, 30, tzinfo=UTC)
DOMAIN = {
    "source": "epic_resolute_journal",
    "endpoint": "epic_resolute_journal",
    "cadence": "daily",
    "run_at": "02:30",
    "phi_mode": "pseudonymized",
    "fusion": {
        "object": "GlInterface",
        "release": "25B",
        "ledger_id": 1,
        "ledger_name": "L",
        "journal_source": "S",
        "journal_category": "C",
    },
}
ALLOWED_LABELS = {"tenant", "stream", "domain", "kind", "reason", "step"}


def make_config(tmp_path: Path, *tenants: str, pushgateway: str | None = None) -> Config:
    """Each tenant has streams epic and cerner, each with domains gl_journal and ar_invoices.

    A real config holds one instance of a source per tenant; metrics only need the names, so
    the four stream/domain pairs are copies of one validated domain.
    """
    streams = {"epic": {"domains": {"gl_journal": DOMAIN}}}
    document = {
        "version": 1,
        "paths": {"work_dir": "w", "outbox": "o", "dead_letter": "d", "metrics": "metrics"},
        "tenants": {
            t: {
                "timezone": "America/Chicago",
                "warehouse": {"kind": "duckdb", "path": "wh.duckdb"},
                "endpoints_file": "endpoints.json",
                "streams": streams,
            }
            for t in tenants
        },
    }
    if pushgateway:
        document["metrics"] = {"pushgateway": pushgateway}
    config = parse_config(document, tmp_path / "ehrfusion.yml")
    tenants_with_copies = {}
    for name, tenant in config.tenants.items():
        domain = tenant.streams["epic"].domains["gl_journal"]
        copies = {
            stream: Stream(
                stream, {d: replace(domain, name=d) for d in ("gl_journal", "ar_invoices")}
            )
            for stream in ("epic", "cerner")
        }
        tenants_with_copies[name] = replace(tenant, streams=copies)
    return replace(config, tenants=tenants_with_copies)


def run_result(tmp_path: Path, tenant: str, stream: str = "epic", **changes) -> RunResult:
    """A finished run whose free-text fields carry canary PHI a careless recorder might label."""
    dead_letter_dir = tmp_path / f"dl_{tenant}_{stream}_{CANARY_ACCOUNTS[0]}"
    dead_letter_dir.mkdir(exist_ok=True)
    for mrn in CANARY_MRNS[:2]:
        (dead_letter_dir / f"0123abcd__resolute_{mrn}.parquet").write_bytes(b"not parquet")
    checks = [
        DbtCheck(f"balanced_{CANARY_MRNS[0]}", "test", "pass", 0, CANARY_NAMES[0], None),
        DbtCheck(f"no_raw_{CANARY_NAMES[1]}", "test", "warn", 2, CANARY_NAMES[1], "x.y"),
    ]

    def batch(day: date, lines: int, reexport: bool) -> ExportedBatch:
        batch_id = f"{tenant}-{stream}-gl_journal-{day:%Y%m%d}-{CANARY_MRNS[2]}"
        return ExportedBatch(batch_id, day, lines, tmp_path / "z", tmp_path / "m", reexport, [])

    fields = {
        "tenant": tenant,
        "stream": stream,
        "domain": "gl_journal",
        "warehouse": f"duckdb {CANARY_NAMES[2]}",
        "rows_extracted": 120,
        "files_loaded": [f"resolute_{CANARY_MRNS[0]}.parquet"],
        "files_unrecognised": [f"resolute_{CANARY_MRNS[1]}.csv"],
        "dead_letters": [
            {"file": f"resolute_{mrn}.parquet", "reason_code": f"bad_{mrn}"}
            for mrn in CANARY_MRNS[:2]
        ],
        "dbt": DbtOutcome(success=True, models=4, checks=checks),
        "exceptions_by_reason": {"unmapped_coa": 3, CANARY_MRNS[1]: 2, "closed_period": 4},
        "reconciliation": {
            "status": "drift",
            "feed_days": 3,
            "feed_days_reconciled": 2,
            "source_lines": 100,
            "exported_lines": 90,
            "exception_lines": 8,
            "source_debit": "1000.50",
            "exported_debit": "900.25",
            "exception_debit": "100.00",
        },
        "batches": [batch(date(2026, 10, 5), 90, False), batch(date(2026, 10, 1), 7, True)],
        "outbox": str(tmp_path / CANARY_ACCOUNTS[1]),
        "dead_letter_dir": str(dead_letter_dir),
        "message": f"failed on {CANARY_NAMES[0]}",
        "seconds": {"extract": 1.5, "transform": 4.0, "export": 2.5},
    }
    return RunResult(**(fields | changes))


def samples(path: Path) -> dict[tuple[str, frozenset], float]:
    """Every sample in a textfile, keyed by name and non-scope labels."""
    found = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for s in family.samples:
            extra = frozenset(
                (k, v) for k, v in s.labels.items() if k in ("kind", "reason", "step")
            )
            found[(s.name, extra)] = s.value
    return found


def value(found: dict, name: str, **extra: str) -> float:
    return found[(name, frozenset(extra.items()))]


def test_a_recorded_run_exposes_counts_durations_latency_and_drift(tmp_path):
    config = make_config(tmp_path, "expose")
    path = metrics.record_run(config, run_result(tmp_path, "expose"), NOW)

    assert path == tmp_path / "metrics" / "ehrfusion-expose-epic-gl_journal.prom"
    found = samples(path)
    assert value(found, "ehrfusion_runs_total") == 1
    assert value(found, "ehrfusion_rows_extracted_total") == 120
    assert value(found, "ehrfusion_lines_exported_total") == 90  # the re-export is not new output
    assert value(found, "ehrfusion_files_dead_lettered_total") == 2
    assert value(found, "ehrfusion_dead_letter_files") == 2
    assert value(found, "ehrfusion_unrecognised_files") == 1
    assert value(found, "ehrfusion_dbt_checks_failed") == 1
    assert value(found, "ehrfusion_exception_lines", reason="unmapped_coa") == 3
    assert value(found, "ehrfusion_exception_lines", reason="closed_period") == 4
    assert value(found, "ehrfusion_exception_lines", reason="other") == 2
    assert value(found, "ehrfusion_exception_lines", reason="no_gl_period") == 0
    assert value(found, "ehrfusion_run_step_duration_seconds", step="transform") == 4.0
    assert value(found, "ehrfusion_run_step_duration_seconds", step="submit") == 0.0
    assert value(found, "ehrfusion_run_duration_seconds") == 8.0
    assert value(found, "ehrfusion_last_run_timestamp_seconds") == NOW.timestamp()
    assert value(found, "ehrfusion_last_success_timestamp_seconds") == NOW.timestamp()
    assert value(found, "ehrfusion_domain_cadence_seconds") == 86400
    # 2026-10-05 ends at 05:00 UTC on the 6th in Chicago (CDT); exported at 07:30 UTC.
    assert value(found, "ehrfusion_end_to_end_latency_seconds") == 2.5 * 3600
    assert value(found, "ehrfusion_reconciliation_drift_lines") == 2
    assert value(found, "ehrfusion_reconciliation_drift_cents") == 25
    assert value(found, "ehrfusion_reconciliation_unreconciled_feed_days") == 1
    for kind in metrics.ERROR_KINDS:
        assert value(found, "ehrfusion_run_errors_total", kind=kind) == 0
    assert value(found, "ehrfusion_throttled_responses_total") == 0
    assert not any(name.endswith("_created") for name, _ in found)


def test_no_label_or_value_name_carries_row_data(tmp_path):
    config = make_config(tmp_path, "canary")
    path = metrics.record_run(config, run_result(tmp_path, "canary", status="CANARYMRN0003"), NOW)

    text = path.read_text(encoding="utf-8")
    assert canary_hits(text) == []
    assert canary_hits(generate_latest(metrics.REGISTRY)) == []
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("ehrfusion_")
        for s in family.samples:
            assert set(s.labels) <= ALLOWED_LABELS
            assert (s.labels["tenant"], s.labels["stream"], s.labels["domain"]) == (
                "canary",
                "epic",
                "gl_journal",
            )
            for label, allowed in metrics._ENUMS.items():
                assert s.labels.get(label, allowed[0]) in allowed
    assert value(samples(path), "ehrfusion_run_errors_total", kind="other") == 1


def test_names_that_are_not_config_names_are_refused():
    with pytest.raises(ValueError, match="tenant"):
        metrics.throttled(CANARY_MRNS[0], "epic", "gl_journal")
    with pytest.raises(ValueError, match="domain"):
        metrics.rate_limit_wait("t", "epic", "a-b", 1.0)


def test_counters_accumulate_and_the_last_success_survives_a_failed_run(tmp_path):
    config = make_config(tmp_path, "accumulate")
    metrics.record_run(config, run_result(tmp_path, "accumulate"), NOW)
    later = NOW + timedelta(days=1)
    failed = run_result(
        tmp_path,
        "accumulate",
        status="quality_gate_failed",
        dbt=DbtOutcome(success=False, checks=[DbtCheck("c", "test", "fail", 3, "", None)]),
        exceptions_by_reason={},
        reconciliation={},
        batches=[],
        rows_extracted=30,
        seconds={"extract": 1.0, "transform": 2.0},
    )
    found = samples(metrics.record_run(config, failed, later))

    assert value(found, "ehrfusion_runs_total") == 2
    assert value(found, "ehrfusion_run_errors_total", kind="quality_gate_failed") == 1
    assert value(found, "ehrfusion_rows_extracted_total") == 150
    assert value(found, "ehrfusion_files_dead_lettered_total") == 4
    assert value(found, "ehrfusion_last_run_timestamp_seconds") == later.timestamp()
    assert value(found, "ehrfusion_last_success_timestamp_seconds") == NOW.timestamp()
    assert value(found, "ehrfusion_run_duration_seconds") == 3.0
    assert value(found, "ehrfusion_dbt_checks_failed") == 1
    # Not measured by the failed run: the last known values stay.
    assert value(found, "ehrfusion_reconciliation_drift_cents") == 25
    assert value(found, "ehrfusion_end_to_end_latency_seconds") == 2.5 * 3600
    assert value(found, "ehrfusion_exception_lines", reason="unmapped_coa") == 3


def test_a_new_process_carries_totals_forward_from_the_previous_file(tmp_path):
    config = make_config(tmp_path, "before", "after")
    previous = metrics.record_run(config, run_result(tmp_path, "before"), NOW)
    metrics.set_queue_depth("before", "epic", "gl_journal", 3)
    metrics.record_run(config, run_result(tmp_path, "before"), NOW)
    # "after" has never been recorded in this process: it stands for the next process.
    target = metrics.textfile_path(config.metrics_dir, "after", "epic", "gl_journal")
    target.write_text(previous.read_text().replace('tenant="before"', 'tenant="after"'))
    metrics.set_queue_depth("after", "epic", "gl_journal", 5)
    metrics.throttled("after", "epic", "gl_journal")
    later = NOW + timedelta(days=1)

    found = samples(metrics.record_run(config, run_result(tmp_path, "after"), later))

    assert value(found, "ehrfusion_runs_total") == 3
    assert value(found, "ehrfusion_rows_extracted_total") == 360
    assert value(found, "ehrfusion_throttled_responses_total") == 1
    assert value(found, "ehrfusion_operator_queue_depth") == 5  # set in this process wins
    assert value(found, "ehrfusion_last_success_timestamp_seconds") == later.timestamp()


def test_an_unreadable_previous_file_restarts_the_counters(tmp_path, caplog):
    config = make_config(tmp_path, "garbled")
    path = metrics.textfile_path(config.metrics_dir, "garbled", "epic", "gl_journal")
    path.parent.mkdir(parents=True)
    path.write_text("ehrfusion_runs_total{tenant=garbled 7\n")

    found = samples(metrics.record_run(config, run_result(tmp_path, "garbled"), NOW))

    assert value(found, "ehrfusion_runs_total") == 1
    assert "unreadable" in caplog.text


def test_series_this_release_does_not_define_are_dropped_from_the_previous_file(tmp_path, caplog):
    config = make_config(tmp_path, "renamed")
    path = metrics.textfile_path(config.metrics_dir, "renamed", "epic", "gl_journal")
    path.parent.mkdir(parents=True)
    scope = 'tenant="renamed",stream="epic",domain="gl_journal"'
    path.write_text(
        f'ehrfusion_runs_total{{{scope},kind="error"}} 7\n'
        f"ehrfusion_rows_extracted_total{{{scope}}} 40\n"
    )

    found = samples(metrics.record_run(config, run_result(tmp_path, "renamed"), NOW))

    assert value(found, "ehrfusion_runs_total") == 1
    assert value(found, "ehrfusion_rows_extracted_total") == 160
    assert "dropped a series of ehrfusion_runs_total" in caplog.text


def test_each_domain_file_is_replaced_atomically_and_holds_only_its_domain(tmp_path, monkeypatch):
    config = make_config(tmp_path, "atomic")
    renames: list[tuple[str, str]] = []
    real_rename = os.rename

    def spy(src, dst):
        renames.append((str(src), str(dst)))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", spy)
    written = [
        metrics.record_run(config, run_result(tmp_path, "atomic", stream=stream), NOW)
        for stream in ("epic", "cerner")
    ]
    written.append(
        metrics.record_run(config, run_result(tmp_path, "atomic", domain="ar_invoices"), NOW)
    )

    assert sorted(p.name for p in config.metrics_dir.iterdir()) == [
        "ehrfusion-atomic-cerner-gl_journal.prom",
        "ehrfusion-atomic-epic-ar_invoices.prom",
        "ehrfusion-atomic-epic-gl_journal.prom",
    ]
    assert [dst for _, dst in renames] == [str(p) for p in written]
    for src, dst in renames:
        assert Path(src).parent == Path(dst).parent  # same filesystem: the rename is atomic
        assert not src.endswith(".prom")  # the textfile collector never reads a partial file
    for path in written:
        _, _, stream, domain = path.stem.split("-")
        for family in text_string_to_metric_families(path.read_text()):
            for s in family.samples:
                assert (s.labels["stream"], s.labels["domain"]) == (stream, domain)


def test_client_counters_queue_depth_and_an_absent_dead_letter_folder_are_recorded(tmp_path):
    config = make_config(tmp_path, "clients")
    empty = str(tmp_path / "no_dead_letters_yet")
    metrics.rate_limit_wait("clients", "epic", "gl_journal", 1.5)
    metrics.rate_limit_wait("clients", "epic", "gl_journal", 0.25)
    metrics.throttled("clients", "epic", "gl_journal", responses=2)
    metrics.lines_rejected("clients", "epic", "gl_journal", 4)
    metrics.set_queue_depth("clients", "epic", "gl_journal", 6)
    metrics.throttled("clients", "cerner", "gl_journal")

    result = run_result(tmp_path, "clients", dead_letter_dir=empty)
    found = samples(metrics.record_run(config, result, NOW))

    assert value(found, "ehrfusion_dead_letter_files") == 0
    assert value(found, "ehrfusion_rate_limit_wait_seconds_total") == 1.75
    assert value(found, "ehrfusion_throttled_responses_total") == 2
    assert value(found, "ehrfusion_lines_rejected_total") == 4
    assert value(found, "ehrfusion_operator_queue_depth") == 6


def test_a_naive_timestamp_is_refused(tmp_path):
    config = make_config(tmp_path, "naive")
    with pytest.raises(ValueError, match="timezone-aware"):
        metrics.record_run(config, run_result(tmp_path, "naive"), NOW.replace(tzinfo=None))


class _Gateway(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.command, self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def pushgateway():
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    _Gateway.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Gateway.received
    server.shutdown()
    server.server_close()


def test_a_configured_pushgateway_gets_the_domain_group(tmp_path, pushgateway):
    url, received = pushgateway
    config = make_config(tmp_path, "pushed", pushgateway=url)

    path = metrics.record_run(config, run_result(tmp_path, "pushed"), NOW)

    assert path.is_file()
    [(method, url_path, body)] = received
    assert method == "PUT"  # replaces the group: the pushed values are the cumulative ones
    assert url_path == "/metrics/job/ehrfusion/domain/gl_journal/stream/epic/tenant/pushed"
    pushed = {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for f in text_string_to_metric_families(body.decode())
        for s in f.samples
    }
    written = {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for f in text_string_to_metric_families(path.read_text())
        for s in f.samples
    }
    assert pushed == written


def test_an_unreachable_pushgateway_is_logged_and_the_textfile_still_written(tmp_path, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = make_config(tmp_path, "unpushed", pushgateway=f"http://127.0.0.1:{port}")

    path = metrics.record_run(config, run_result(tmp_path, "unpushed"), NOW)

    assert value(samples(path), "ehrfusion_runs_total") == 1
    assert "push to the Pushgateway failed for unpushed/epic/gl_journal" in caplog.text


def test_the_metrics_endpoint_answers_on_loopback(tmp_path):
    config = make_config(tmp_path, "served")
    metrics.record_run(config, run_result(tmp_path, "served"), NOW)
    server = metrics.serve(metrics.REGISTRY, 0)
    try:
        assert server.server_address[0] == "127.0.0.1"
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    runs = {
        s.labels["tenant"]: s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "ehrfusion_runs_total"
    }
    assert runs["served"] == 1


def test_the_exception_reason_enum_covers_the_reasons_the_marts_assign():
    models = Path(__file__).parent.parent / "dbt_project/models/intermediate/journal"
    sql = (models / "int_journal_lines_validated.sql").read_text()
    correction_paths = {"new", "correct_in_place", "reverse_and_repost"}
    assigned = set(re.findall(r"then '([a-z_]+)'", sql)) - correction_paths
    assert assigned, "no reasons found in the model"
    assert assigned <= set(metrics.EXCEPTION_REASONS)

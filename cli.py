"""`ehrfusion`: the command schedulers and people run. Parses, delegates to runtime, reports."""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runtime.core import exit_codes
from runtime.core.config import Config, ConfigError, load_config
from runtime.core.errors import safe_message

err = Console(stderr=True)
out = Console()


def _progress(enabled: bool):
    def show(message: str) -> None:
        if enabled:
            err.print(f"[dim]»[/dim] {message}")

    return show


def _emit_json(payload) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))


def _fail(exc: Exception, as_json: bool) -> None:
    from runtime.pipeline.locks import Locked

    if isinstance(exc, ConfigError):
        code, status, kind, message = (
            exit_codes.CONFIG_ERROR,
            "config_error",
            "configuration error",
            str(exc),
        )
    elif isinstance(exc, Locked):
        code, status, kind, message = exit_codes.LOCKED, "locked", "locked, try later", str(exc)
    else:
        code, status, kind, message = exit_codes.FAILED, "failed", "error", safe_message(exc)
    _stop(code, status, kind, message, as_json)


def _stop(code: int, status: str, kind: str, message: str, as_json: bool) -> None:
    """End the command: the message on stderr (or as JSON on stdout) and the exit code."""
    if as_json:
        _emit_json({"status": status, "error": message})
    else:
        err.print(f"[bold red]{kind}:[/bold red] {escape(message)}", highlight=False)
    sys.exit(code)


def _finish_run(result, as_json: bool) -> None:
    from runtime.reports.summary import render_run, run_to_json

    if as_json:
        _emit_json(run_to_json(result))
    else:
        render_run(result, out)
    sys.exit(exit_codes.BY_STATUS[result.status])


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default="ehrfusion.yml",
    envvar="EHRFUSION_CONFIG",
    show_default=True,
    help="The configuration file.",
)
warehouse_option = click.option(
    "--warehouse",
    help="duckdb, postgres (DSN from EHRFUSION__<TENANT>__WAREHOUSE_DSN) or a postgresql:// DSN; "
    "overrides the tenant's configured warehouse.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")


@dataclass(frozen=True)
class DomainCall:
    """What every domain command is called with: the loaded configuration and the domain."""

    config: Config
    tenant: str
    stream: str
    domain: str
    warehouse: str | None
    as_json: bool

    @property
    def progress(self):
        return _progress(not self.as_json)


def domain_command(group: click.Group, name: str | None = None):
    """A command acting on one tenant/stream/domain: the options every such command takes
    (--config, --warehouse, --tenant, --stream, --domain, --json), the configuration loaded,
    and any error reported with its exit code. The command's own options follow as keywords."""

    def decorate(body):
        @functools.wraps(body)
        def command(config_path, warehouse, tenant, stream, domain, as_json, **options):
            try:
                config = load_config(config_path)
                call = DomainCall(config, tenant, stream, domain, warehouse, as_json)
                return body(call, **options)
            except Exception as exc:  # every failure ends with its exit code and message
                _fail(exc, as_json)

        for option in (
            json_option,
            click.option("--domain", required=True),
            click.option("--stream", required=True),
            click.option("--tenant", required=True),
            warehouse_option,
            config_option,
        ):
            command = option(command)
        return group.command(name)(command)

    return decorate


@click.group()
@click.version_option(package_name="ehrfusion")
def main() -> None:
    """Keep Oracle Fusion Cloud in step with hospital EHRs."""


@domain_command(main)
@click.option(
    "--feed-date",
    "feed_dates",
    multiple=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Re-export this delivery day (repeatable) instead of the days not exported yet.",
)
@click.option(
    "--expect-plan",
    help="Export only if the run would post exactly this plan (its fingerprint from "
    "`ehrfusion plan`); otherwise exit 10 and export nothing.",
)
def run(call: DomainCall, feed_dates, expect_plan) -> None:
    """Run one domain: extract, dbt build with tests, export FBDI, submit, record."""
    from runtime.pipeline.run import run_domain

    result = run_domain(
        call.config,
        call.tenant,
        call.stream,
        call.domain,
        call.warehouse,
        [d.date() for d in feed_dates] or None,
        progress=call.progress,
        expect_plan=expect_plan,
    )
    _finish_run(result, call.as_json)


@domain_command(main)
def plan(call: DomainCall) -> None:
    """Show what the next run would post: new lines, corrections, reversals and re-posts with
    totals per ledger and period, and entries flagged for finance review."""
    from runtime.pipeline.plan import plan_domain
    from runtime.reports.summary import render_plan

    result = plan_domain(
        call.config, call.tenant, call.stream, call.domain, call.warehouse, call.progress
    )
    if call.as_json:
        _emit_json(result.to_json())
    else:
        render_plan(result, out)
    sys.exit(exit_codes.BY_STATUS[result.status])


@main.command()
@config_option
@warehouse_option
@click.option("--seed", default=7, show_default=True, help="Sandbox random seed.")
@click.option("--scale", default=20_000, show_default=True, help="Journal lines to generate.")
@json_option
def demo(config_path, warehouse, seed, scale, as_json) -> None:
    """Generate the sandbox and run every enabled domain on it."""
    from runtime.operations.demo import run_demo
    from runtime.reports.summary import render_run, render_tally, run_to_json

    try:
        config = load_config(config_path)
        generated, results, reports, packs = run_demo(
            config, seed, scale, warehouse, _progress(not as_json)
        )
    except Exception as exc:
        _fail(exc, as_json)
    if as_json:
        runs = [run_to_json(r) for r in results]
        _emit_json(
            {"sandbox": generated, "runs": runs, "reports": reports, "reconciliation": packs}
        )
    else:
        for result in results:
            render_run(result, out)
        render_tally(results, out)
        for tenant, path in reports.items():
            out.print(f"finance review page for {tenant}: {path}", soft_wrap=True)
        for tenant, pack in packs.items():
            files = ", ".join(str(f) for f in pack.get("files", {}).values())
            out.print(
                f"reconciliation pack for {tenant} {pack['period']}: {pack['status']} ({files})",
                soft_wrap=True,
            )
    sys.exit(max((exit_codes.BY_STATUS[r.status] for r in results), default=exit_codes.OK))


@domain_command(main)
def submit(call: DomainCall) -> None:
    """Submit the outbox's batches Fusion has not had yet and follow their import jobs."""
    from runtime.pipeline.run import run_domain

    result = run_domain(
        call.config,
        call.tenant,
        call.stream,
        call.domain,
        call.warehouse,
        progress=call.progress,
        submit_only=True,
    )
    _finish_run(result, call.as_json)


@main.group()
def queue() -> None:
    """The operator queue: journal lines Fusion rejected, with its reasons."""


def _posting(config_path: Path, tenant: str, warehouse: str | None):
    from runtime.core.warehouse import Warehouse
    from runtime.pipeline.posting import Posting

    return Posting(Warehouse.for_tenant(load_config(config_path).tenant(tenant), warehouse))


@queue.command("list")
@config_option
@warehouse_option
@click.option("--tenant", required=True)
@json_option
def queue_list(config_path, warehouse, tenant, as_json) -> None:
    """Open rejected lines, counted by batch and Fusion error code."""
    try:
        summary = _posting(config_path, tenant, warehouse).queue_summary()
    except Exception as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(summary)
        return
    table = Table("batch", "error code", "lines")
    for row in summary:
        table.add_row(row["batch_id"], row["error_code"], str(row["lines"]))
    out.print(table if summary else "the operator queue is empty")


@queue.command("show")
@config_option
@warehouse_option
@click.option("--tenant", required=True)
@click.argument("batch")
@json_option
def queue_show(config_path, warehouse, tenant, batch, as_json) -> None:
    """The rejected lines of one batch with Fusion's row-level reasons."""
    try:
        posting = _posting(config_path, tenant, warehouse)
        rows = posting.queue_rows(batch)
        if not rows and posting.submission(batch) is None:
            raise ConfigError(
                "BATCH",
                f"tenant {tenant} has no batch {batch!r} (never submitted, nothing queued); "
                f"`ehrfusion queue list --tenant {tenant}` lists the batches with queue items",
            )
    except Exception as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(rows)
        return
    if not rows:
        out.print(f"batch {batch} has no lines in the operator queue")
        return
    columns = ["line_number", "source_line_id", "journal_name", "error_code", "message", "status"]
    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    out.print(table)


@domain_command(queue, "reload")
@click.argument("batch")
def queue_reload(call: DomainCall, batch) -> None:
    """Once the cause is fixed, re-send a batch's rejected lines as a new batch and follow it."""
    from runtime.pipeline.reload import ReloadRefused, reload_batch

    try:
        result = reload_batch(
            call.config,
            call.tenant,
            call.stream,
            call.domain,
            batch,
            call.warehouse,
            call.progress,
        )
    except ReloadRefused as exc:
        _stop(exit_codes.RELOAD_REFUSED, "refused", "reload refused", str(exc), call.as_json)
    summary = result.to_json()
    if call.as_json:
        _emit_json(summary)
    else:
        out.print(f"{result.status}: {result.message}")
    codes = {"reloaded": exit_codes.OK, "submit_incomplete": exit_codes.SUBMIT_INCOMPLETE}
    sys.exit(codes.get(result.status, exit_codes.LINES_STILL_OPEN))


@main.command()
@config_option
@warehouse_option
@click.option("--tenant", required=True)
@click.option("--period", required=True, help="The month to reconcile, YYYY-MM.")
@json_option
def reconcile(config_path, warehouse, tenant, period, as_json) -> None:
    """The monthly reconciliation pack: source vs Fusion balances per facility, drift explained."""
    from load.fusion_client import client_for_tenant, fusion_url
    from runtime.core.warehouse import Warehouse
    from runtime.reports.reconcile import build_pack

    try:
        config = load_config(config_path)
        settings = config.tenant(tenant)
        client = client_for_tenant(tenant, fusion_url(settings))
        source = Warehouse.for_tenant(settings, warehouse)
        pack = build_pack(config, tenant, source, client, period, None, datetime.now(UTC))
    except Exception as exc:
        _fail(exc, as_json)
    summary = pack.summary()
    if as_json:
        _emit_json(summary)
    else:
        _print_pack(pack)
    sys.exit(exit_codes.UNEXPLAINED_DRIFT if pack.unexplained else exit_codes.OK)


def _print_pack(pack) -> None:
    """Per facility: the source against Fusion's books, what explains the difference, and the
    unexplained rest; then the verdict and the files."""
    from runtime.reports.reconcile_pack import CATEGORIES

    table = Table(
        "facility", "company", "source lines", "source debit", "posted in Fusion",
        "explained", "unexplained (dr / cr)", "status",
        title=f"{pack.period.month} ({pack.period.name}), {pack.currency}",
    )  # fmt: skip
    for row in [*pack.rows, pack.total]:
        explained = sum((getattr(row, name).debit for name in CATEGORIES), Decimal(0))
        rest = row.unexplained
        table.add_row(
            row.facility, row.company, f"{row.source.lines:,}", f"{row.source.debit:,.2f}",
            f"{row.fusion_posted.debit:,.2f}", f"{explained:,.2f}",
            f"{rest.debit:,.2f} / {rest.credit:,.2f}",
            "clean" if row.clean else "[red]unexplained drift[/red]",
            end_section=row is pack.rows[-1] if pack.rows else False,
        )  # fmt: skip
    _print_whole(table)
    out.print(f"{pack.period.month}: {pack.status}; explained = in flight + rejected in queue + "
              "held as exceptions + re-dated corrections (debits)", soft_wrap=True)  # fmt: skip
    out.print(f"pack: {pack.html_path} and {pack.csv_path}", soft_wrap=True)


@main.command()
@config_option
@warehouse_option
@click.option("--timeout", default=3300.0, show_default=True, help="Seconds a tick may take.")
@json_option
def tick(config_path, warehouse, timeout, as_json) -> None:
    """Run every enabled domain that is due (call it every minute from a scheduler)."""
    from runtime.operations.tick import tick as run_tick

    try:
        config = load_config(config_path)
        result = run_tick(config, config_path, datetime.now(UTC), warehouse, timeout)
    except Exception as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(result.to_json())
    else:
        for o in result.outcomes:
            out.print(f"{o.tenant}/{o.stream}/{o.domain}: {o.status} (exit {o.exit_code})")
        if not result.outcomes:
            out.print("nothing due")
    sys.exit(result.exit_code)


@main.command()
@config_option
@warehouse_option
@json_option
def status(config_path, warehouse, as_json) -> None:
    """Per stream and domain: last success, lag, next due, queue depth, open exceptions."""
    from runtime.operations.status import status as read_status

    try:
        rows = read_status(load_config(config_path), datetime.now(UTC), warehouse)
    except Exception as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(rows)
        return
    table = Table(
        "tenant", "stream", "domain", "cadence", "last run", "last success (UTC)", "lag",
        "next due (UTC)", "open exceptions", "queue",
    )  # fmt: skip
    for row in rows:
        table.add_row(
            row["tenant"], row["stream"], row["domain"],
            row["cadence"] if row["enabled"] else f"{row['cadence']} (disabled)",
            row["error"] or row["last_run_status"] or "never",
            _minute(row["last_success"]), _duration(row["lag_seconds"]), _minute(row["next_due"]),
            _number(row["open_exceptions"]), _number(row["queue_depth"]),
        )  # fmt: skip
    _print_whole(table)


def _minute(iso: str | None) -> str:
    """An ISO time as `YYYY-MM-DD HH:MM` (UTC)."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    days, rest = divmod(int(seconds), 86_400)
    hours, rest = divmod(rest, 3_600)
    return f"{days}d {hours}h" if days else f"{hours}h {rest // 60:02d}m"


def _number(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _print_whole(table: Table) -> None:
    """Print a table at its natural width, never cutting cells to 80 columns."""
    from runtime.reports.summary import print_whole

    print_whole(table, out)


@main.command()
@config_option
@warehouse_option
@click.option("--tenant", default=None, help="Defaults to the only configured tenant.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="The HTML file to write.")
@json_option
def report(config_path, warehouse, tenant, out_path, as_json) -> None:
    """Write the finance review page (one self-contained HTML file) for one tenant."""
    from runtime.core.warehouse import Warehouse
    from runtime.reports.report import (
        collect_report,
        default_report_path,
        report_tenant,
        write_report,
    )

    try:
        config = load_config(config_path)
        name = report_tenant(config, tenant)
        source = Warehouse.for_tenant(config.tenants[name], warehouse)
        result = collect_report(config, name, source, datetime.now(UTC))
        path = write_report(result, out_path or default_report_path(config, name))
    except Exception as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json({"path": str(path), **result.summary()})
    else:
        out.print(f"finance report written to {path}")


@main.group()
def audit() -> None:
    """The accounting of disclosures: verify, export, forward to the SIEM, purge, report."""


tenant_option = click.option("--tenant", required=True, help="The tenant whose log to use.")


def _disclosure_log(config_path: Path, tenant: str, warehouse: str | None):
    from runtime.compliance.audit import DisclosureLog
    from runtime.core.warehouse import Warehouse

    settings = load_config(config_path).tenant(tenant)
    return DisclosureLog(Warehouse.for_tenant(settings, warehouse), tenant, settings.audit)


def _accounting_holes(config_path: Path, tenant: str, warehouse: str | None) -> list[str]:
    from runtime.core.warehouse import Warehouse
    from runtime.pipeline.disclosures import accounting_holes

    config = load_config(config_path)
    source = Warehouse.for_tenant(config.tenant(tenant), warehouse)
    return accounting_holes(config, tenant, source)


def _audit_call(as_json: bool, action):
    from runtime.compliance.audit import AuditError

    try:
        return action()
    except AuditError as exc:
        _stop(exit_codes.AUDIT_BROKEN, "audit_broken", "audit", str(exc), as_json)
    except Exception as exc:
        _fail(exc, as_json)


@audit.command("verify")
@config_option
@warehouse_option
@tenant_option
@json_option
def audit_verify(config_path, warehouse, tenant, as_json) -> None:
    """Recompute the chain in the warehouse and the mirror, and check that every landed load
    naming patients and every batch sent to Fusion has its entries; exit 5 on any break."""
    report = _audit_call(as_json, lambda: _disclosure_log(config_path, tenant, warehouse).verify())
    report.problems += _audit_call(
        as_json, lambda: _accounting_holes(config_path, tenant, warehouse)
    )
    if as_json:
        _emit_json(
            {"ok": report.ok, "problems": report.problems,
             "warehouse_entries": report.warehouse_entries, "mirror_entries": report.mirror_entries}
        )  # fmt: skip
    else:
        warehouse_count, mirror_count = report.warehouse_entries, report.mirror_entries
        out.print(f"{warehouse_count} entries in the warehouse, {mirror_count} in the mirror")
        for problem in report.problems:
            out.print(f"[red]problem:[/red] {escape(problem)}")
        out.print(
            "chain intact; every landing and batch accounted for"
            if report.ok
            else "[bold red]the accounting of disclosures is broken or incomplete[/bold red]"
        )
    sys.exit(exit_codes.OK if report.ok else exit_codes.AUDIT_BROKEN)


@audit.command("export")
@config_option
@warehouse_option
@tenant_option
@click.option("--since", required=True, type=click.DateTime(), help="Entries recorded since (UTC).")
def audit_export(config_path, warehouse, tenant, since) -> None:
    """Write entries since a time as JSON lines to stdout."""
    log = _audit_call(False, lambda: _disclosure_log(config_path, tenant, warehouse))
    for entry in _audit_call(False, lambda: list(log.export(since.replace(tzinfo=UTC)))):
        click.echo(json.dumps(entry, sort_keys=True, default=str))


@audit.command("forward")
@config_option
@warehouse_option
@tenant_option
@click.option("--since", type=click.DateTime(), help="Start point of the first forward (UTC).")
def audit_forward(config_path, warehouse, tenant, since) -> None:
    """Send entries not yet forwarded to the SIEM as RFC 5424 syslog."""
    start = since.replace(tzinfo=UTC) if since else None
    sent = _audit_call(
        False, lambda: _disclosure_log(config_path, tenant, warehouse).forward(start)
    )
    out.print(f"forwarded {sent} entries")


@audit.command("purge")
@config_option
@warehouse_option
@tenant_option
def audit_purge(config_path, warehouse, tenant) -> None:
    """Remove entries older than six years (never younger ones) and record the purge."""
    now = datetime.now(UTC)
    removed = _audit_call(False, lambda: _disclosure_log(config_path, tenant, warehouse).purge(now))
    out.print(f"purged {removed} entries older than six years")


@audit.command("restore")
@config_option
@warehouse_option
@tenant_option
def audit_restore(config_path, warehouse, tenant) -> None:
    """Rebuild the warehouse copy of the log from the mirror (a rebuilt warehouse, or a process
    killed while appending); refused, exit 5, when the mirror's own chain is broken."""
    restored = _audit_call(
        False, lambda: _disclosure_log(config_path, tenant, warehouse).restore_from_mirror()
    )
    out.print(f"restored {restored} entries from the mirror; run `ehrfusion audit verify`")


@audit.command("report")
@config_option
@warehouse_option
@tenant_option
@click.option("--patient-pseudonym", required=True)
@json_option
def audit_report(config_path, warehouse, tenant, patient_pseudonym, as_json) -> None:
    """The accounting of disclosures for one patient: what, when, to whom, why."""
    log = _audit_call(as_json, lambda: _disclosure_log(config_path, tenant, warehouse))
    entries = _audit_call(as_json, lambda: log.report(patient_pseudonym))
    if as_json:
        _emit_json(entries)
        return
    table = Table("recorded_at", "action", "recipient", "purpose", "scope", "principal")
    for e in entries:
        table.add_row(
            e["recorded_at"], e["action"], e["recipient"], e["purpose"], e["scope"], e["principal"]
        )
    out.print(table)


@main.group()
def sandbox() -> None:
    """The simulated health system the demo, tests and benchmarks run against."""


@sandbox.command("generate")
@click.option("--seed", default=7, show_default=True)
@click.option("--scale", default=20_000, show_default=True, help="Journal lines to generate.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=".ehrfusion/sandbox",
    show_default=True,
)
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), default="2026-10-01")
@click.option("--days", default=31, show_default=True)
@json_option
def sandbox_generate(seed, scale, out_dir, start, days, as_json) -> None:
    """Write the sandbox's source data and its endpoints file."""
    from sandbox.generate import generate

    try:
        summary = generate(out_dir, seed=seed, scale=scale, start_date=start.date(), days=days)
    except Exception as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(summary)
    else:
        out.print(f"sandbox written to {out_dir} (endpoints: {out_dir / 'endpoints.json'})")


@sandbox.command("serve")
@config_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The sandbox folder (default: every tenant's, beside its endpoints file).",
)
def sandbox_serve(config_path, out_dir) -> None:
    """Keep the sandbox's servers running (the EHR APIs and Fusion, with the state the demo
    left) until interrupted, so later commands work against the same Fusion."""
    from sandbox.serve import serve

    try:
        if out_dir is not None:
            folders = [out_dir]
        else:
            config = load_config(config_path)
            folders = sorted({t.endpoints_file.parent for t in config.tenants.values()})
        serve(folders, _print_served)
    except Exception as exc:
        _fail(exc, False)


def _print_served(urls: dict[str, str]) -> None:
    table = Table("sandbox:server", "url")
    for name, url in urls.items():
        table.add_row(name, url)
    out.print(table)
    out.print("serving; stop with Ctrl-C (or SIGTERM)")


@sandbox.command("restate")
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=".ehrfusion/sandbox",
    show_default=True,
)
@click.option(
    "--day",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The restatement's delivery day.",
)
@click.option(
    "--recode", default=0, show_default=True, help="Charges re-coded to another department."
)
@click.option("--amount-fix", default=0, show_default=True, help="Charges with a corrected amount.")
@click.option("--void", default=0, show_default=True, help="Entries voided.")
@click.option("--posted-from", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--posted-to", type=click.DateTime(formats=["%Y-%m-%d"]))
@json_option
def sandbox_restate(
    seed, out_dir, day, recode, amount_fix, void, posted_from, posted_to, as_json
) -> None:
    """Restate journal entries posted earlier (the Resolute feed's mutation stream)."""
    from sandbox.epic_restatements import Restatement, restate

    request = Restatement(
        day=day.date(),
        recode=recode,
        amount_fix=amount_fix,
        void=void,
        posted_from=posted_from.date() if posted_from else None,
        posted_to=posted_to.date() if posted_to else None,
    )
    try:
        summary = restate(out_dir, seed, request)
    except Exception as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(summary)
    else:
        out.print(f"restatement written to {summary['path']} ({summary['lines']} lines)")


@main.group()
def formats() -> None:
    """The per-release FBDI/HDL format specs."""


@formats.command("diff")
@click.argument("release_a")
@click.argument("release_b")
@json_option
def formats_diff(release_a, release_b, as_json) -> None:
    """What changed in the file layouts between two Fusion releases (e.g. 25B 26C)."""
    from load.formats import available_releases
    from load.formats_report import diff_rows
    from load.formats_report import formats_diff as compare

    try:
        for release in (release_a, release_b):
            if release not in available_releases():
                shipped = ", ".join(available_releases())
                raise ConfigError("release", f"{release!r} has no specs; shipped: {shipped}")
        diff = compare(release_a, release_b)
    except Exception as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(diff)
        return
    rows = diff_rows(diff)
    table = Table("object", "part", "change", "name", "detail")
    for row in rows:
        table.add_row(*(str(row[c]) for c in ("object", "part", "change", "name", "detail")))
    out.print(table if rows else f"no layout differences between {release_a} and {release_b}")


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("validate")
@config_option
@json_option
def config_validate(config_path, as_json) -> None:
    """Validate the configuration file and list what it configures."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        _fail(exc, as_json)
    domains = [
        {"tenant": t.name, "stream": s.name, "domain": d.name, "source": d.source,
         "cadence": d.cadence, "enabled": d.enabled}
        for t in config.tenants.values()
        for s in t.streams.values()
        for d in s.domains.values()
    ]  # fmt: skip
    if as_json:
        _emit_json({"status": "valid", "domains": domains})
        return
    for d in domains:
        state = "enabled" if d["enabled"] else "disabled"
        out.print(
            f"{d['tenant']}/{d['stream']}/{d['domain']}: {d['source']}, {d['cadence']}, {state}"
        )


if __name__ == "__main__":
    main()

"""Present a run's result: a table for people, JSON for machines. Counts and paths only."""

from __future__ import annotations

from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from runtime.pipeline.domain import RunResult
from runtime.pipeline.plan import Plan


def run_to_json(result: RunResult) -> dict:
    dbt = result.dbt
    return {
        "tenant": result.tenant,
        "stream": result.stream,
        "domain": result.domain,
        "warehouse": result.warehouse,
        "run_id": result.run_id,
        "status": result.status,
        "message": result.message,
        "extract": {
            "rows": result.rows_extracted,
            "files_loaded": result.files_loaded,
            "files_skipped": result.files_skipped,
            "files_unrecognised": result.files_unrecognised,
            "dead_letters": result.dead_letters,
            "details": result.extract_details,
        },
        "dbt": None
        if dbt is None
        else {
            "success": dbt.success,
            "models": dbt.models,
            "seeds": dbt.seeds,
            "checks_passed": len(dbt.checks) - len(dbt.failed_checks) - len(dbt.skipped_checks),
            "checks_failed": [asdict(c) for c in dbt.failed_checks],
            "checks_skipped": [c.name for c in dbt.skipped_checks],
            "errors": dbt.errors,
        },
        "exceptions": {"lines": result.exception_lines, "by_reason": result.exceptions_by_reason},
        "reconciliation": result.reconciliation,
        "export": {
            "lines": result.lines_exported,
            "batches": [b.to_json() for b in result.batches],
        },
        "submit": None if result.submission is None else result.submission.to_json(),
        "posted_unit": result.posted_unit,  # what submit's lines_posted counts
        "disclosures_recorded": result.disclosures,
        "paths": {"outbox": result.outbox, "dead_letter": result.dead_letter_dir},
        "seconds": result.seconds,
    }


def _extracted(result: RunResult) -> str:
    """Rows landed and from where: feed files, or the tables/streams of a database or API."""
    details = result.extract_details
    if "tables" in details:  # a SQL change reader
        scope = f"{details['mechanism']}, {len(details['tables'])} tables"
    elif "streams" in details:  # a REST API
        scope = f"{len(details['streams'])} streams, {details.get('requests', 0):,} requests"
    else:
        scope = f"{len(result.files_loaded)} new file(s), {result.files_skipped} already landed"
    return f"{result.rows_extracted:,} ({scope})"


def render_run(result: RunResult, console: Console) -> None:
    """The summary table printed at the end of `run` and `demo`."""
    table = Table(title=f"{result.tenant} / {result.stream} / {result.domain}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("warehouse", result.warehouse)
    table.add_row("rows extracted", _extracted(result))
    table.add_row(
        "dead letters",
        ", ".join(
            f"{d.get('file') or d.get('table') or d.get('object')} ({d.get('reason_code')})"
            for d in result.dead_letters
        )
        or "none",
    )
    if result.files_unrecognised:
        table.add_row(
            "unrecognised files",
            f"{len(result.files_unrecognised)} not named like the feed, not read: "
            + ", ".join(result.files_unrecognised),
        )
    if result.dbt is not None:
        for error in result.dbt.errors:  # the cause comes before the counts
            table.add_row("dbt error", error)
        failed, skipped = result.dbt.failed_checks, result.dbt.skipped_checks
        passed = len(result.dbt.checks) - len(failed) - len(skipped)
        table.add_row(
            "dbt",
            f"{result.dbt.models} models, {result.dbt.seeds} seeds, {passed} checks passed, "
            f"{len(failed)} failed"
            + (f", {len(skipped)} skipped (not run: what they check failed)" if skipped else ""),
        )
        for check in failed:
            table.add_row("  failed check", f"{check.description} ({check.failures} rows)")
    exported = f"{result.lines_exported:,} file lines in {len(result.batches)} batch(es)"
    if result.posted_unit == "records":
        exported += " (a record may take several lines; Fusion accepts records)"
    table.add_row("lines exported", exported)
    reasons = ", ".join(f"{k} {v:,}" for k, v in result.exceptions_by_reason.items())
    table.add_row(
        "exception lines", f"{result.exception_lines:,}" + (f" ({reasons})" if reasons else "")
    )
    recon = result.reconciliation
    if recon:
        table.add_row(
            "reconciliation",
            f"{recon['status']}: {recon['feed_days_reconciled']}/{recon['feed_days']} batches; "
            f"source debits {recon['source_debit']} = posted before "
            f"{recon['posted_before_debit']} + exported {recon['exported_debit']}"
            f" + exceptions {recon['exception_debit']}",
        )
    if result.submission is not None:
        sub = result.submission
        statuses = ", ".join(sorted({b.status for b in sub.batches})) or "nothing to send"
        unit = result.posted_unit
        table.add_row(
            "posted to Fusion",
            f"{sub.lines_posted:,} {unit} in {len(sub.batches)} batch(es) ({statuses}); "
            f"{sub.lines_rejected:,} {unit} rejected to the operator queue",
        )
    table.add_row("disclosures recorded", f"{result.disclosures:,}")
    table.add_row("outbox", result.outbox)
    table.add_row("dead-letter store", result.dead_letter_dir)
    table.add_row("status", result.status + (f": {result.message}" if result.message else ""))
    console.print(table)


def render_tally(results: list[RunResult], console: Console) -> None:
    """One line per run and an overall tally: what the demo (or a tick) did, at a glance."""
    tenants = {r.tenant for r in results}
    title = f"All runs of {next(iter(tenants))}" if len(tenants) == 1 else "All runs"
    table = Table(title=title, show_footer=True)
    ok = sum(r.status == "ok" for r in results)
    table.add_column("run", footer=f"{len(results)} runs: {ok} ok, {len(results) - ok} not ok")
    table.add_column("status")
    columns = ("rows extracted", "exported", "posted to Fusion", "rejected", "exceptions")
    totals = {
        "rows extracted": sum(r.rows_extracted for r in results),
        "exception lines": sum(r.exception_lines for r in results),
        "disclosures": sum(r.disclosures for r in results),
    }
    for name in columns:
        table.add_column(name, justify="right")
    table.add_column("disclosures", justify="right", footer=f"{totals['disclosures']:,}")
    table.columns[2].footer = f"{totals['rows extracted']:,}"
    table.columns[6].footer = f"{totals['exception lines']:,} lines"
    for r in results:
        sub = r.submission
        table.add_row(
            f"{r.stream} / {r.domain}"
            if len(tenants) == 1
            else f"{r.tenant}/{r.stream}/{r.domain}",
            r.status,
            f"{r.rows_extracted:,}",
            f"{r.lines_exported:,} lines" if r.batches else "",
            f"{sub.lines_posted:,} {r.posted_unit}" if sub and sub.batches else "",
            f"{sub.lines_rejected:,} {r.posted_unit}" if sub and sub.lines_rejected else "",
            f"{r.exception_lines:,} {'lines' if r.posted_unit == 'lines' else 'records'}"
            if r.exception_lines
            else "",
            f"{r.disclosures:,}",
        )
    print_whole(table, console)
    console.print(
        "exported counts file lines; posted counts what Fusion accepts: journal lines, or "
        "records for record domains (a mass addition and its distribution are two lines)"
    )


def print_whole(table: Table, console: Console) -> None:
    """Print a table at its natural width, never cutting cells to the console's (80 columns
    where the output is not a terminal)."""
    from rich.measure import Measurement

    needed = Measurement.get(console, console.options.update(width=10_000), table).maximum
    if needed <= console.width:
        console.print(table)
        return
    wide = Console(width=needed, file=console.file, force_terminal=console.is_terminal)
    wide.print(table)


def render_plan(plan: Plan, console: Console) -> None:
    """The table `ehrfusion plan` prints: per batch, ledger, period and kind of line."""
    table = Table(title=f"plan: {plan.tenant} / {plan.stream} / {plan.domain}")
    for name in ("batch", "ledger", "period", "kind", "lines", "debit", "credit"):
        table.add_column(name, justify="right" if name in ("lines", "debit", "credit") else "left")
    for line in plan.lines:
        table.add_row(
            line.batch_date,
            line.ledger_name,
            line.period_name,
            line.line_kind,
            f"{line.lines:,}",
            line.debit,
            line.credit,
        )
    console.print(table)
    if plan.finance_review:
        review = Table(title="flagged for finance review (closed periods)")
        for name in ("journal", "batch", "source period", "posted in", "treatment", "reason"):
            review.add_column(name)
        for row in plan.finance_review:
            review.add_row(
                row["journal_id"],
                row["batch_date"],
                row["source_period_name"],
                row["correction_period_name"],
                row["treatment"],
                row["review_reason"],
            )
        console.print(review)
    reasons = ", ".join(f"{k} {v:,}" for k, v in plan.exceptions_by_reason.items())
    console.print(f"held as exceptions: {reasons or 'none'}")
    console.print(f"fingerprint: {plan.fingerprint or '-'} (ehrfusion run --expect-plan ...)")
    console.print("status: " + plan.status + (f": {plan.message}" if plan.message else ""))

"""Benchmark: the Fusion simulator's Journal Import of one large GlInterface batch.

Writes one batch of `--lines` journal lines with the product's FBDI writer: entries of 2 to 4
lines on the simulator's chart (a receivable debit, revenue credits of one company) carrying
the references the product writes (batch, journal, patient and record pseudonyms, line ids);
every `--bad-every`th entry breaks one rule in turn (it does not balance, a line names an
account outside the chart, it is dated in a closed period), so the rejection path runs too.
Starts the simulator in its own process on 127.0.0.1, submits the zip with the product's
client and follows the job the way the product does (status, the log's rejected rows,
journalBatches). Prints the seconds of each step, the import's lines/s (from the upload to the
job's terminal status), the simulator process's peak RSS, and the posted and rejected counts,
which are the same for every version of the simulator given the same arguments.

    .venv/bin/python bench/simulator_import.py [--lines 200000] [--bad-every 500]

To measure another checkout of the simulator (say the commit before a change, in a git
worktree), run the same script with `PYTHONPATH=<checkout>`: the simulator's process imports
`sandbox.fusion` from there, and the script prints the path it imported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

from load.fbdi import write_fbdi_zip
from load.formats import load_spec
from load.fusion_client import BasicCredentials, FusionClient
from sandbox.fusion import chart

REPO = Path(__file__).resolve().parent.parent
LEDGER_ID = 300000046975971
SOURCE = "Epic Resolute"
FEED_DAY = "20261005"
BATCH_NAME = f"EPIC {FEED_DAY}"
USERNAME, PASSWORD = "ehrfusion.integration", "sandbox-password"
TERMINAL = ("SUCCEEDED", "WARNING", "ERROR")
# The simulator's process reports its own peak RSS (VmHWM): its rusage would count the pages
# of the benchmark's process it was forked from.
_SIMULATOR = """
import json, re, sys
import sandbox.fusion
from sandbox.fusion.server import FusionSimulator
server = FusionSimulator().start()
server.knobs.job_seconds = 0
print(json.dumps({"url": server.url, "code": sandbox.fusion.__file__}), flush=True)
sys.stdin.read()
server.stop()
status = open("/proc/self/status").read()
print(json.dumps({"peak_kb": int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))}))
"""


def journal_lines(lines: int, bad_every: int, seed: int) -> pa.RecordBatch:
    """`lines` GL_INTERFACE lines in the product's mart columns (see module docstring)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 5, lines // 2 + 1)
    ends = np.cumsum(sizes)
    entries = int(np.searchsorted(ends, lines)) + 1
    sizes = sizes[:entries]
    sizes[-1] -= ends[entries - 1] - lines
    if sizes[-1] < 2:  # a lone last line joins the entry before it
        sizes[-2] += sizes[-1]
        sizes = sizes[:-1]
    entries = len(sizes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    entry = np.repeat(np.arange(entries), sizes)
    first = np.zeros(lines, bool)
    first[starts] = True

    credit = np.where(first, 0, rng.integers(100, 500_000, lines))
    debit = np.zeros(lines, np.int64)
    debit[starts] = np.add.reduceat(credit, starts)
    companies: dict[str, list[str]] = {}
    for combination in sorted(chart.chart_of_accounts()):
        code, centre, *_ = combination.split("-")
        if centre != chart.BALANCE_SHEET_COST_CENTRE:
            companies.setdefault(code, []).append(combination)
    company = rng.integers(0, len(companies), entries)[entry]
    combos = np.empty(lines, object)
    for index, code in enumerate(companies):
        revenue = np.array(companies[code], object)
        mine = company == index
        combos[mine] = revenue[rng.integers(0, len(revenue), int(mine.sum()))]
        combos[mine & first] = f"{code}-{chart.BALANCE_SHEET_COST_CENTRE}-12000-000-000-0000"
    day = rng.integers(1, 6, entries)[entry]

    bad = np.flatnonzero(np.arange(entries) % bad_every == bad_every - 1)
    kind = (bad // bad_every) % 3
    debit[starts[bad[kind == 0]]] += 1  # does not balance
    outside = starts[bad[kind == 1]] + 1
    combos[outside] = [c[:9] + "99999" + c[14:] for c in combos[outside]]
    day[np.isin(entry, bad[kind == 2])] = 0  # 2026-09-30: a closed period

    segments = list(zip(*(c.split("-") for c in combos), strict=True))
    accounting = np.datetime64("2026-09-30") + day.astype("timedelta64[D]")
    journal = [f"HB-{FEED_DAY}-{e:07d}" for e in range(entries)]
    ids = np.arange(lines) + 900_000_001
    pseudonym = [f"{(i * 2654435761) % 2**64:016x}" * 4 for i in range(lines)]
    columns = {
        "status": pa.array(["NEW"] * lines),
        "ledger_id": pa.array(np.full(lines, LEDGER_ID)),
        "accounting_date": pa.array(accounting.astype("datetime64[D]"), pa.date32()),
        "user_je_source_name": pa.array([SOURCE] * lines),
        "user_je_category_name": pa.array(["Revenue"] * lines),
        "currency_code": pa.array(["USD"] * lines),
        "date_created": pa.array(np.full(lines, np.datetime64("2026-10-05")), pa.date32()),
        "actual_flag": pa.array(["A"] * lines),
        **{f"segment{i + 1}": pa.array(segments[i]) for i in range(6)},
        "entered_dr": _amounts(debit),
        "entered_cr": _amounts(credit),
        "reference1": pa.array([BATCH_NAME] * lines),
        "reference2": pa.array([f"Epic Resolute {FEED_DAY}"] * lines),
        "reference4": pa.array(journal).take(pa.array(entry)),
        "reference5": pa.array(np.where(first, "HB PAYMENT", "HB CHARGE")),
        "reference10": pa.array(np.where(first, "HB AR", "HB CHARGE REV 0450")),
        "reference21": pa.array(pseudonym[1:] + pseudonym[:1]),
        "reference22": pa.array(pseudonym),
        "reference23": pa.array(ids.astype(str)),
        "reference24": pa.array(["k1"] * lines),
        "reference25": pa.array(["NEW"] * lines),
        "group_id": pa.array(np.full(lines, int(FEED_DAY))),
    }
    return pa.record_batch(columns)


def _amounts(cents: np.ndarray) -> pa.Array:
    text = [f"{c // 100}.{c % 100:02d}" if c else None for c in cents.tolist()]
    return pa.array(text, pa.string())


def start_simulator() -> tuple[subprocess.Popen, dict]:
    """The simulator in its own process (sandbox.fusion from PYTHONPATH, else this repo)."""
    env = os.environ | {"PYTHONPATH": os.environ.get("PYTHONPATH") or str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-c", _SIMULATOR],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=tempfile.gettempdir(),  # not a checkout: '' on sys.path must not shadow PYTHONPATH
        text=True,
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def stop_simulator(process: subprocess.Popen) -> float:
    """Stop the simulator's process; its peak RSS in MB."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()
    report = process.stdout.readline()
    if process.wait() != 0 or not report:
        sys.exit("the simulator's process failed")
    return json.loads(report)["peak_kb"] / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--bad-every", type=int, default=500, help="every Nth entry breaks a rule")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    spec = load_spec("25B", "GlInterface")
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        zip_path = Path(work) / f"GlInterface_{FEED_DAY}.zip"
        write_fbdi_zip([journal_lines(args.lines, args.bad_every, args.seed)], spec, zip_path)
        document = zip_path.read_bytes()
        written = time.perf_counter() - started

    process, simulator = start_simulator()
    try:
        client = FusionClient(simulator["url"], BasicCredentials(USERNAME, PASSWORD), timeout=600)
        parameters = f"#NULL,{SOURCE},{LEDGER_ID},{FEED_DAY},N,N,N"
        started = time.perf_counter()
        request_id = client.import_bulk_data(
            document,
            zip_path.name,
            spec.ucm_document_account,
            spec.ess_job.name,
            parameters,
        )
        uploaded = time.perf_counter()
        while (status := client.job_status(request_id)) not in TERMINAL:
            time.sleep(0.05)
        finished = time.perf_counter()
        log = client.job_log(request_id)
        logged = time.perf_counter()
        batches = client.journal_batches(BATCH_NAME, LEDGER_ID)
        read = time.perf_counter()
    finally:
        peak_mb = stop_simulator(process)

    imported = finished - started
    result = {
        "simulator": simulator["code"],
        "lines": args.lines,
        "zip_mb": round(len(document) / 2**20, 1),
        "write_seconds": round(written, 2),
        "upload_seconds": round(uploaded - started, 2),
        "job_seconds": round(finished - uploaded, 2),
        "import_lines_per_second": round(args.lines / imported),
        "log_seconds": round(logged - finished, 2),
        "journal_batches_seconds": round(read - logged, 2),
        "simulator_peak_rss_mb": round(peak_mb),
        "status": status,
        "posted_lines": sum(b["LineCount"] for b in batches),
        "rejected_lines": len(log.rejected),
        "rejected_by_code": dict(sorted(Counter(r.error_code for r in log.rejected).items())),
    }
    for name, value in result.items():
        print(f"{name:>24}: {value}")


if __name__ == "__main__":
    main()

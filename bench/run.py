"""Benchmark: the Resolute -> GL slice at scale, against a hand-written DuckDB baseline.

Both run in the same invocation on the same generated feed, alternately and each in its own
process (peak RSS per side via os.wait4), every ehrfusion run cold on a fresh warehouse. Reported:
median seconds, rows/s, the ratio ehrfusion/baseline, peak RSS, the product's seconds per step
and its ten slowest dbt nodes (run_results.json), and how many of the batches' zips the two
sides wrote byte for byte alike (the baseline writes the same files; anything less than all is
a difference in the work done, not in speed), the CPU seconds of each side and their ratio
(background load inflates them less than wall time) and the machine's load average. Results go
to stdout and bench/results/<scale>.json (<scale>-postgres.json).

    python bench/run.py [--scale 1000000] [--seed 7] [--repeat 3] [--sandbox DIR]
                        [--postgres DSN]

`--sandbox` reuses a drop generated earlier (`ehrfusion sandbox generate --out DIR`) instead of
generating one; `--postgres` runs the product on that database (the baseline stays DuckDB).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
TENANT = "bench"
PHI_KEY = "bench-" + "0" * 40
TOP_NODES = 10


def measured(command: list[str], env: dict | None = None) -> tuple[float, float, str, float]:
    """Run a command; return (seconds, peak RSS in MB of its largest process, stdout, CPU
    seconds of it and its children: user + system, which background load inflates less than
    wall time)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, env=env, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        stdout = out.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark step failed: {' '.join(command)}\n{stdout[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, stdout, usage.ru_utime + usage.ru_stime


def write_config(root: Path, sandbox: Path) -> Path:
    example = yaml.safe_load((REPO / "ehrfusion.yml").read_text())
    tenant = next(iter(example["tenants"].values()))
    tenant["warehouse"]["path"] = str(root / "warehouse.duckdb")
    tenant["endpoints_file"] = str(sandbox / "endpoints.json")
    example["tenants"] = {TENANT: tenant}
    example["paths"] = {k: str(root / k) for k in ("work_dir", "outbox", "dead_letter")}
    path = root / "ehrfusion.yml"
    path.write_text(yaml.safe_dump(example))
    return path


def key_env() -> dict[str, str]:
    return os.environ | {f"EHRFUSION__{TENANT.upper()}__PHI_KEY": PHI_KEY}


def ehrfusion_command(config: Path, *args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "ehrfusion"), *args, "--config", str(config),
            "--tenant", TENANT]  # fmt: skip


WAREHOUSE: list[str] = []  # `--warehouse DSN` when the product runs on Postgres


def empty_postgres(dsn: str) -> None:
    """Drop the benchmark tenant's schemas, so the run starts cold."""
    import psycopg2

    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute("select nspname from pg_namespace where nspname like %s", (TENANT + "\\_%",))
        for (schema,) in cur.fetchall():
            cur.execute(f'drop schema "{schema}" cascade')


def run_command(config: Path) -> list[str]:
    command = ehrfusion_command(config, "run")
    return [*command, "--stream", "epic", "--domain", "gl_journal", *WAREHOUSE, "--json"]


def slowest_nodes(work: Path, top: int = TOP_NODES) -> list[dict]:
    """The dbt build's slowest nodes (models, tests, unit tests) from its run_results.json."""
    found = sorted(work.glob("work_dir/**/target/run_results.json"))
    if not found:
        return []
    results = json.loads(found[0].read_text())["results"]
    results.sort(key=lambda r: -r["execution_time"])
    return [
        {"node": _node_name(r["unique_id"]), "s": round(r["execution_time"], 2)}
        for r in results[:top]
    ]


def _node_name(unique_id: str) -> str:
    """`model x`, `test x` (hash dropped, long names cut), `unit_test model.test`."""
    kind, _, *rest = unique_id.split(".")
    name = ".".join(rest[:2]) if kind == "unit_test" else rest[0]
    return f"{kind} {name[:80]}"


def zip_hashes(folder: Path) -> dict[str, str]:
    """Batch day -> sha256 of its zip, for every GlInterface zip under `folder`."""
    return {
        path.stem[-10:]: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("GlInterface_*.zip")
    }


def fresh_run_of_ehrfusion(root: Path, sandbox: Path, run: int) -> tuple[float, float, dict]:
    """One cold `ehrfusion run` on its own warehouse, state and outbox."""
    work = root / f"ehrfusion-{run}"
    work.mkdir()
    config = write_config(work, sandbox)
    if WAREHOUSE:
        empty_postgres(WAREHOUSE[1])
    seconds, rss, out, cpu = measured(run_command(config), env=key_env())
    result = json.loads(out) | {"cpu_s": cpu}
    result["slowest_nodes"] = slowest_nodes(work)
    result["zips"] = zip_hashes(work / "outbox")
    return seconds, rss, result


def baseline_run(root: Path, sandbox: Path, run: int) -> tuple[float, float, dict]:
    out_dir = root / f"baseline-{run}"
    seconds, rss, out, cpu = measured(
        [sys.executable, "bench/baseline_duckdb.py", "--drop", str(sandbox),
         "--seeds", "seeds", "--out", str(out_dir)],
        env=key_env(),
    )  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1]) | {"cpu_s": cpu}
    result["zips"] = zip_hashes(out_dir)
    return seconds, rss, result


GENERATED: list[float] = []


def generate(out: Path, seed: int, scale: int) -> Path:
    """Generate the sandbox drop; its seconds are kept in GENERATED."""
    seconds, *_ = measured(
        [str(Path(sys.executable).parent / "ehrfusion"), "sandbox", "generate",
         "--seed", str(seed), "--scale", str(scale), "--out", str(out), "--json"]
    )  # fmt: skip
    GENERATED.append(seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; medians reported")
    parser.add_argument("--sandbox", type=Path, help="a drop generated earlier, reused as is")
    parser.add_argument(
        "--postgres",
        metavar="DSN",
        help="run the product on this Postgres database (emptied first) instead of DuckDB",
    )
    args = parser.parse_args()
    if args.postgres:
        WAREHOUSE.extend(["--warehouse", args.postgres])
    with tempfile.TemporaryDirectory(prefix="ehrfusion-bench-") as tmp:
        root = Path(tmp)
        sandbox = args.sandbox or generate(root / "sandbox", args.seed, args.scale)
        generation = 0.0 if args.sandbox else GENERATED[-1]
        load_before = os.getloadavg()[0]
        # Alternate the sides so background load on the machine hits both alike.
        baseline, ours = [], []
        for run in range(args.repeat):
            baseline.append(baseline_run(root, sandbox, run))
            ours.append(fresh_run_of_ehrfusion(root, sandbox, run))

    base_s = statistics.median(r[0] for r in baseline)
    ours_s = statistics.median(r[0] for r in ours)
    rows = ours[0][2]["extract"]["rows"]
    report = {
        "scale": args.scale,
        "warehouse": "postgres" if args.postgres else "duckdb",
        "rows_in": rows,
        "runs_per_side": args.repeat,
        "sandbox_generation_s": round(generation, 2),
        "baseline": {
            "median_s": round(base_s, 2),
            "runs_s": [round(r[0], 2) for r in baseline],
            "rows_per_s": round(rows / base_s),
            "peak_rss_mb": round(max(r[1] for r in baseline)),
            "cpu_s": round(statistics.median(r[2]["cpu_s"] for r in baseline), 2),
            "rows_out": baseline[0][2]["rows_out"],
            "held_lines": baseline[0][2]["held_lines"],
        },
        "ehrfusion": {
            "median_s": round(ours_s, 2),
            "runs_s": [round(r[0], 2) for r in ours],
            "rows_per_s": round(rows / ours_s),
            "peak_rss_mb": round(max(r[1] for r in ours)),
            "cpu_s": round(statistics.median(r[2]["cpu_s"] for r in ours), 2),
            "rows_out": ours[0][2]["export"]["lines"],
            "steps_s": [r[2]["seconds"] for r in ours],
            "slowest_dbt_nodes_s": ours[0][2]["slowest_nodes"],
        },
        "zips_identical": sum(
            ours[0][2]["zips"].get(day) == digest for day, digest in baseline[0][2]["zips"].items()
        ),
        "zips": len(ours[0][2]["zips"]),
        "ratio_time_ehrfusion_over_baseline": round(ours_s / base_s, 2),
        "ratio_cpu_ehrfusion_over_baseline": round(
            statistics.median(r[2]["cpu_s"] for r in ours)
            / statistics.median(r[2]["cpu_s"] for r in baseline),
            2,
        ),
        # Other work on the machine (2 cores): the 1-minute load before and after the runs.
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    engine = "-postgres" if args.postgres else ""
    (results / f"{args.scale}{engine}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

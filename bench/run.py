"""Benchmark: the Resolute -> GL slice at scale, against a hand-written DuckDB baseline.

Both run in the same invocation on the same generated feed, alternately and each in its own
process (peak RSS per side via os.wait4), every ehrfusion run cold on a fresh warehouse. Reported:
median seconds, rows/s, the ratio ehrfusion/baseline and peak RSS. Results go to stdout and
bench/results/<scale>.json.

    python bench/run.py [--scale 1000000] [--seed 7] [--repeat 3]
"""

from __future__ import annotations

import argparse
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


def measured(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run a command; return (seconds, peak RSS in MB of it and its children, stdout)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, env=env, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        stdout = out.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark step failed: {' '.join(command)}\n{stdout[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, stdout


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


def fresh_run_of_ehrfusion(root: Path, sandbox: Path, run: int) -> tuple[float, float, dict]:
    """One cold `ehrfusion run` on its own warehouse, state and outbox."""
    work = root / f"ehrfusion-{run}"
    work.mkdir()
    config = write_config(work, sandbox)
    env = os.environ | {f"EHRFUSION__{TENANT.upper()}__PHI_KEY": "bench-" + "0" * 40}
    seconds, rss, out = measured(
        [str(Path(sys.executable).parent / "ehrfusion"), "run", "--config", str(config),
         "--tenant", TENANT, "--stream", "epic", "--domain", "gl_journal", "--json"],
        env=env,
    )  # fmt: skip
    return seconds, rss, json.loads(out)


def baseline_run(root: Path, sandbox: Path, run: int) -> tuple[float, float, dict]:
    seconds, rss, out = measured(
        [sys.executable, "bench/baseline_duckdb.py", "--drop", str(sandbox),
         "--seeds", "seeds", "--out", str(root / f"baseline-{run}")]
    )  # fmt: skip
    return seconds, rss, json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; medians reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ehrfusion-bench-") as tmp:
        root = Path(tmp)
        sandbox = root / "sandbox"
        generation, _, _ = measured(
            [str(Path(sys.executable).parent / "ehrfusion"), "sandbox", "generate",
             "--seed", str(args.seed), "--scale", str(args.scale), "--out", str(sandbox), "--json"]
        )  # fmt: skip
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
        "rows_in": rows,
        "runs_per_side": args.repeat,
        "sandbox_generation_s": round(generation, 2),
        "baseline": {
            "median_s": round(base_s, 2),
            "runs_s": [round(r[0], 2) for r in baseline],
            "rows_per_s": round(rows / base_s),
            "peak_rss_mb": round(max(r[1] for r in baseline)),
            "rows_out": baseline[0][2]["rows_out"],
        },
        "ehrfusion": {
            "median_s": round(ours_s, 2),
            "runs_s": [round(r[0], 2) for r in ours],
            "rows_per_s": round(rows / ours_s),
            "peak_rss_mb": round(max(r[1] for r in ours)),
            "rows_out": ours[0][2]["export"]["lines"],
            "steps_s": [r[2]["seconds"] for r in ours],
        },
        "ratio_time_ehrfusion_over_baseline": round(ours_s / base_s, 2),
    }
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"{args.scale}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

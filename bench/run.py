"""Benchmark: the Resolute -> GL slice at scale, against a hand-written DuckDB baseline.

Both run in the same invocation on the same generated feed, each in its own process so peak
RSS is measured per side (os.wait4). Reported: rows/s, the time ratio ehrfusion/baseline and
peak RSS. Results go to stdout and bench/results/<scale>.json.

    python bench/run.py [--scale 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="ehrfusion-bench-") as tmp:
        root = Path(tmp)
        sandbox = root / "sandbox"
        generation, _, _ = measured(
            [str(bin_dir / "ehrfusion"), "sandbox", "generate", "--seed", str(args.seed),
             "--scale", str(args.scale), "--out", str(sandbox), "--json"]
        )  # fmt: skip

        base_s, base_rss, base_out = measured(
            [sys.executable, "bench/baseline_duckdb.py", "--drop", str(sandbox),
             "--seeds", "seeds", "--out", str(root / "baseline")]
        )  # fmt: skip
        baseline = json.loads(base_out.strip().splitlines()[-1])

        env = os.environ | {f"EHRFUSION__{TENANT.upper()}__PHI_KEY": "bench-" + "0" * 40}
        config = write_config(root, sandbox)
        ours_s, ours_rss, ours_out = measured(
            [str(bin_dir / "ehrfusion"), "run", "--config", str(config), "--tenant", TENANT,
             "--stream", "epic", "--domain", "gl_journal", "--json"],
            env=env,
        )  # fmt: skip
        summary = json.loads(ours_out)

    rows = summary["extract"]["rows"]
    report = {
        "scale": args.scale,
        "rows_in": rows,
        "sandbox_generation_s": round(generation, 2),
        "baseline": {
            "seconds": round(base_s, 2),
            "rows_per_s": round(baseline["rows_in"] / base_s),
            "peak_rss_mb": round(base_rss),
            "rows_out": baseline["rows_out"],
        },
        "ehrfusion": {
            "seconds": round(ours_s, 2),
            "rows_per_s": round(rows / ours_s),
            "peak_rss_mb": round(ours_rss),
            "rows_out": summary["export"]["lines"],
            "steps_s": summary["seconds"],
        },
        "ratio_time_ehrfusion_over_baseline": round(ours_s / base_s, 2),
    }
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"{args.scale}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

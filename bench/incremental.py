"""Benchmark: what a run costs when little or nothing is new.

On one generated Resolute feed (31 days), in its own warehouse and outbox, each step a fresh
`ehrfusion` process timed as a whole (process start included), one after the other:

1. a run with the first `--days` days landed (the full run),
2. a run after the next day's file arrives (one new day),
3. a run with nothing new,
4. `ehrfusion tick` with nothing due (the domain ran today; the tenant's other domains are off).

Printed, and written to bench/results/incremental-<scale>.json: seconds, peak RSS and CPU
seconds of each step, the one-new-day run as a fraction of the full run (target at most 0.1),
the nothing-new run's seconds (target at most 5) and the tick's (target at most 1).

    python bench/incremental.py [--scale 1000000] [--days 30] [--sandbox DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import REPO, TENANT, generate, key_env, measured, run_command

FEED = Path("epic") / "resolute"


def feed_with_days(sandbox: Path, drop: Path, days: int) -> list[Path]:
    """A drop whose Resolute folder holds the first `days` daily files (hard links); returns
    the later files, in day order, for adding one at a time."""
    files = sorted((sandbox / FEED).glob("resolute_*.parquet"))
    (drop / FEED).mkdir(parents=True)
    for path in files[:days]:
        os.link(path, drop / FEED / path.name)
    return files[days:]


def write_config(root: Path, drop: Path) -> Path:
    """The example configuration with one tenant whose only enabled domain is Epic's GL."""
    example = yaml.safe_load((REPO / "ehrfusion.yml").read_text())
    tenant = next(iter(example["tenants"].values()))
    tenant["warehouse"]["path"] = str(root / "warehouse.duckdb")
    endpoints = {"endpoints": {"epic_resolute_journal": {
        "kind": "files", "path": str(drop / FEED), "pattern": "resolute_*.parquet"}}}  # fmt: skip
    (root / "endpoints.json").write_text(json.dumps(endpoints))
    tenant["endpoints_file"] = str(root / "endpoints.json")
    for stream_name, stream in tenant["streams"].items():
        for domain_name, domain in stream["domains"].items():
            domain["enabled"] = (stream_name, domain_name) == ("epic", "gl_journal")
    example["tenants"] = {TENANT: tenant}
    example["paths"] = {k: str(root / k) for k in ("work_dir", "outbox", "dead_letter")}
    path = root / "ehrfusion.yml"
    path.write_text(yaml.safe_dump(example))
    return path


def step(command: list[str]) -> dict:
    seconds, rss, out, cpu = measured(command, env=key_env())
    result = json.loads(out) if out.strip().startswith(("{", "[")) else {}
    figures = {"s": round(seconds, 2), "peak_rss_mb": round(rss), "cpu_s": round(cpu, 2)}
    if isinstance(result, dict) and "seconds" in result:
        figures["steps_s"] = result["seconds"]
        figures["lines_exported"] = result.get("export", {}).get("lines")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=30, help="days landed before the new one")
    parser.add_argument("--sandbox", type=Path, help="a drop generated earlier, reused as is")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ehrfusion-bench-incremental-") as tmp:
        root = Path(tmp)
        sandbox = args.sandbox or generate(root / "sandbox", args.seed, args.scale)
        drop = root / "drop"
        later = feed_with_days(sandbox, drop, args.days)
        config = write_config(root, drop)
        full = step(run_command(config))
        os.link(later[0], drop / FEED / later[0].name)
        one_day = step(run_command(config))
        nothing_new = step(run_command(config))
        tick = step([str(Path(sys.executable).parent / "ehrfusion"), "tick", "--config",
                     str(config), "--json"])  # fmt: skip
    report = {
        "scale": args.scale,
        "days_landed_before": args.days,
        "full_run": full,
        "one_new_day_run": one_day,
        "nothing_new_run": nothing_new,
        "tick_nothing_due": tick,
        "one_new_day_over_full": round(one_day["s"] / full["s"], 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"incremental-{args.scale}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

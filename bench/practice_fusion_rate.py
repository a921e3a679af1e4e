"""Benchmark: Practice Fusion paging against its 30 requests/second budget per practice.

Four practices page through their charges in parallel for `--seconds`, first paced by the
product's token buckets, then (the baseline, in the same run, on a fresh server) by the same
fetch loop without a limiter, which the server throttles with 429 and Retry-After. Per
practice it prints the answered requests per second, the share of the budget that is, and the
budget violations as the server counted them (requests beyond 30 in any one-second window).

    .venv/bin/python -m bench.practice_fusion_rate [--seconds 10] [--practices 4]
"""

from __future__ import annotations

import argparse
import threading
import time

import requests

from extract.shared.rate_limit import LimiterRegistry
from extract.veradigm.practice_fusion import (
    BUDGET,
    PracticeCredentials,
    PracticeFusionClient,
)
from sandbox.practice_fusion import PracticeFusionServer, build_practices, client_id, client_secret

PAGE_SIZE = 10


def fetch_for(client: PracticeFusionClient, seconds: float) -> float:
    """Page through the practice's charges again and again until `seconds` pass; returns the
    seconds it actually ran."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        for _ in client.pages("charges", None, PAGE_SIZE):
            if time.monotonic() - started >= seconds:
                break
    return time.monotonic() - started


def run(practices: int, seconds: float, paced: bool) -> dict[str, dict]:
    """One phase on a fresh server: per practice the server's counts and the elapsed time."""
    registry = LimiterRegistry()
    with PracticeFusionServer(build_practices(7, practices, 200), budget=BUDGET.requests) as server:
        clients = []
        for practice_id in server.practices:
            credentials = PracticeCredentials(
                practice_id, client_id(practice_id), client_secret(practice_id)
            )
            bucket = registry.bucket(f"bench:{practice_id}", BUDGET) if paced else None
            clients.append(PracticeFusionClient(server.url, credentials, bucket))
        elapsed: dict[str, float] = {}

        def work(client: PracticeFusionClient) -> None:
            elapsed[client.practice_id] = fetch_for(client, seconds)

        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = requests.get(f"{server.url}/__sandbox__/stats", timeout=10).json()["practices"]
    return {p: stats[p] | {"seconds": elapsed[p]} for p in stats}


def answered_rate(counted: dict) -> float:
    return (counted["requests"] - counted["throttled"]) / counted["seconds"]


def show(title: str, phase: dict[str, dict]) -> None:
    print(f"\n{title}")
    print(f"{'practice':<10}{'req/s':>8}{'% budget':>10}{'violations':>12}{'429s':>7}{'max/1s':>8}")
    for practice, counted in phase.items():
        rate = answered_rate(counted)
        print(
            f"{practice:<10}{rate:>8.2f}{100 * rate / BUDGET.requests:>9.1f}%"
            f"{counted['violations']:>12}{counted['throttled']:>7}{counted['max_in_window']:>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--practices", type=int, default=4)
    args = parser.parse_args()
    print(
        f"budget {BUDGET.requests} requests/s per practice (bucket refill "
        f"{BUDGET.refill_per_second:.2f}/s, burst {BUDGET.burst}), {args.practices} practices "
        f"in parallel, {args.seconds:.0f} s per phase, {PAGE_SIZE} charges per page"
    )
    paced = run(args.practices, args.seconds, paced=True)
    show("ehrfusion (one token bucket per practice)", paced)
    baseline = run(args.practices, args.seconds, paced=False)
    show("baseline (same fetch loop, no limiter; Retry-After honoured)", baseline)
    ours = sum(answered_rate(c) for c in paced.values())
    theirs = sum(answered_rate(c) for c in baseline.values())
    print(
        f"\nanswered requests/s, all practices: ehrfusion {ours:.1f}, baseline {theirs:.1f}, "
        f"ratio {ours / theirs:.2f}; violations: ehrfusion "
        f"{sum(c['violations'] for c in paced.values())}, baseline "
        f"{sum(c['violations'] for c in baseline.values())}"
    )


if __name__ == "__main__":
    main()

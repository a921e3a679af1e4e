"""Simulated Oracle Fusion Cloud: a loopback HTTP server that judges FBDI imports (Journal
Import and every other object), HCM Data Loader data sets, and serves the reference-data and
real-time create resources.

Start it with `stand_in("fusion").start(out_dir)` (from `sandbox.generate`) or
`FusionSimulator(endpoints_path(out_dir)).start()`; either registers
`{"kind": "http", "url": ...}` under `fusion` in the endpoints file, and `stop()` removes it.
The contract it implements is docs/fusion_contract.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.endpoints import endpoints_path
from sandbox.fusion import chart
from sandbox.fusion.server import NAME, FusionSimulator
from sandbox.standin import GenerationRequest, StandIn

__all__ = ["STAND_IN", "FusionSimulator"]


def describe(request: GenerationRequest) -> dict[str, Any]:
    """Nothing to write: the simulator saves its state when it runs. Summarise its world."""
    return {
        "server": "started on demand: stand_in('fusion').start(out_dir)",
        "ledger_id": chart.LEDGER_ID,
        "ledger_name": chart.LEDGER_NAME,
        "combinations": len(chart.chart_of_accounts()),
    }


STATE_FILE = "fusion_state.pickle"


def server_for(out_dir: Path) -> FusionSimulator:
    """A simulator that publishes itself in `out_dir`'s endpoints file and keeps its state in
    `out_dir/fusion_state.pickle`, so the next one started there is the same Fusion."""
    return FusionSimulator(endpoints_path(out_dir), state_file=Path(out_dir) / STATE_FILE)


STAND_IN = StandIn(name=NAME, kind="http", generate=describe, server=server_for)

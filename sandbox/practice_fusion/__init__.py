"""Stand-in for the Practice Fusion REST API: several practices (tenants) on one loopback
server, each with its own OAuth2 client and request budget (docs/veradigm_contract.md).

`generate` writes the practices' recipe (`veradigm/practice_fusion.json`: seed, practice ids,
charges per practice); the server rebuilds the same rows from it in memory, and its mutation
stream moves the delta cursors from there. Start it with `STAND_IN.start(out_dir)`; it
registers `{"kind": "http", "url": ...}` under `practice_fusion` in the endpoints file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.endpoints import endpoints_path
from sandbox.practice_fusion.practices import Practice, build_practice
from sandbox.practice_fusion.server import NAME, PracticeFusionServer, client_id, client_secret
from sandbox.standin import GenerationRequest, StandIn

__all__ = [
    "STAND_IN",
    "PracticeFusionServer",
    "build_practices",
    "client_id",
    "client_secret",
]

RECIPE = "veradigm/practice_fusion.json"
PRACTICES = 4


def build_practices(seed: int, count: int = PRACTICES, charges: int = 50) -> list[Practice]:
    """`count` practices (`pf1001`, `pf1002`, ...) of `charges` charges each."""
    return [build_practice(seed, f"pf{1001 + n}", charges) for n in range(count)]


def generate(request: GenerationRequest) -> dict[str, Any]:
    """Write the recipe the server builds its practices from; summarise it (no patient data)."""
    charges = max(20, request.scale // 40)
    practice_ids = [f"pf{1001 + n}" for n in range(PRACTICES)]
    path = request.out_dir / RECIPE
    path.parent.mkdir(parents=True, exist_ok=True)
    recipe = {"seed": request.seed, "practices": PRACTICES, "charges_per_practice": charges}
    path.write_text(json.dumps(recipe, sort_keys=True) + "\n", encoding="utf-8")
    return {"recipe": str(path.resolve()), **recipe, "practice_ids": practice_ids}


def server_for(out_dir: Path) -> PracticeFusionServer:
    """A server over the practices of `out_dir`'s recipe, publishing itself there."""
    recipe = json.loads((Path(out_dir) / RECIPE).read_text(encoding="utf-8"))
    practices = build_practices(recipe["seed"], recipe["practices"], recipe["charges_per_practice"])
    return PracticeFusionServer(practices, endpoints_path(out_dir))


STAND_IN = StandIn(name=NAME, kind="http", generate=generate, server=server_for)

"""Stand-in for the Veradigm Unity API (JSON Magic endpoint) of one TouchWorks-style
organisation (docs/veradigm_contract.md).

`generate` writes the organisation's recipe (`veradigm/unity.json`); the server rebuilds the
same practice from it in memory (the Practice Fusion stand-in's synthetic practices). Start it
with `STAND_IN.start(out_dir)`; it registers `{"kind": "http", "url": ...}` under
`veradigm_unity` in the endpoints file. Sandbox credentials: `USERNAME`, `PASSWORD`, `APPNAME`,
`APP_USER`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.endpoints import endpoints_path
from sandbox.practice_fusion.practices import Practice, build_practice
from sandbox.standin import GenerationRequest, StandIn
from sandbox.unity.server import APP_USER, APPNAME, NAME, PASSWORD, USERNAME, UnityServer

__all__ = ["APPNAME", "APP_USER", "PASSWORD", "STAND_IN", "USERNAME", "UnityServer", "organisation"]

RECIPE = "veradigm/unity.json"
ORGANISATION = "tw2001"


def organisation(seed: int, charges: int = 50) -> Practice:
    """The organisation's practice: `charges` charges, with its patients and providers."""
    return build_practice(seed, ORGANISATION, charges)


def generate(request: GenerationRequest) -> dict[str, Any]:
    """Write the recipe the server builds its practice from; summarise it (no patient data)."""
    recipe = {"seed": request.seed, "charges": max(20, request.scale // 40)}
    path = request.out_dir / RECIPE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recipe, sort_keys=True) + "\n", encoding="utf-8")
    return {"recipe": str(path.resolve()), "organisation": ORGANISATION, **recipe}


def server_for(out_dir: Path) -> UnityServer:
    """A server over `out_dir`'s recipe, publishing itself there."""
    recipe = json.loads((Path(out_dir) / RECIPE).read_text(encoding="utf-8"))
    return UnityServer(organisation(recipe["seed"], recipe["charges"]), endpoints_path(out_dir))


STAND_IN = StandIn(name=NAME, kind="http", generate=generate, server=server_for)

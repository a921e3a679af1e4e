"""Generate the whole sandbox: every registered stand-in's data plus the endpoints file."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sandbox import dbmotion, epic_resolute, fusion, practice_fusion, sunrise, touchworks, unity
from sandbox.endpoints import endpoints_path, update_endpoints
from sandbox.standin import GenerationRequest, StandIn

# Every stand-in of the sandbox, in generation order. New stand-ins are added here.
STAND_INS: tuple[StandIn, ...] = (
    epic_resolute.STAND_IN,
    sunrise.STAND_IN,
    touchworks.STAND_IN,
    practice_fusion.STAND_IN,
    unity.STAND_IN,
    dbmotion.STAND_IN,
    fusion.STAND_IN,
)

DEFAULT_START = date(2026, 10, 1)
DEFAULT_DAYS = 31


def stand_in(name: str) -> StandIn:
    """The registered stand-in called `name`."""
    for candidate in STAND_INS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no stand-in named {name!r}; known: {', '.join(s.name for s in STAND_INS)}")


def generate(
    out_dir: Path,
    seed: int,
    scale: int,
    start_date: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
) -> dict[str, Any]:
    """Run every generator into `out_dir` and write a fresh endpoints file.

    Returns a JSON-able summary: per stand-in the files written (absolute paths, line counts)
    and counts of deliberately injected bad records. It never contains patient data. Running
    servers are not recorded here: start them after generating.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    request = GenerationRequest(out_dir, seed, scale, start_date, days)
    summaries = {s.name: s.generate(request) for s in STAND_INS}
    endpoints = {s.name: entry for s in STAND_INS if (entry := s.endpoint(out_dir)) is not None}
    document = {"endpoints": endpoints, "seed": seed, "scale": scale}

    def replace(data: dict[str, Any]) -> None:
        data.clear()
        data.update(document)

    path = endpoints_path(out_dir)
    update_endpoints(path, replace)
    return {
        "seed": seed,
        "scale": scale,
        "start_date": start_date.isoformat(),
        "days": days,
        "endpoints_file": str(path.resolve()),
        "stand_ins": summaries,
    }

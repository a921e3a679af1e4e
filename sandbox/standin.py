"""Declaration of a stand-in: one simulated source system or target the product talks to.

A stand-in is either a file drop (`files`) the product reads from a directory, or a loopback
HTTP server (`http`). Every stand-in has a deterministic `generate` step that writes its data
under the sandbox output directory; `http` stand-ins also build a `LoopbackServer` that serves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from sandbox.endpoints import endpoints_path
from sandbox.server import LoopbackServer

Kind = Literal["files", "http"]


@dataclass(frozen=True)
class GenerationRequest:
    """What every generator is asked for: same values in, same bytes out."""

    out_dir: Path
    seed: int
    scale: int
    start_date: date
    days: int


@dataclass(frozen=True)
class StandIn:
    """One stand-in.

    `generate` writes the stand-in's data and returns a JSON-able summary (paths, counts, never
    patient data). A `files` stand-in names the directory (relative to the output directory) and
    file pattern the product reads; an `http` stand-in gives a factory that builds its server
    for an output directory.
    """

    name: str
    kind: Kind
    generate: Callable[[GenerationRequest], dict[str, Any]]
    files_dir: str | None = None
    file_pattern: str | None = None
    server: Callable[[Path], LoopbackServer] | None = None

    def __post_init__(self) -> None:
        if self.kind == "files" and not (self.files_dir and self.file_pattern):
            raise ValueError(f"files stand-in {self.name} needs files_dir and file_pattern")
        if self.kind == "http" and self.server is None:
            raise ValueError(f"http stand-in {self.name} needs a server factory")
        if self.kind not in ("files", "http"):
            raise ValueError(f"stand-in {self.name}: unknown kind {self.kind!r}")

    def endpoint(self, out_dir: Path) -> dict[str, Any] | None:
        """The endpoints-file entry written at generation time (`None` for servers)."""
        if self.kind != "files":
            return None
        path = (Path(out_dir) / str(self.files_dir)).resolve()
        return {"kind": "files", "path": str(path), "pattern": self.file_pattern}

    def start(self, out_dir: Path) -> LoopbackServer:
        """Start this `http` stand-in's server; it publishes its URL in the endpoints file."""
        if self.server is None:
            raise ValueError(f"stand-in {self.name} is not a server")
        server = self.server(Path(out_dir))
        if server.endpoints_file is None:
            server.endpoints_file = endpoints_path(out_dir)
        return server.start()

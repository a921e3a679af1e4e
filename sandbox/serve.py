"""Keep the sandbox's servers running: the EHR APIs and Fusion, each publishing its URL in the
sandbox's endpoints file, until interrupted.

Fusion keeps its state in the sandbox folder (`fusion_state.pickle`), so the simulator served
here is the one the demo posted to: `reconcile`, `submit`, `queue reload` and later runs work
against the same books.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from sandbox.generate import STAND_INS


def serve(
    sandbox_dirs: list[Path],
    ready: Callable[[dict[str, str]], None],
    stop: threading.Event | None = None,
) -> None:
    """Start every server stand-in of each sandbox folder, call `ready` with their URLs
    (`<folder>:<name>` -> URL), and serve until `stop` is set, SIGTERM or SIGINT."""
    stop = stop or threading.Event()
    missing = [str(d) for d in sandbox_dirs if not (d / "endpoints.json").exists()]
    if missing:
        raise FileNotFoundError(
            f"no sandbox in {', '.join(missing)}: run `ehrfusion demo` or `ehrfusion sandbox "
            "generate` first"
        )
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGTERM, signal.SIGINT):
            previous[number] = signal.signal(number, lambda *_: stop.set())
    try:
        with ExitStack() as running:
            urls = {}
            for folder in sandbox_dirs:
                for stand_in in STAND_INS:
                    if stand_in.kind == "http":
                        server = running.enter_context(stand_in.start(folder))
                        urls[f"{folder}:{stand_in.name}"] = server.url
            ready(urls)
            stop.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)

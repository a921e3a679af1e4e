"""The endpoints file: where the product finds each running or generated stand-in.

`<out_dir>/endpoints.json` looks like::

    {"endpoints": {"epic_resolute_journal": {"kind": "files", "path": "/abs/dir", ...},
                   "fusion": {"kind": "http", "url": "http://127.0.0.1:40123"}},
     "scale": 2000, "seed": 7}

It holds no wall-clock values, so the same seed and scale give the same bytes. Updates are
read-modify-write under an exclusive lock and land atomically (temp file + rename), so readers
never see a half-written file and concurrent writers never lose each other's entries.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ENDPOINTS_FILE = "endpoints.json"


def endpoints_path(out_dir: Path) -> Path:
    """The endpoints file of a sandbox output directory."""
    return Path(out_dir) / ENDPOINTS_FILE


def read_endpoints(path: Path) -> dict[str, Any]:
    """The endpoints document; `{"endpoints": {}}` if the file does not exist yet."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"endpoints": {}}
    data.setdefault("endpoints", {})
    return data


def write_endpoints(path: Path, data: dict[str, Any]) -> None:
    """Replace the endpoints file atomically with `data` (sorted keys, stable formatting)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # The lock lives in a sibling file: the endpoints file itself is replaced by rename, so a
    # lock on its inode would not exclude a writer that opened the new one.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update_endpoints(path: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply `change` to the document in place under the lock, write it, and return it."""
    path = Path(path)
    with _locked(path):
        data = read_endpoints(path)
        change(data)
        write_endpoints(path, data)
    return data


def set_endpoint(path: Path, name: str, entry: dict[str, Any]) -> None:
    """Add or replace the endpoint `name`."""
    update_endpoints(path, lambda data: data["endpoints"].__setitem__(name, entry))


def remove_endpoint(path: Path, name: str) -> None:
    """Remove the endpoint `name` if present."""
    update_endpoints(path, lambda data: data["endpoints"].pop(name, None))

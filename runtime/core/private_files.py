"""Files and folders that can hold PHI are the owner's only: folders 0700, files 0600.

The raw warehouse file, the dead-letter store (original bytes of rejected feed files) and dlt's
working folders (extracted rows before they load) hold PHI; the audit mirror and the restricted
map have their own owner-only handling.
"""

from __future__ import annotations

import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """Create `path` (and missing parents) and make it the owner's only."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, FOLDER_MODE)
    return path


def private_file(path: Path) -> None:
    """Make an existing file the owner's only (a missing one is left alone)."""
    if path.exists():
        os.chmod(path, FILE_MODE)

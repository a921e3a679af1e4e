"""Zip archives whose bytes depend only on their entries' names and contents.

Every entry gets the same timestamp (1980-01-01 00:00:00, the earliest a zip can hold), Unix
regular-file permissions 0644, DEFLATE at a fixed level, and no extra fields. Entries are written
in the order the caller adds them. Byte identity across machines additionally assumes the same
zlib build, since DEFLATE output may differ between zlib implementations.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 1
_UNIX = 3
_REGULAR_FILE_0644 = (0o100000 | 0o644) << 16
# zipfile cannot stream an entry past this size without zip64 records, which we never write.
MAX_ENTRY_BYTES = zipfile.ZIP64_LIMIT


class ZipEntryTooLarge(RuntimeError):
    """An entry grew past what a zip without zip64 records can hold."""


def fixed_zipinfo(name: str) -> zipfile.ZipInfo:
    """A ZipInfo with the fixed timestamp, permissions, system and compression."""
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info._compresslevel = COMPRESS_LEVEL  # streamed entries take the level from the ZipInfo
    info.create_system = _UNIX
    info.external_attr = _REGULAR_FILE_0644
    return info


class _CountingWriter:
    """Wraps an entry stream and refuses to grow past MAX_ENTRY_BYTES."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self._stream = stream
        self._name = name
        self.bytes_written = 0

    def write(self, data: bytes | memoryview) -> int:
        self.bytes_written += len(data)
        if self.bytes_written > MAX_ENTRY_BYTES:
            raise ZipEntryTooLarge(f"{self._name} exceeds {MAX_ENTRY_BYTES} bytes; split the batch")
        return self._stream.write(data)


class DeterministicZip:
    """A zip file open for writing; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=False)

    def __enter__(self) -> DeterministicZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    @contextmanager
    def open_entry(self, name: str) -> Iterator[_CountingWriter]:
        """Stream one entry's bytes; entries appear in the order they are opened."""
        with self._zip.open(fixed_zipinfo(name), mode="w", force_zip64=False) as stream:
            yield _CountingWriter(stream, name)

    def write_entry(self, name: str, data: bytes) -> None:
        """Add one entry from bytes held in memory."""
        with self.open_entry(name) as out:
            out.write(data)


class BackgroundWriter:
    """Calls `write` for each chunk on a worker thread, so DEFLATE overlaps with producing
    the next chunk (zlib and Arrow both release the GIL). Use as a context manager."""

    def __init__(self, write: Callable[[memoryview], object], depth: int = 2) -> None:
        self._write = write
        self._queue: queue.Queue[memoryview | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="zip-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(item)
                except BaseException as exc:  # handed to the producer on its next call
                    self._error = exc

    def write(self, data: memoryview) -> None:
        """Queue one chunk; raises the worker's error if an earlier chunk failed."""
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if exc_type is None and self._error is not None:
            raise self._error


class AtomicZip:
    """A DeterministicZip written beside `zip_path` and renamed into place only when complete.

    Use as a context manager; after a clean exit `sha256` and `bytes` describe the published
    zip. On any error nothing is left at `zip_path` (an existing file there is untouched).
    """

    def __init__(self, zip_path: Path) -> None:
        self.path = Path(zip_path)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._zip: DeterministicZip | None = None
        self.sha256 = ""
        self.bytes = 0

    def __enter__(self) -> DeterministicZip:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._zip = DeterministicZip(self._tmp)
        return self._zip

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            self._zip.__exit__(exc_type, *exc)
            if exc_type is not None:
                return
            with self._tmp.open("rb") as fh:
                os.fsync(fh.fileno())
                self.sha256 = hashlib.file_digest(fh, "sha256").hexdigest()
            self.bytes = self._tmp.stat().st_size
            os.replace(self._tmp, self.path)
        finally:
            self._tmp.unlink(missing_ok=True)

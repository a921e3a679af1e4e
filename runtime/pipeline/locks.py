"""Run locks that work across processes and hosts, and never wait.

One lock per tenant/stream/domain. On Postgres it is a session-level advisory lock held on a
dedicated connection, so every host sharing the warehouse sees it and the server releases it
when the holder's connection dies. On DuckDB (a file on one host) it is an `flock` on a file
beside the warehouse file, released by the kernel when the holder dies. A DuckDB file also
admits only one writer process, so a DuckDB run additionally holds the file's writer slot.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg2

from runtime.core.warehouse import Warehouse


class Locked(Exception):
    """Another run holds the lock: try later (exit code 75)."""


def lock_key(tenant: str, stream: str, domain: str) -> int:
    """A stable signed 64-bit advisory-lock key (the same on every host and Python version)."""
    digest = hashlib.sha256(f"ehrfusion:{tenant}/{stream}/{domain}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file(warehouse: Warehouse, stream: str, domain: str) -> Path:
    """The DuckDB lock file of one domain: `<warehouse file>.<stream>.<domain>.lock`."""
    return Path(f"{warehouse.duckdb_path}.{stream}.{domain}.lock")


@contextlib.contextmanager
def domain_lock(warehouse: Warehouse, stream: str, domain: str) -> Iterator[None]:
    """Hold the run lock of one domain for the duration; raise `Locked` at once if it is held."""
    scope = f"{warehouse.tenant}/{stream}/{domain}"
    message = f"{scope} is locked: another run of this domain holds it; try later"
    if warehouse.kind == "postgres":
        with _advisory_lock(warehouse.dsn, lock_key(warehouse.tenant, stream, domain), message):
            yield
        return
    with _file_lock(lock_file(warehouse, stream, domain), message), writer_slot(warehouse):
        yield


@contextlib.contextmanager
def reference_lock(warehouse: Warehouse, shared: bool) -> Iterator[None]:
    """Wait for, then hold, the tenant's reference-data lock (the seeds the domains read):
    builds that only read seeds hold it shared, a build that loads them exclusively. On DuckDB
    the run's writer slot already makes every build exclusive."""
    if warehouse.kind != "postgres":
        yield
        return
    con = psycopg2.connect(warehouse.dsn)
    try:
        con.autocommit = True
        key = lock_key(warehouse.tenant, "reference", "seeds")
        acquire = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
        con.cursor().execute(f"select {acquire}(%s)", (key,))
        yield
    finally:
        con.close()  # ends the session, which releases its advisory locks


@contextlib.contextmanager
def writer_slot(warehouse: Warehouse) -> Iterator[None]:
    """On DuckDB, exclusive use of the warehouse file; a no-op on Postgres.

    Runs hold it (inside `domain_lock`); the tick and status hold it briefly to read, because
    even a reader's connection would make a run's connection fail. Raises `Locked` if held.
    """
    if warehouse.kind == "postgres":
        yield
        return
    message = (
        f"the DuckDB warehouse {warehouse.duckdb_path} is in use by another run "
        "(a DuckDB file admits one writer process); try later"
    )
    with _file_lock(Path(f"{warehouse.duckdb_path}.writer.lock"), message):
        yield


@contextlib.contextmanager
def _file_lock(path: Path, message: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Lock files are never deleted: unlinking one while another process waits to open it would
    # let two processes lock two different files of the same name.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Locked(message) from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _advisory_lock(dsn: str, key: int, message: str) -> Iterator[None]:
    con = psycopg2.connect(dsn)
    try:
        con.autocommit = True
        cur = con.cursor()
        cur.execute("select pg_try_advisory_lock(%s)", (key,))
        if not cur.fetchone()[0]:
            raise Locked(message)
        yield
    finally:
        con.close()  # ends the session, which releases its advisory locks

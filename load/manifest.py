"""Export manifests and the per-outbox hash chain.

Every exported zip gets `<zip stem>.manifest.json` next to it: canonical JSON describing the
batch, its files and control totals, and the sha256 of the manifest exported before it. The
outbox's `manifests.jsonl` lists the batches in export order (batch id, manifest file, manifest
sha256), so editing, replacing or removing any manifest breaks a link that verify_chain reports.

Re-exporting a batch id already in the chain reproduces the original bytes (it reuses that
batch's original predecessor) and refuses to replace a zip whose content changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from load.fbdi import ControlTotals, WrittenCsv, WrittenFile, write_fbdi_zip
from load.formats import AnySpec, FormatSpec, HdlSpec
from load.hdl import Rows, write_hdl_zip

MANIFEST_VERSION = 1
CHAIN_FILE = "manifests.jsonl"
MANIFEST_SUFFIX = ".manifest.json"
RECORDS_SUFFIX = ".records.csv"  # record objects: which file line carries which source record
_LOCK_FILE = ".manifests.lock"
_BATCH_ID_MAX = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

ScopeValue = str | int | bool | dt.date | None


class ManifestError(RuntimeError):
    """The outbox's manifests or chain are not in the state an export needs."""


class BatchConflictError(ManifestError):
    """A batch id already in the chain was re-exported with different content."""


@dataclass(frozen=True)
class ChainEntry:
    """One line of `manifests.jsonl`."""

    batch_id: str
    manifest: str
    manifest_sha256: str


@dataclass(frozen=True)
class ExportResult:
    """Where an exported batch landed and what its manifest says."""

    batch_id: str
    zip_path: Path
    manifest_path: Path
    manifest_sha256: str
    manifest: dict[str, Any]
    written: WrittenFile
    reexport: bool


@dataclass(frozen=True)
class ChainReport:
    """Result of verify_chain: `problems` is empty when the chain is intact."""

    batches: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def make_batch_id(*parts: ScopeValue) -> str:
    """A stable id safe for file names, from scope parts: ("epic", "t1", date) -> "epic-t1-2026-…".

    Characters outside letters, digits, `.`, `_` and `-` become `_`. When that loses information
    (or the id would be too long) a short hash of the original parts is appended so that
    different scopes never share an id.
    """
    if not parts:
        raise ValueError("a batch id needs at least one scope part")
    texts = [p.isoformat() if isinstance(p, dt.date) else str(p) for p in parts]
    safe = [_UNSAFE.sub("_", t).strip("._") for t in texts]
    batch_id = "-".join(safe)
    if safe != texts or len(batch_id) > _BATCH_ID_MAX:
        digest = hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:12]
        batch_id = f"{batch_id[: _BATCH_ID_MAX - 13]}-{digest}"
    return batch_id


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """Sorted keys, two-space indent, fixed separators, ASCII only, trailing newline."""
    text = json.dumps(document, sort_keys=True, indent=2, separators=(",", ": "), ensure_ascii=True)
    return (text + "\n").encode("ascii")


def build_manifest(
    batch_id: str,
    scope: Mapping[str, ScopeValue],
    spec: AnySpec,
    written: WrittenFile,
    previous_manifest_sha256: str | None,
    records: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest document for one written zip (and its records file, when the object is
    sent as records). Holds no wall-clock time."""
    totals = written.control_totals
    return ({"records": records} if records else {}) | {
        "manifest_version": MANIFEST_VERSION,
        "batch_id": batch_id,
        "scope": _normalise_scope(scope),
        "release": spec.release,
        "object": spec.object_name,
        "files": [
            {"name": f.name, "rows": f.rows, "sha256": f.sha256, "bytes": f.bytes}
            for f in written.files
        ],
        "zip": {
            "name": written.zip_path.name,
            "sha256": written.zip_sha256,
            "bytes": written.zip_bytes,
        },
        "control_totals": {
            "group_by": list(totals.group_by),
            "sum": list(totals.sum_columns),
            "groups": totals.to_records(),
        },
        "previous_manifest_sha256": previous_manifest_sha256,
    }


def manifest_name(zip_name: str) -> str:
    """`GlInterface_x.zip` -> `GlInterface_x.manifest.json`."""
    return f"{Path(zip_name).stem}{MANIFEST_SUFFIX}"


def export_batch(
    batches: Iterable[pa.RecordBatch] | Mapping[str, Iterable[pa.RecordBatch]],
    spec: FormatSpec,
    outbox_dir: Path,
    batch_id: str,
    scope: Mapping[str, ScopeValue],
    zip_name: str | None = None,
    records: bytes | None = None,
) -> ExportResult:
    """Write the FBDI zip and its manifest into `outbox_dir` and record the batch in the chain.

    `batches` feeds the primary CSV or maps CSV names to their batches. `zip_name` defaults to
    the spec's pattern. `records` (CSV bytes: file, line, record_key, record_hash, measure) is
    kept beside the zip for objects sent as records. Re-exporting a recorded batch id yields the
    same manifest bytes, or raises BatchConflictError (leaving the recorded files untouched)
    when the zip or manifest would differ.
    """
    return _publish(
        Path(outbox_dir),
        batch_id,
        scope,
        spec,
        zip_name or spec.zip_name(batch_id),
        lambda path: write_fbdi_zip(batches, spec, path),
        records,
    )


def export_hdl_batch(
    components: Mapping[str, Rows],
    spec: HdlSpec,
    outbox_dir: Path,
    batch_id: str,
    scope: Mapping[str, ScopeValue],
    records: bytes | None = None,
) -> ExportResult:
    """export_batch for an HCM Data Loader zip: the `.dat` stands where the CSVs do and the
    control totals count data lines per component."""

    def write(path: Path) -> WrittenFile:
        written = write_hdl_zip(components, spec, path)
        lines = tuple(((name,), count, ()) for name, count in written.lines.items())
        return WrittenFile(
            zip_path=written.zip_path,
            zip_sha256=written.zip_sha256,
            zip_bytes=written.zip_bytes,
            files=(
                WrittenCsv(
                    written.dat_file,
                    sum(written.lines.values()),
                    written.dat_sha256,
                    written.dat_bytes,
                ),
            ),
            control_totals=ControlTotals(("component",), (), lines),
        )

    return _publish(
        Path(outbox_dir), batch_id, scope, spec, spec.zip_name(batch_id), write, records
    )


def records_name(zip_name: str) -> str:
    """`InvTransactionsInterface_x.zip` -> `InvTransactionsInterface_x.records.csv`."""
    return f"{Path(zip_name).stem}{RECORDS_SUFFIX}"


def _publish(
    outbox_dir: Path,
    batch_id: str,
    scope: Mapping[str, ScopeValue],
    spec: AnySpec,
    zip_name: str,
    write: Callable[[Path], WrittenFile],
    records: bytes | None,
) -> ExportResult:
    if Path(zip_name).name != zip_name or not zip_name.endswith(".zip"):
        raise ValueError("zip_name must be a plain file name ending in .zip")
    # staged under its own name (HDL checks it) in a folder of this process
    _remove_stale_staging(outbox_dir)
    staging = outbox_dir / f".staged-{os.getpid()}"
    staging.mkdir(parents=True, exist_ok=True)
    staged = staging / zip_name
    try:
        written = write(staged)
        final = dataclasses.replace(written, zip_path=outbox_dir / zip_name)
        with _chain_lock(outbox_dir):
            return _record(outbox_dir, batch_id, scope, spec, final, staged, records)
    finally:
        staged.unlink(missing_ok=True)
        staging.rmdir()


def _remove_stale_staging(outbox_dir: Path) -> None:
    """Remove the staging folders of processes that died mid-export (a kill leaves
    `.staged-<pid>/` with a half-written zip); a live process's folder is left alone."""
    for folder in outbox_dir.glob(".staged-*"):
        pid = folder.name.removeprefix(".staged-")
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user
    return True


def _record(
    outbox_dir: Path,
    batch_id: str,
    scope: Mapping[str, ScopeValue],
    spec: AnySpec,
    written: WrittenFile,
    staged: Path,
    records: bytes | None = None,
) -> ExportResult:
    """Under the chain lock: check against the chain, then publish zip, manifest and chain line."""
    entries = read_chain(outbox_dir)
    index = next((i for i, e in enumerate(entries) if e.batch_id == batch_id), None)
    name = manifest_name(written.zip_path.name)
    clash = next((e for e in entries if e.manifest == name and e.batch_id != batch_id), None)
    if clash is not None:
        raise BatchConflictError(f"{name} already belongs to batch {clash.batch_id}")

    if index is None:
        previous = entries[-1].manifest_sha256 if entries else None
    else:
        previous = entries[index - 1].manifest_sha256 if index > 0 else None
    records_doc = None
    if records is not None:
        records_doc = {
            "name": records_name(written.zip_path.name),
            "sha256": hashlib.sha256(records).hexdigest(),
            "bytes": len(records),
        }
    manifest = build_manifest(batch_id, scope, spec, written, previous, records_doc)
    data = canonical_json(manifest)
    sha = hashlib.sha256(data).hexdigest()
    manifest_path = outbox_dir / name

    if index is not None:
        recorded = entries[index]
        recorded_doc = _read_recorded_manifest(outbox_dir, recorded)
        if recorded_doc["zip"]["sha256"] != written.zip_sha256:
            raise BatchConflictError(
                f"batch {batch_id} was already exported and its new zip differs from the "
                "recorded one; an exported batch is never replaced (use a new batch id)"
            )
        if sha != recorded.manifest_sha256:
            raise BatchConflictError(
                f"batch {batch_id} was already exported with a different manifest "
                "(scope, release, object, zip name or records changed)"
            )
        os.replace(staged, written.zip_path)  # identical bytes; restores a missing zip
        if records_doc is not None:
            _atomic_write(outbox_dir / records_doc["name"], records)
    else:
        if records_doc is not None:
            _atomic_write(outbox_dir / records_doc["name"], records)
        os.replace(staged, written.zip_path)
        _atomic_write(manifest_path, data)
        _append_chain(outbox_dir, ChainEntry(batch_id, name, sha))
    return ExportResult(
        batch_id, written.zip_path, manifest_path, sha, manifest, written, index is not None
    )


def read_chain(outbox_dir: Path) -> list[ChainEntry]:
    """The chain's entries in export order (empty when the outbox has none yet)."""
    path = Path(outbox_dir) / CHAIN_FILE
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        try:
            entries.append(ChainEntry(**json.loads(line)))
        except (ValueError, TypeError):
            raise ManifestError(f"{path}: line {number} is not a chain entry") from None
    return entries


def verify_chain(outbox_dir: Path) -> ChainReport:
    """Check every link: manifest present and unmodified, pointing at its predecessor, its zip
    present with the recorded hash, and no manifest in the outbox missing from the chain."""
    outbox_dir = Path(outbox_dir)
    try:
        entries = read_chain(outbox_dir)
    except ManifestError as exc:
        return ChainReport(0, (str(exc),))
    problems: list[str] = []
    seen: set[str] = set()
    previous: str | None = None
    for entry in entries:
        problems.extend(_verify_entry(outbox_dir, entry, previous, seen))
        seen.add(entry.batch_id)
        previous = entry.manifest_sha256
    recorded = {e.manifest for e in entries}
    for path in sorted(outbox_dir.glob(f"*{MANIFEST_SUFFIX}")):
        if path.name not in recorded:
            problems.append(f"{path.name}: manifest is not in the chain")
    return ChainReport(len(entries), tuple(problems))


def _verify_entry(
    outbox_dir: Path, entry: ChainEntry, previous: str | None, seen: set[str]
) -> list[str]:
    label = f"batch {entry.batch_id}"
    if entry.batch_id in seen:
        return [f"{label}: appears twice in the chain"]
    path = outbox_dir / entry.manifest
    if not path.is_file():
        return [f"{label}: manifest {entry.manifest} is missing"]
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry.manifest_sha256:
        return [f"{label}: manifest {entry.manifest} was modified"]
    doc = json.loads(data)
    problems = []
    if doc.get("batch_id") != entry.batch_id:
        problems.append(f"{label}: manifest names batch {doc.get('batch_id')}")
    if doc.get("previous_manifest_sha256") != previous:
        problems.append(f"{label}: link to the previous manifest is broken")
    zip_path = outbox_dir / doc["zip"]["name"]
    if not zip_path.is_file():
        problems.append(f"{label}: zip {zip_path.name} is missing")
    elif _sha256_file(zip_path) != doc["zip"]["sha256"]:
        problems.append(f"{label}: zip {zip_path.name} does not match its manifest")
    return problems


def _read_recorded_manifest(outbox_dir: Path, entry: ChainEntry) -> dict[str, Any]:
    path = outbox_dir / entry.manifest
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(
            f"batch {entry.batch_id}: manifest {entry.manifest} is missing"
        ) from None
    if hashlib.sha256(data).hexdigest() != entry.manifest_sha256:
        raise ManifestError(f"batch {entry.batch_id}: manifest {entry.manifest} was modified")
    return json.loads(data)


def _normalise_scope(scope: Mapping[str, ScopeValue]) -> dict[str, str | int | bool | None]:
    out: dict[str, str | int | bool | None] = {}
    for key, value in scope.items():
        if not isinstance(key, str):
            raise TypeError("scope keys must be strings")
        if isinstance(value, dt.date):
            out[key] = value.isoformat()
        elif value is None or isinstance(value, str | int | bool):
            out[key] = value
        else:
            raise TypeError(f"scope value for {key} must be a string, number, bool, date or None")
    return out


def _append_chain(outbox_dir: Path, entry: ChainEntry) -> None:
    path = outbox_dir / CHAIN_FILE
    existing = path.read_bytes() if path.exists() else b""
    line = json.dumps(entry.__dict__, sort_keys=True, separators=(",", ":")) + "\n"
    _atomic_write(path, existing + line.encode("ascii"))


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@contextmanager
def _chain_lock(outbox_dir: Path) -> Iterator[None]:
    """Serialise chain updates between processes exporting into the same outbox."""
    with (outbox_dir / _LOCK_FILE).open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

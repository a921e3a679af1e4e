"""The HIPAA accounting of disclosures (45 CFR 164.528): an append-only, hash-chained log.

Every entry names a patient by pseudonym only, the principal, the tenant, the scope (domain and
resource), the purpose, the recipient and the action (`disclose` for the forward path, `write`
for reverse-path writes, `purge` for retention purges). Entries are numbered without gaps and
each carries the sha256 of the previous entry, so an edited, deleted, inserted or reordered
entry breaks the chain.

The log lives in two stores written together in the same order: the warehouse table
`<tenant>_audit.disclosures` and a JSON-lines mirror file outside the warehouse (mode 0600,
fsynced), so a warehouse rebuild never loses it. `verify` recomputes the chain in both and
compares them. Appenders, purges and restores are serialised by a lock file next to the mirror
(not the mirror itself, which a purge replaces).

Each append can name the steps it accounts for (a landing that read PHI, a batch Fusion
received): they are recorded in `<tenant>_audit.disclosure_steps` in the same warehouse
transaction as the entries, so a step is marked accounted exactly when its entries are
committed, and a step without a mark is a hole that the next run fills and `audit verify`
reports (runtime/pipeline/disclosures.py).

Messages name sequence numbers only, never entry contents.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import shutil
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from runtime.compliance.audit_chain import (
    COLUMNS,
    GENESIS_HASH,
    ChainCheck,
    Problems,
    canonical_json,
    compare,
    entry_hash,
    utc_text,
)
from runtime.compliance.syslog import SyslogSender, format_message
from runtime.core.config import AuditSettings
from runtime.core.warehouse import Warehouse

RECORD_ACTIONS = ("read", "disclose", "write")
RETENTION_YEARS = 6  # 45 CFR 164.530(j)
_BATCH = 100_000
_FORWARD_BATCH = 1_000
_PSEUDONYM = re.compile(r"[0-9a-f]{64}")


class AuditError(Exception):
    """The log cannot be changed or forwarded safely; the message names sequences only."""


@dataclass(frozen=True)
class DisclosureRecord:
    """One disclosure (or reverse-path write) to record.

    `principal` defaults to the tenant's audit principal, `recorded_at` to the time of the
    append (a timezone-aware datetime; stored in UTC).
    """

    patient_pseudonym: str
    scope: str
    purpose: str
    recipient: str
    action: str = "disclose"
    principal: str | None = None
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class AccountedStep:
    """A step whose PHI an append accounts for: `kind` is `load` (a dlt load that landed rows
    naming patients; `step_id` its load id) or `batch` (a batch Fusion received or that was
    handed over; `step_id` its batch id)."""

    kind: str
    step_id: str
    stream: str
    domain: str


@dataclass
class VerifyReport:
    """What `verify` found: `ok` is False on any break in either store or between them."""

    warehouse_entries: int = 0
    mirror_entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


class DisclosureLog:
    """One tenant's accounting of disclosures, in the warehouse and the mirror file."""

    def __init__(self, warehouse: Warehouse, tenant_name: str, audit_settings: AuditSettings):
        if warehouse.tenant != tenant_name:
            raise ValueError("the warehouse belongs to another tenant")
        self.warehouse = warehouse
        self.tenant = tenant_name
        self.settings = audit_settings
        self.schema = warehouse.schema("audit")
        self.table = f"{self.schema}.disclosures"
        mirror = audit_settings.mirror_file
        self.mirror = mirror
        self._lock_file = mirror.with_name(mirror.name + ".lock")
        self._forward_lock_file = mirror.with_name(mirror.name + ".forward.lock")
        self._state_file = mirror.with_name(mirror.name + ".forwarded")

    # public API ------------------------------------------------------------------------------
    def append(
        self, entries: Iterable[DisclosureRecord], steps: Iterable[AccountedStep] = ()
    ) -> int:
        """Record disclosures in both stores, chained after the last entry; returns the count.

        One bulk insert (DuckDB from Arrow, Postgres COPY) and one mirror write, whatever the
        number of entries; either both stores take the entries or neither does. `steps` are
        marked accounted in the same warehouse transaction (a step may have no entries: a
        batch naming no patient).
        """
        records = list(entries)
        marks = list(steps)
        if not records and not marks:
            return 0
        for index, record in enumerate(records):
            self._validate(index, record)
        now = utc_text(datetime.now(UTC))
        with self._locked(self._lock_file), self.warehouse.connect() as con:
            cur = self._cursor(con)
            self._ensure_table(cur)
            self._ensure_steps_table(cur)
            seq, prev = self._tail(cur)
            first = seq + 1
            rows = []
            for record in records:
                seq += 1
                row = {
                    "sequence": seq,
                    "recorded_at": utc_text(record.recorded_at) if record.recorded_at else now,
                    "tenant": self.tenant,
                    "principal": record.principal or self.settings.principal,
                    "action": record.action,
                    "patient_pseudonym": record.patient_pseudonym,
                    "scope": record.scope,
                    "purpose": record.purpose,
                    "recipient": record.recipient,
                    "detail": None,
                    "previous_hash": prev,
                }
                row["entry_hash"] = prev = entry_hash(row)
                rows.append(row)
            self._begin(con)
            if rows:
                self._insert(cur, rows)
            self._mark(cur, marks, first, seq, now)
            if rows:
                self._write_both(con, rows)
            else:
                con.commit()
        return len(rows)

    def accounted(self, kind: str) -> set[str]:
        """The ids of the steps of `kind` an append has accounted for."""
        rows = self.warehouse.query(
            "select count(*) from information_schema.tables "
            "where table_schema = %s and table_name = 'disclosure_steps'",
            (self.schema,),
        )
        if not rows[0][0]:
            return set()
        found = self.warehouse.query(
            f"select step_id from {self.schema}.disclosure_steps where kind = %s", (kind,)
        )
        return {str(step_id) for (step_id,) in found}

    def verify(self) -> VerifyReport:
        """Recompute the chain in both stores and compare them, streaming both once."""
        report = VerifyReport()
        forwarded = self._read_state()
        in_mirror = ChainCheck(self.tenant, Problems("mirror: ", report.problems), forwarded)
        in_warehouse = ChainCheck(self.tenant, Problems("warehouse: ", report.problems), forwarded)
        has_table = self._table_exists()
        warehouse_rows = self._select("", ()) if has_table else iter(())
        compare(
            in_mirror.watch(self._mirror_entries(report.problems)),
            in_warehouse.watch(warehouse_rows),
            report.problems,
        )
        report.mirror_entries, report.warehouse_entries = in_mirror.count, in_warehouse.count
        if not has_table and report.mirror_entries:
            report.problems.insert(0, f"warehouse: table {self.table} is missing")
        if not self.mirror.exists() and report.warehouse_entries:
            report.problems.insert(0, "mirror: file is missing")
        return report

    def export(self, since: datetime) -> Iterator[dict]:
        """Entries recorded at or after `since` (naive means UTC), oldest first, streamed."""
        if not self._table_exists():
            return iter(())
        return self._select("where recorded_at >= %s", (utc_text(self._aware(since)),))

    def forward(self, since: datetime | None = None) -> int:
        """Send entries not forwarded yet to the configured syslog receiver; returns the count.

        The last forwarded sequence and hash are kept in `<mirror>.forwarded`, advanced after
        each delivered batch, so nothing is skipped; a batch interrupted mid-send is sent again
        (a SIEM can drop repeats by `entry_hash`). `since` applies only before the first
        forward; afterwards everything after the last forwarded entry is sent.
        """
        syslog = self.settings.syslog
        if syslog is None:
            raise AuditError(f"tenants.{self.tenant}.audit.syslog is not configured")
        with self._locked(self._forward_lock_file):
            state = self._read_state()
            if state is not None:
                self._check_forwarded(state)
                where, params = "where sequence > %s", (state["sequence"],)
            elif not self._table_exists():
                return 0
            elif since is not None:
                where, params = "where recorded_at >= %s", (utc_text(self._aware(since)),)
            else:
                where, params = "", ()
            sent = 0
            hostname = socket.gethostname()
            procid = str(os.getpid())
            entries = self._select(where, params)
            with SyslogSender(syslog) as sender:
                while batch := list(islice(entries, _FORWARD_BATCH)):
                    sender.send(
                        [format_message(e, hostname=hostname, procid=procid) for e in batch]
                    )
                    self._write_state(batch[-1])
                    sent += len(batch)
            return sent

    def purge(self, now: datetime, retention_years: int = RETENTION_YEARS) -> int:
        """Remove entries recorded more than `retention_years` before `now`; returns the count.

        Only the oldest run of entries is removed (the chain stays one contiguous suffix), so a
        younger entry is never removed even if an older one follows it. A `purge` entry records
        the range, the count and the anchor (the hash the remaining chain starts from).
        """
        now = self._aware(now)
        cutoff = utc_text(_years_before(now, retention_years))
        with self._locked(self._lock_file), self.warehouse.connect() as con:
            cur = self._cursor(con)
            self._ensure_table(cur)
            last_seq, last_hash = self._tail(cur)
            young = self._one(
                cur, f"select min(sequence) from {self.table} where recorded_at >= %s", (cutoff,)
            )[0]
            upto = last_seq if young is None else young - 1
            first, count = self._one(
                cur,
                f"select min(sequence), count(*) from {self.table} where sequence <= %s",
                (upto,),
            )
            if not count:
                return 0
            anchor = self._one(
                cur, f"select entry_hash from {self.table} where sequence = %s", (upto,)
            )[0]
            detail = {
                "removed": count,
                "first_sequence": first,
                "last_sequence": upto,
                "anchor_hash": anchor,
                "cutoff": cutoff,
                "retention_years": retention_years,
            }
            row = {
                "sequence": last_seq + 1,
                "recorded_at": utc_text(now),
                "tenant": self.tenant,
                "principal": self.settings.principal,
                "action": "purge",
                "patient_pseudonym": None,
                "scope": f"audit:disclosures:{first}-{upto}",
                "purpose": f"retention ({retention_years} years)",
                "recipient": None,
                "detail": detail,
                "previous_hash": last_hash,
            }
            row["entry_hash"] = entry_hash(row)
            rewritten = self._mirror_without(upto, anchor, row)
            try:
                self._begin(con)
                self._execute(cur, f"delete from {self.table} where sequence <= %s", (upto,))
                self._insert(cur, [row])
                con.commit()
            except BaseException:
                rewritten.unlink()
                raise
            os.replace(rewritten, self.mirror)
            self._fsync_dir()
        return count

    def report(self, patient_pseudonym: str) -> list[dict]:
        """The accounting for one patient: every read, disclosure and write, newest first."""
        if not self._table_exists():
            return []
        return list(
            self._select(
                "where patient_pseudonym = %s and action in ('read', 'disclose', 'write')",
                (patient_pseudonym,),
                order="sequence desc",
            )
        )

    def restore_from_mirror(self) -> int:
        """Rebuild the warehouse table from the mirror after its chain checks out; returns the
        number of entries restored. Nothing changes if the mirror's chain is broken."""
        problems: list[str] = []
        check = ChainCheck(self.tenant, Problems("mirror: ", problems), self._read_state())
        with self._locked(self._lock_file), self.warehouse.connect() as con:
            cur = self._cursor(con)
            self._begin(con)
            self._execute(cur, f"drop table if exists {self.table}")
            self._ensure_table(cur)
            entries = (entry for entry, _ in check.watch(self._mirror_entries(problems)))
            while batch := list(islice(entries, _BATCH)):
                self._insert(cur, batch)
            if problems:
                con.rollback()
                raise AuditError("the mirror's chain is broken: " + "; ".join(problems[:5]))
        return check.count

    # records and timestamps ------------------------------------------------------------------
    @staticmethod
    def _validate(index: int, record: DisclosureRecord) -> None:
        if record.action not in RECORD_ACTIONS:
            raise ValueError(f"record {index}: action must be one of {', '.join(RECORD_ACTIONS)}")
        if not isinstance(record.patient_pseudonym, str) or not _PSEUDONYM.fullmatch(
            record.patient_pseudonym
        ):
            raise ValueError(f"record {index}: patient_pseudonym is not a pseudonym (64 hex)")
        for name in ("scope", "purpose", "recipient"):
            if not getattr(record, name):
                raise ValueError(f"record {index}: {name} is required")
        if record.recorded_at is not None and record.recorded_at.tzinfo is None:
            raise ValueError(f"record {index}: recorded_at must be timezone-aware")

    @staticmethod
    def _aware(moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    # warehouse -------------------------------------------------------------------------------
    def _cursor(self, con):
        # A DuckDB cursor is a separate connection with its own transaction: use the connection.
        return con if self.warehouse.kind == "duckdb" else con.cursor()

    def _begin(self, con) -> None:
        if self.warehouse.kind == "duckdb":
            con.begin()

    def _execute(self, cur, sql: str, params: tuple = ()) -> None:
        if self.warehouse.kind == "duckdb":
            sql = sql.replace("%s", "?")
        cur.execute(sql, params)

    def _one(self, cur, sql: str, params: tuple = ()) -> tuple:
        self._execute(cur, sql, params)
        return cur.fetchone()

    def _ensure_table(self, cur) -> None:
        self._execute(cur, f"create schema if not exists {self.schema}")
        self._execute(
            cur,
            f"""create table if not exists {self.table} (
                sequence bigint primary key,
                recorded_at varchar(27) not null,
                tenant varchar not null,
                principal varchar not null,
                action varchar not null,
                patient_pseudonym varchar,
                scope varchar not null,
                purpose varchar,
                recipient varchar,
                detail varchar,
                previous_hash varchar(64) not null,
                entry_hash varchar(64) not null
            )""",
        )
        self._execute(
            cur,
            f"create index if not exists disclosures_patient_idx "
            f"on {self.table} (patient_pseudonym)",
        )

    def _ensure_steps_table(self, cur) -> None:
        self._execute(
            cur,
            f"""create table if not exists {self.schema}.disclosure_steps (
                kind varchar not null,
                step_id varchar not null,
                stream varchar not null,
                domain varchar not null,
                first_sequence bigint,
                last_sequence bigint,
                recorded_at varchar(27) not null,
                primary key (kind, step_id)
            )""",
        )

    def _mark(self, cur, steps: list[AccountedStep], first: int, last: int, now: str) -> None:
        """Mark `steps` accounted by entries `first`..`last` (none when last < first); a step
        marked before keeps its first mark."""
        for step in steps:
            self._execute(
                cur,
                f"insert into {self.schema}.disclosure_steps (kind, step_id, stream, domain, "
                "first_sequence, last_sequence, recorded_at) values (%s, %s, %s, %s, %s, %s, %s) "
                "on conflict do nothing",
                (
                    step.kind,
                    step.step_id,
                    step.stream,
                    step.domain,
                    first if last >= first else None,
                    last if last >= first else None,
                    now,
                ),
            )

    def _table_exists(self) -> bool:
        rows = self.warehouse.query(
            "select count(*) from information_schema.tables "
            "where table_schema = %s and table_name = 'disclosures'",
            (self.schema,),
        )
        return rows[0][0] > 0

    def _tail(self, cur) -> tuple[int, str]:
        """The last (sequence, hash); refuses when the two stores end differently."""
        self._execute(
            cur, f"select sequence, entry_hash from {self.table} order by sequence desc limit 1"
        )
        in_warehouse = cur.fetchone()
        last = self._mirror_last()
        in_mirror = (last["sequence"], last["entry_hash"]) if last else None
        if in_warehouse != in_mirror:
            at = max(t[0] for t in (in_warehouse, in_mirror) if t)
            raise AuditError(
                f"mirror and warehouse disagree at {at}: run `ehrfusion audit verify`; where "
                "only the mirror holds the last entries (a warehouse rebuilt, or a process "
                "killed while appending), `ehrfusion audit restore` rebuilds the warehouse "
                "copy from the mirror"
            )
        return in_warehouse or (0, GENESIS_HASH)

    def _insert(self, cur, rows: list[dict]) -> None:
        """One statement for all rows: Arrow into DuckDB, COPY into Postgres."""
        columns = {name: [row[name] for row in rows] for name in COLUMNS}
        columns["detail"] = [None if d is None else canonical_json(d) for d in columns["detail"]]
        table = pa.table(
            {
                name: pa.array(values, pa.int64() if name == "sequence" else pa.string())
                for name, values in columns.items()
            }
        )
        names = ", ".join(COLUMNS)
        if self.warehouse.kind == "duckdb":
            cur.register("audit_batch", table)
            cur.execute(f"insert into {self.table} ({names}) select {names} from audit_batch")
            cur.unregister("audit_batch")
            return
        buffer = io.BytesIO()
        options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
        pacsv.write_csv(table, buffer, options)
        buffer.seek(0)
        cur.copy_expert(f"copy {self.table} ({names}) from stdin with (format csv)", buffer)

    def _select(self, where: str, params: tuple, order: str = "sequence") -> Iterator[dict]:
        """Entries streamed in batches (a server-side cursor on Postgres)."""
        with self.warehouse.connect() as con:
            if self.warehouse.kind == "duckdb":
                cur = con
            else:
                cur = con.cursor(name="audit_read")
                cur.itersize = _BATCH
            names = ", ".join(COLUMNS)
            self._execute(cur, f"select {names} from {self.table} {where} order by {order}", params)
            while rows := cur.fetchmany(_BATCH):
                for row in rows:
                    entry = dict(zip(COLUMNS, row, strict=True))
                    if entry["detail"] is not None:
                        entry["detail"] = json.loads(entry["detail"])
                    yield entry

    # mirror file -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, path: Path):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _fsync_dir(self) -> None:
        fd = os.open(self.mirror.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write_both(self, con, rows: list[dict]) -> None:
        """Append to the mirror (fsynced), then commit the warehouse; undo the mirror write if
        the commit fails, so both stores hold the same entries."""
        data = "".join(canonical_json(row) + "\n" for row in rows).encode()
        created = not self.mirror.exists()
        fd = os.open(self.mirror, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            if created:
                self._fsync_dir()
            con.commit()
        except BaseException:
            os.ftruncate(fd, size)
            os.fsync(fd)
            raise
        finally:
            os.close(fd)

    def _mirror_last(self) -> dict | None:
        """The mirror's last entry, read from the end of the file."""
        if not self.mirror.exists():
            return None
        with self.mirror.open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            if end == 0:
                return None
            block, pos, tail = 1 << 16, end, b""
            while pos > 0 and tail.count(b"\n") < 2:
                pos = max(0, pos - block)
                f.seek(pos)
                tail = f.read(end - pos)
        if not tail.endswith(b"\n"):
            raise AuditError(
                "the mirror ends with an incomplete line: run `ehrfusion audit verify`"
            )
        try:
            return json.loads(tail.splitlines()[-1])
        except ValueError:
            raise AuditError("the mirror's last line is unreadable") from None

    def _mirror_entries(self, problems: list[str]) -> Iterator[dict]:
        """The mirror's entries in file order; unreadable lines are reported by line number."""
        if not self.mirror.exists():
            return
        with self.mirror.open("rb") as f:
            for number, line in enumerate(f, start=1):
                try:
                    entry = json.loads(line)
                    if set(entry) != set(COLUMNS) or not isinstance(entry["sequence"], int):
                        raise ValueError
                except ValueError:
                    problems.append(f"mirror: line {number} unreadable")
                    continue
                yield entry

    def _mirror_without(self, upto: int, anchor: str, purge_row: dict) -> Path:
        """A copy of the mirror without entries up to `upto`, plus the purge entry, fsynced.

        Only the purged lines are parsed; the rest is copied as bytes.
        """
        target = self.mirror.with_name(self.mirror.name + ".purging")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with open(fd, "wb") as out, self.mirror.open("rb") as src:
                anchored = False
                while line := src.readline():
                    entry = json.loads(line)
                    if entry["sequence"] > upto:
                        if anchored and entry["sequence"] == upto + 1:
                            out.write(line)
                            shutil.copyfileobj(src, out)
                        break
                    anchored = entry["sequence"] == upto and entry["entry_hash"] == anchor
                if not anchored or entry["sequence"] not in (upto, upto + 1):
                    raise AuditError(f"mirror and warehouse disagree at {upto}: purge refused")
                out.write((canonical_json(purge_row) + "\n").encode())
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            target.unlink()
            raise
        return target

    # forwarding state ------------------------------------------------------------------------
    def _read_state(self) -> dict | None:
        if not self._state_file.exists():
            return None
        return json.loads(self._state_file.read_text())

    def _write_state(self, entry: dict) -> None:
        temporary = self._state_file.with_name(self._state_file.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w") as f:
            json.dump({"sequence": entry["sequence"], "entry_hash": entry["entry_hash"]}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self._state_file)

    def _check_forwarded(self, state: dict) -> None:
        """The last forwarded entry must be unchanged, or legitimately purged."""
        seq = state["sequence"]
        if not self._table_exists():
            raise AuditError(f"table {self.table} is missing; entry {seq} was forwarded")
        last, forwarded_hash = self.warehouse.query(
            f"select max(sequence), max(case when sequence = %s then entry_hash end) "
            f"from {self.table}",
            (seq,),
        )[0]
        if last is None or last < seq:
            raise AuditError(f"the log ends before entry {seq}, which was forwarded")
        if forwarded_hash is not None and forwarded_hash != state["entry_hash"]:
            raise AuditError(f"entry {seq} changed after it was forwarded")

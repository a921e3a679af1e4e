"""Stand-in for the Epic Resolute HB/PB daily journal feed (Clarity-style Parquet, one file a day).

Shape of the feed (contract in ARCHITECTURE.md):

* Each journal entry has one balancing line (line 0) and 1..4 detail lines, and balances to the
  cent: CHARGE = Dr AR 1200 / Cr revenue 4xxx at clinical departments (2..5 lines);
  PAYMENT = Dr Cash 1010 / Cr AR 1200; ADJUSTMENT = Dr contractual 4900 / Cr AR 1200 (2 lines).
  Balance-sheet lines carry the facility's patient financial services department.
* `scale` is the total number of lines over all days, spread evenly: by the end of day d
  (0-based) the feed holds floor(scale * (d + 1) / days) lines. Whole entries are generated until
  a day's target is met and a final CHARGE entry is shortened to land on it exactly; any excess
  (a final 2-line entry one line over) is taken off the next day's target, so the feed totals
  exactly `scale` lines, or `scale + 1` when the last day ends one line over. Every day opens
  with one entry per canary patient, so tiny scales round up to at least that.
* Deliberate defects (`DefectRates`), each entry carrying at most one, chosen by exact count
  `max(1, round(rate * eligible entries))` so every kind occurs even at small scale:
  `null_amount` (one line with both amounts empty), `bad_amount` (one line with a non-numeric
  amount), `unmapped_department` (a CHARGE whose revenue lines use the facility's unmapped
  department), `late_gl_date` (GL_DATE in the last days of the month before POST_DATE).

Everything is vectorised with pyarrow compute; random draws are keyed by seed, stream and
entry/line counter (`sandbox.rand`), so output is byte-identical for the same inputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sandbox import rand, world
from sandbox.canaries import CANARY_ACCOUNTS, CANARY_MRNS, CANARY_NAMES
from sandbox.standin import GenerationRequest, StandIn

NAME = "epic_resolute_journal"
FEED_DIR = "epic/resolute"
FILE_PATTERN = "resolute_journal_*.parquet"
FEED_FILES = "resolute_*.parquet"  # daily files and restatements (sandbox/epic_restatements.py)

SCHEMA = pa.schema(
    [
        ("JOURNAL_LINE_ID", pa.int64()),
        ("JOURNAL_ID", pa.string()),
        ("BILLING_SYSTEM", pa.string()),
        ("POST_DATE", pa.date32()),
        ("GL_DATE", pa.date32()),
        ("FACILITY_ID", pa.string()),
        ("DEPARTMENT_ID", pa.string()),
        ("GL_ACCOUNT", pa.string()),
        ("REVENUE_CODE", pa.string()),
        ("TX_TYPE", pa.string()),
        ("TX_ID", pa.int64()),
        ("DEBIT_AMOUNT", pa.string()),
        ("CREDIT_AMOUNT", pa.string()),
        ("CURRENCY_CODE", pa.string()),
        ("HSP_ACCOUNT_ID", pa.string()),
        ("PAT_MRN_ID", pa.string()),
        ("PAT_NAME", pa.string()),
        ("LINE_DESCRIPTION", pa.string()),
    ]
)

TX_TYPES = ("CHARGE", "PAYMENT", "ADJUSTMENT")
_CHARGE = 0
_TYPE_THRESHOLDS = (0.60, 0.90)  # CHARGE 60 %, PAYMENT 30 %, ADJUSTMENT 10 %
_PB_SHARE = 0.25  # professional billing share of entries; the rest is hospital billing

# Line roles: tx type * 2 + (0 balancing line, 1 detail line). Role 1 is a revenue line whose
# account comes from the department catalogue, hence the placeholder.
_ROLE_ACCOUNT = pa.array(
    [
        world.AR_ACCOUNT,
        "",
        world.CASH_ACCOUNT,
        world.AR_ACCOUNT,
        world.CONTRACTUAL_ACCOUNT,
        world.AR_ACCOUNT,
    ]
)
_ROLE_LABEL = pa.array(
    ["CHARGE AR", "CHARGE REV", "PAYMENT CASH", "PAYMENT AR", "CONTRACTUAL ADJ", "ADJUSTMENT AR"]
)
_REVENUE_ROLE = 1

# Detail-line amount in cents per tx type: low + u^2 * span (skewed towards small amounts).
_AMOUNT_LOW = pa.array([1_000, 2_000, 500], pa.int64())
_AMOUNT_SPAN = pa.array([250_000, 150_000, 80_000], pa.float64())

_BAD_AMOUNT_TEXTS = pa.array(["12.3O", "N/A", "#VALUE!", "1O0.00"])
_LATE_MAX_DAYS = 5  # late entries fall in the last 5 days of the previous month

# Ids are numbered within their posting day, so feeds generated separately (a later day, a
# re-run with more days) never reuse an id: id = base + day number * _IDS_PER_DAY + index.
_LINE_ID_BASE = 1_000_000_001
_TX_ID_BASE = 700_000_001
_IDS_PER_DAY = 10_000_000
_ID_EPOCH = date(2000, 1, 1)
_MIN_PATIENTS = 100
_LINES_PER_PATIENT = 20

_SURNAMES = pa.array(world.SURNAMES)
_GIVEN_NAMES = pa.array(world.GIVEN_NAMES)


@dataclass(frozen=True)
class DefectRates:
    """Fractions of journal entries given one deliberate defect (see the module docstring).

    `unmapped_department` is a fraction of CHARGE entries; the others of all entries. A rate of
    0 disables that kind; any positive rate yields at least one occurrence per feed.
    """

    null_amount: float = 0.002
    bad_amount: float = 0.002
    unmapped_department: float = 0.005
    late_gl_date: float = 0.01


_DEFECT_CODES = {"null_amount": 1, "bad_amount": 2, "unmapped_department": 3, "late_gl_date": 4}


def feed_path(out_dir: Path, day: date) -> Path:
    """Where the file for posting day `day` is written."""
    return Path(out_dir) / FEED_DIR / f"resolute_journal_{day:%Y%m%d}.parquet"


def _int(value: int) -> pa.Scalar:
    return pa.scalar(value, pa.int64())


def _null_string() -> pa.Scalar:
    return pa.scalar(None, pa.string())


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


class _Catalogue:
    """The world's revenue (department, account, revenue code) choices as Arrow lookup arrays."""

    def __init__(self) -> None:
        depts, accounts, codes = [], [], []
        self.mapped_start, self.mapped_count = [], []
        self.unmapped_start, self.unmapped_count = [], []
        for facility in world.FACILITIES:
            for starts, counts, departments in (
                (self.mapped_start, self.mapped_count, facility.clinical),
                (self.unmapped_start, self.unmapped_count, (facility.unmapped,)),
            ):
                starts.append(len(depts))
                for dept in departments:
                    for account, code in dept.revenue:
                        depts.append(dept.department_id)
                        accounts.append(account)
                        codes.append(code)
                counts.append(len(depts) - starts[-1])
        self.department = pa.array(depts)
        self.account = pa.array(accounts)
        self.revenue_code = pa.array(codes)
        self.facility_id = pa.array([f.facility_id for f in world.FACILITIES])
        self.pfs_department = pa.array([f.pfs_department_id for f in world.FACILITIES])


@dataclass(frozen=True)
class _Entries:
    """Entry-level arrays for the whole feed, in posting-day order."""

    tx_type: pa.Array  # int64 index into TX_TYPES
    n_lines: pa.Array  # int64
    counter: pa.Array  # uint64, unique per entry: the key of every per-entry draw
    day_starts: list[int]


def _plan_day(seed: int, day_index: int, target: int) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Types, line counts and counters of one day's entries, meeting `target` lines if possible."""
    n_canary = len(CANARY_MRNS)
    candidates = max(target, 0) // 2 + n_canary + 1
    counter = pc.add(rand.arange(candidates), pa.scalar(day_index << 32, pa.uint64()))
    u = rand.uniform(rand.stream_key(seed, "tx_type"), counter)
    tx_type = pc.add(
        pc.cast(pc.greater_equal(u, _TYPE_THRESHOLDS[0]), pa.int64()),
        pc.cast(pc.greater_equal(u, _TYPE_THRESHOLDS[1]), pa.int64()),
    )
    extra = rand.below(rand.stream_key(seed, "charge_lines"), counter, 4)
    n_lines = pc.if_else(pc.equal(tx_type, _CHARGE), pc.add(extra, 2), _int(2))
    cumulative = pc.cumulative_sum(n_lines)
    count = max(pc.sum(pc.less(cumulative, target)).as_py() + 1, n_canary)
    before_last = cumulative[count - 2].as_py() if count >= 2 else 0
    last = n_lines[count - 1].as_py()
    if tx_type[count - 1].as_py() == _CHARGE:
        last = min(last, max(target - before_last, 2))
    n_lines = pa.concat_arrays([n_lines[: count - 1], pa.array([last], pa.int64())])
    return tx_type[:count], n_lines, counter[:count]


def _plan(seed: int, scale: int, days: int) -> _Entries:
    parts, day_starts, emitted, entries = [], [], 0, 0
    for day_index in range(days):
        cumulative_target = scale * (day_index + 1) // days
        tx_type, n_lines, counter = _plan_day(seed, day_index, cumulative_target - emitted)
        emitted += pc.sum(n_lines).as_py()
        day_starts.append(entries)
        entries += len(n_lines)
        parts.append((tx_type, n_lines, counter))
    columns = [pa.concat_arrays([p[i] for p in parts]) for i in range(3)]
    return _Entries(*columns, day_starts=[*day_starts, entries])


def _choose(seed: int, kind: str, counter: pa.Array, eligible: pa.Array, rate: float) -> pa.Array:
    """Mark exactly max(1, round(rate * eligible)) eligible entries, picked by hash rank."""
    n_eligible = pc.sum(eligible).as_py() or 0
    if rate <= 0 or n_eligible == 0:
        return pa.repeat(pa.scalar(False), len(counter))
    wanted = max(1, round(rate * n_eligible))
    ranks = pc.if_else(
        eligible,
        rand.bits(rand.stream_key(seed, "defect", kind), counter),
        pa.scalar((1 << 64) - 1, pa.uint64()),
    )
    chosen = pc.sort_indices(ranks)[:wanted]
    return pc.is_in(rand.arange(len(counter)), value_set=pc.cast(chosen, pa.uint64()))


def _defects(seed: int, entries: _Entries, rates: DefectRates) -> tuple[pa.Array, dict[str, int]]:
    """Per-entry defect code (0 = clean) and the number of entries of each kind."""
    code = pa.repeat(_int(0), len(entries.counter))
    counts = {}
    for kind, rate in asdict(rates).items():
        eligible = pc.equal(code, 0)
        if kind == "unmapped_department":
            eligible = pc.and_(eligible, pc.equal(entries.tx_type, _CHARGE))
        chosen = _choose(seed, kind, entries.counter, eligible, rate)
        code = pc.if_else(chosen, _int(_DEFECT_CODES[kind]), code)
        counts[kind] = pc.sum(chosen).as_py() or 0
    return code, counts


def _money(cents: pa.Array) -> pa.Array:
    """Non-negative integer cents as `"1234.50"` text."""
    dollars = pc.divide(cents, _int(100))
    remainder = pc.subtract(cents, pc.multiply(dollars, _int(100)))
    return _join(
        pc.cast(dollars, pa.string()), ".", pc.utf8_lpad(pc.cast(remainder, pa.string()), 2, "0")
    )


def _patients(seed: int, counter: pa.Array, seq: pa.Array, n_patients: int) -> dict[str, pa.Array]:
    """MRN, name and hospital account per entry; the first entries of a day are the canaries."""
    patient = rand.below(rand.stream_key(seed, "patient"), counter, n_patients)
    slot = rand.below(rand.stream_key(seed, "account_slot"), counter, 2)
    surname = pc.take(
        _SURNAMES, rand.below(rand.stream_key(seed, "surname"), patient, len(_SURNAMES))
    )
    given = pc.take(
        _GIVEN_NAMES, rand.below(rand.stream_key(seed, "given"), patient, len(_GIVEN_NAMES))
    )
    values = {
        "PAT_MRN_ID": _join("E", pc.cast(pc.add(patient, 1_000_000), pa.string())),
        "PAT_NAME": _join(surname, ",", given),
        "HSP_ACCOUNT_ID": pc.cast(
            pc.add(pc.add(pc.multiply(patient, 2), slot), 400_000_000), pa.string()
        ),
    }
    canary_values = {
        "PAT_MRN_ID": CANARY_MRNS,
        "PAT_NAME": CANARY_NAMES,
        "HSP_ACCOUNT_ID": CANARY_ACCOUNTS,
    }
    is_canary = pc.less(seq, len(CANARY_MRNS))
    which = pc.min_element_wise(seq, _int(len(CANARY_MRNS) - 1))
    return {
        column: pc.if_else(is_canary, pc.take(pa.array(canary_values[column]), which), array)
        for column, array in values.items()
    }


@dataclass(frozen=True)
class _Day:
    """One posting day's slice of the plan and where its ids start."""

    post_date: date
    tx_type: pa.Array
    n_lines: pa.Array
    counter: pa.Array
    defect: pa.Array
    first_line: int


def _day_table(seed: int, day: _Day, catalogue: _Catalogue, n_patients: int) -> pa.Table:
    """All lines of one posting day."""
    post_date, counter, defect = day.post_date, day.counter, day.defect
    tx_type, n_lines = day.tx_type, day.n_lines
    n_entries = len(counter)
    seq = pc.cast(rand.arange(n_entries), pa.int64())

    # Entry level.
    is_pb = pc.less(rand.uniform(rand.stream_key(seed, "billing"), counter), _PB_SHARE)
    billing = pc.if_else(is_pb, "PB", "HB")
    facility = rand.below(rand.stream_key(seed, "facility"), counter, len(world.FACILITIES))
    journal_id = _join(
        billing, f"-{post_date:%Y%m%d}-", pc.utf8_lpad(pc.cast(pc.add(seq, 1), pa.string()), 6, "0")
    )
    day_ids = (post_date - _ID_EPOCH).days * _IDS_PER_DAY
    tx_id = pc.add(pc.cast(rand.arange(n_entries), pa.int64()), _TX_ID_BASE + day_ids)
    late_days = pc.add(rand.below(rand.stream_key(seed, "late_days"), counter, _LATE_MAX_DAYS), 1)
    month_start = (post_date.replace(day=1) - date(1970, 1, 1)).days
    gl_day = pc.if_else(
        pc.equal(defect, _DEFECT_CODES["late_gl_date"]),
        pc.subtract(_int(month_start), late_days),
        _int((post_date - date(1970, 1, 1)).days),
    )
    gl_date = pc.cast(pc.cast(gl_day, pa.int32()), pa.date32())
    defect_line = rand.below(rand.stream_key(seed, "defect_line"), counter, n_lines)
    bad_text = pc.take(
        _BAD_AMOUNT_TEXTS,
        rand.below(rand.stream_key(seed, "bad_text"), counter, len(_BAD_AMOUNT_TEXTS)),
    )
    patients = _patients(seed, counter, seq, n_patients)

    # Expand to lines.
    offsets = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(n_lines)])
    n_total = offsets[-1].as_py()
    if n_total >= _IDS_PER_DAY:
        raise ValueError(f"at most {_IDS_PER_DAY - 1:,} lines per posting day")
    parent = pc.list_parent_indices(pa.LargeListArray.from_arrays(offsets, pa.nulls(n_total)))
    line = pc.cast(rand.arange(n_total), pa.int64())
    position = pc.subtract(line, pc.take(offsets, parent))
    line_counter = pc.cast(pc.add(line, day.first_line), pa.uint64())
    is_balancing = pc.equal(position, 0)
    line_type = pc.take(tx_type, parent)
    line_facility = pc.take(facility, parent)
    line_pb = pc.take(is_pb, parent)
    role = pc.add(pc.multiply(line_type, 2), pc.cast(pc.invert(is_balancing), pa.int64()))
    is_revenue = pc.equal(role, _REVENUE_ROLE)

    unmapped = pc.equal(pc.take(defect, parent), _DEFECT_CODES["unmapped_department"])
    choice_start = pc.if_else(
        unmapped,
        pc.take(pa.array(catalogue.unmapped_start, pa.int64()), line_facility),
        pc.take(pa.array(catalogue.mapped_start, pa.int64()), line_facility),
    )
    choice_count = pc.if_else(
        unmapped,
        pc.take(pa.array(catalogue.unmapped_count, pa.int64()), line_facility),
        pc.take(pa.array(catalogue.mapped_count, pa.int64()), line_facility),
    )
    choice = pc.add(
        choice_start, rand.below(rand.stream_key(seed, "revenue"), line_counter, choice_count)
    )
    revenue_account = pc.take(catalogue.account, choice)
    revenue_code = pc.take(catalogue.revenue_code, choice)
    account = pc.if_else(is_revenue, revenue_account, pc.take(_ROLE_ACCOUNT, role))
    department = pc.if_else(
        is_revenue,
        pc.take(catalogue.department, choice),
        pc.take(catalogue.pfs_department, line_facility),
    )
    label = pc.take(_ROLE_LABEL, role)
    description = pc.if_else(
        is_revenue,
        pc.if_else(
            line_pb,
            _join("PB CHARGE PROF ", revenue_account),
            _join("HB CHARGE REV ", revenue_code),
        ),
        _join(pc.if_else(line_pb, "PB ", "HB "), label),
    )

    # Amounts: detail lines drawn, the balancing line is the entry's sum of details.
    u = rand.uniform(rand.stream_key(seed, "amount"), line_counter)
    detail_cents = pc.add(
        pc.take(_AMOUNT_LOW, line_type),
        pc.cast(
            pc.floor(pc.multiply(pc.multiply(u, u), pc.take(_AMOUNT_SPAN, line_type))), pa.int64()
        ),
    )
    detail_cents = pc.if_else(is_balancing, _int(0), detail_cents)
    running = pc.cumulative_sum(detail_cents)
    entry_total = pc.subtract(
        pc.take(running, pc.subtract(offsets[1:], 1)), pc.take(running, offsets[:-1])
    )
    cents = pc.if_else(is_balancing, pc.take(entry_total, parent), detail_cents)
    line_defect = pc.if_else(
        pc.equal(position, pc.take(defect_line, parent)), pc.take(defect, parent), _int(0)
    )
    text = pc.if_else(
        pc.equal(line_defect, _DEFECT_CODES["bad_amount"]), pc.take(bad_text, parent), _money(cents)
    )
    has_amount = pc.not_equal(line_defect, _DEFECT_CODES["null_amount"])
    debit = pc.if_else(pc.and_(is_balancing, has_amount), text, _null_string())
    credit = pc.if_else(pc.and_(pc.invert(is_balancing), has_amount), text, _null_string())

    columns = {
        "JOURNAL_LINE_ID": pc.add(line, _LINE_ID_BASE + day_ids),
        "JOURNAL_ID": pc.take(journal_id, parent),
        "BILLING_SYSTEM": pc.take(billing, parent),
        "POST_DATE": pa.repeat(pa.scalar(post_date, pa.date32()), n_total),
        "GL_DATE": pc.take(gl_date, parent),
        "FACILITY_ID": pc.take(catalogue.facility_id, line_facility),
        "DEPARTMENT_ID": department,
        "GL_ACCOUNT": account,
        "REVENUE_CODE": pc.if_else(
            pc.and_(is_revenue, pc.invert(line_pb)), revenue_code, _null_string()
        ),
        "TX_TYPE": pc.take(pa.array(TX_TYPES), line_type),
        "TX_ID": pc.take(tx_id, parent),
        "DEBIT_AMOUNT": debit,
        "CREDIT_AMOUNT": credit,
        "CURRENCY_CODE": pa.repeat(pa.scalar("USD"), n_total),
        "HSP_ACCOUNT_ID": pc.take(patients["HSP_ACCOUNT_ID"], parent),
        "PAT_MRN_ID": pc.take(patients["PAT_MRN_ID"], parent),
        "PAT_NAME": pc.take(patients["PAT_NAME"], parent),
        "LINE_DESCRIPTION": description,
    }
    return pa.Table.from_arrays([columns[f.name] for f in SCHEMA], schema=SCHEMA)


def write_feed_file(table: pa.Table, path: Path) -> None:
    # Fixed writer options and an atomic rename: same table, same bytes, no half-written files.
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(
        table,
        tmp,
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=True,
        row_group_size=1 << 20,
        version="2.6",
    )
    tmp.replace(path)


def generate_feed(request: GenerationRequest, rates: DefectRates | None = None) -> dict[str, Any]:
    """Write the daily journal files for `request`; return paths, counts and injected defects."""
    if request.scale < 1 or request.days < 1:
        raise ValueError("scale and days must be at least 1")
    rates = rates or DefectRates()
    feed_dir = Path(request.out_dir) / FEED_DIR
    feed_dir.mkdir(parents=True, exist_ok=True)
    for stale in feed_dir.glob(FEED_FILES):
        stale.unlink()

    entries = _plan(request.seed, request.scale, request.days)
    defect, injected = _defects(request.seed, entries, rates)
    catalogue = _Catalogue()
    n_patients = max(_MIN_PATIENTS, request.scale // _LINES_PER_PATIENT)
    files, first_line = [], 0
    for day_index in range(request.days):
        post_date = request.start_date + timedelta(days=day_index)
        start, stop = entries.day_starts[day_index], entries.day_starts[day_index + 1]
        day = _Day(
            post_date=post_date,
            tx_type=entries.tx_type[start:stop],
            n_lines=entries.n_lines[start:stop],
            counter=entries.counter[start:stop],
            defect=defect[start:stop],
            first_line=first_line,
        )
        table = _day_table(request.seed, day, catalogue, n_patients)
        path = feed_path(request.out_dir, post_date)
        write_feed_file(table, path)
        files.append(
            {"path": str(path.resolve()), "lines": table.num_rows, "entries": stop - start}
        )
        first_line += table.num_rows
    return {
        "files": files,
        "lines": first_line,
        "entries": len(entries.counter),
        "injected": injected,
    }


STAND_IN = StandIn(
    name=NAME,
    kind="files",
    generate=generate_feed,
    files_dir=FEED_DIR,
    file_pattern=FEED_FILES,
)

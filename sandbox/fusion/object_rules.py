"""What the simulated Fusion checks of inventory transactions and mass additions beyond their
spec's columns, and the Post Mass Additions job.

The rules see only rows that passed the spec-driven column checks (`sandbox.fusion.objects`) and
judge them against the simulated Fusion's setup (`enterprise.py`, the ledger's chart) and what
it already holds. Messages name columns, never values, except account combinations (as Journal
Import's EF04 does). Codes: EO01 unknown inventory organization, EO02 subinventory not of the
organization, ET01 transaction type not supported, EQ01 quantity sign wrong for the type, EF04
account combination not valid, EK02 duplicate key, EA01 unknown asset book, EA02 unknown asset
category, EA03 cost or units not above zero, EA04 distributions missing or not adding up to the
units, EA05 a distribution of the mass addition has errors, EA06 the distribution's mass
addition is rejected, EK01 a distribution naming no mass addition of the file, ER01 a value
Fusion needs is empty.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from decimal import Decimal
from functools import cache

from sandbox.fusion import chart, enterprise
from sandbox.fusion.catalog import FbdiObject, Job
from sandbox.fusion.jobs import SUCCEEDED, Result
from sandbox.fusion.ledger import Books, Ledger
from sandbox.fusion.objects import (
    REJECTED_HEADER,
    Candidate,
    ObjectRules,
    ObjectStore,
    Rejections,
)

INVENTORY = "InvTransactionsInterface"
MASS_ADDITIONS = "FaMassAdditions"
POST_MASS_ADDITIONS = "PostMassAdditions"
_USED_SEGMENTS = chart.SEGMENT_COUNT
_SEGMENTS = 30
_SOURCE_KEY = ("SOURCE_CODE", "SOURCE_HEADER_ID", "SOURCE_LINE_ID")
_CATEGORY_SEGMENTS = tuple(f"CATEGORY_SEGMENT{i}" for i in range(1, 8))
Problem = tuple[str, str]


@cache
def _segment_names(prefix: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`<prefix>1..6` and `<prefix>7..30`."""
    names = tuple(f"{prefix}{i}" for i in range(1, _SEGMENTS + 1))
    return names[:_USED_SEGMENTS], names[_USED_SEGMENTS:]


def rules_for(spec: FbdiObject, books: Books) -> ObjectRules | None:
    """The rules of the spec's object, or None when only its columns are checked."""
    ledger = books.ledgers[chart.LEDGER_ID]
    if spec.object_name == INVENTORY:
        return InventoryRules(spec, ledger)
    if spec.object_name == MASS_ADDITIONS:
        return MassAdditionRules(spec, ledger)
    return None


def account_problem(row: dict[str, str], prefix: str, ledger: Ledger) -> Problem | None:
    """EF04 unless `<prefix>1..6` form a valid, enabled combination and `<prefix>7..30` are
    empty (the chart has six segments)."""
    used_names, unused_names = _segment_names(prefix)
    used = [row[name] for name in used_names]
    if not all(used) or any(row.get(name, "") for name in unused_names):
        return "EF04", f"the account must use {prefix}1 to {prefix}{_USED_SEGMENTS} and only those"
    problem = ledger.combination_problem(chart.combination(*used))
    return ("EF04", problem) if problem else None


class InventoryRules:
    """Miscellaneous issues and receipts into a known organization and subinventory, charged to
    a valid account, each source line imported once."""

    def __init__(self, spec: FbdiObject, ledger: Ledger) -> None:
        self.spec = spec
        self.ledger = ledger

    def judge(self, candidates: dict[str, list[Candidate]], store: ObjectStore) -> Rejections:
        csv_file = self.spec.csv_file
        seen = {
            tuple(r.values.get(k, "") for k in _SOURCE_KEY)
            for r in store.rows(self.spec.object_name, csv_file)
        }
        first_line: dict[tuple[str, ...], int] = {}
        out: Rejections = {}
        for number, row in candidates.get(csv_file, []):
            problem = self._problem(row)
            key = tuple(row[k] for k in _SOURCE_KEY)
            if problem is None and key in seen:
                problem = (
                    "EK02",
                    "SOURCE_CODE, SOURCE_HEADER_ID and SOURCE_LINE_ID were imported before",
                )
            if problem is None and key in first_line:
                problem = (
                    "EK02",
                    "SOURCE_CODE, SOURCE_HEADER_ID and SOURCE_LINE_ID repeat line "
                    f"{first_line[key]} of this file",
                )
            if problem is None:
                first_line[key] = number
            else:
                out[(csv_file, number)] = problem
        return out

    def _problem(self, row: dict[str, str]) -> Problem | None:
        subinventories = enterprise.inventory_organizations().get(row["ORGANIZATION_NAME"])
        if subinventories is None:
            return "EO01", "ORGANIZATION_NAME is not an inventory organization"
        if row["SUBINVENTORY_CODE"] not in subinventories:
            return "EO02", "SUBINVENTORY_CODE is not a subinventory of the organization"
        sign = enterprise.TRANSACTION_SIGNS.get(row["TRANSACTION_TYPE_NAME"])
        if sign is None:
            types = " or ".join(enterprise.TRANSACTION_SIGNS)
            return "ET01", f"TRANSACTION_TYPE_NAME must be {types}"
        quantity = Decimal(row["TRANSACTION_QUANTITY"])
        if quantity * sign <= 0:
            wanted = "negative" if sign < 0 else "positive"
            return (
                "EQ01",
                f"TRANSACTION_QUANTITY must be {wanted} for a {row['TRANSACTION_TYPE_NAME']}",
            )
        return account_problem(row, "DST_SEGMENT", self.ledger)


class MassAdditionRules:
    """Mass additions in a known book and category with a cost, units and an in-service date,
    each carried by distributions in the same file whose units add up and whose depreciation
    expense account is valid. A bad distribution rejects its mass addition and the rest of its
    distributions, as a bad line rejects its journal."""

    def __init__(self, spec: FbdiObject, ledger: Ledger) -> None:
        self.spec = spec
        self.ledger = ledger
        self.additions, self.distributions = spec.files[0].csv_file, spec.files[1].csv_file
        self.key = spec.primary.columns[0].name

    def judge(self, candidates: dict[str, list[Candidate]], store: ObjectStore) -> Rejections:
        out: Rejections = {}
        stored = {r.values.get(self.key) for r in store.rows(self.spec.object_name, self.additions)}
        good: dict[str, tuple[int, dict[str, str]]] = {}
        for number, row in candidates.get(self.additions, []):
            problem = self._addition_problem(row)
            mass_addition_id = row[self.key]
            if problem is None and mass_addition_id in stored:
                problem = "EK02", f"{self.key} exists already"
            if problem is None and mass_addition_id in good:
                line = good[mass_addition_id][0]
                problem = "EK02", f"{self.key} repeats line {line} of this file"
            if problem is None:
                good[mass_addition_id] = (number, row)
            else:
                out[(self.additions, number)] = problem

        rejected_here = {row[self.key] for n, row in candidates.get(self.additions, [])} - set(good)
        per_addition: dict[str, list[tuple[int, dict[str, str], Problem | None]]] = defaultdict(
            list
        )
        for number, row in candidates.get(self.distributions, []):
            mass_addition_id = row[self.key]
            problem = self._distribution_problem(row)
            if mass_addition_id in good:
                per_addition[mass_addition_id].append((number, row, problem))
            elif mass_addition_id in rejected_here:
                problem = problem or ("EA06", "the mass addition of this distribution is rejected")
            else:
                problem = (
                    "EK01",
                    f"{self.key} names no mass addition of {self.additions} in this file",
                )
            if problem is not None:
                out[(self.distributions, number)] = problem

        for mass_addition_id, (number, row) in good.items():
            distributions = per_addition.get(mass_addition_id, [])
            problem = None
            if not distributions:
                problem = "EA04", f"the mass addition has no distribution in {self.distributions}"
            elif any(p is not None for _, _, p in distributions):
                problem = "EA05", "a distribution of the mass addition has errors"
            elif sum(Decimal(d["UNITS"]) for _, d, _ in distributions) != Decimal(
                row["FIXED_ASSETS_UNITS"]
            ):
                problem = (
                    "EA04",
                    "the UNITS of its distributions do not add up to FIXED_ASSETS_UNITS",
                )
            if problem is None:
                continue
            out[(self.additions, number)] = problem
            for line, _, own in distributions:
                if own is None:
                    out[(self.distributions, line)] = (
                        "EA06",
                        "the mass addition of this distribution is rejected",
                    )
        return out

    def _addition_problem(self, row: dict[str, str]) -> Problem | None:
        for name in (self.key, "FIXED_ASSETS_COST", "FIXED_ASSETS_UNITS", "DATE_PLACED_IN_SERVICE"):
            if not row[name]:
                return "ER01", f"required column {name} is empty"
        if row["BOOK_TYPE_CODE"] not in enterprise.ASSET_BOOKS:
            return "EA01", "BOOK_TYPE_CODE is not an asset book"
        category = tuple(row[name] for name in _CATEGORY_SEGMENTS)
        while category and not category[-1]:
            category = category[:-1]
        if category not in enterprise.ASSET_CATEGORIES:
            return "EA02", "CATEGORY_SEGMENT1 to CATEGORY_SEGMENT7 are not an asset category"
        for name in ("FIXED_ASSETS_COST", "FIXED_ASSETS_UNITS"):
            if Decimal(row[name]) <= 0:
                return "EA03", f"{name} must be more than 0"
        return None

    def _distribution_problem(self, row: dict[str, str]) -> Problem | None:
        if not row["UNITS"]:
            return "ER01", "required column UNITS is empty"
        if Decimal(row["UNITS"]) <= 0:
            return "EA03", "UNITS must be more than 0"
        return account_problem(row, "DEPRN_EXPENSE_SEGMENT", self.ledger)


class PostMassAdditions:
    """The Post Mass Additions job: posts the book's stored mass additions queued for posting
    (POSTING_STATUS and QUEUE_NAME `POST`) that no earlier run posted."""

    rejected_header = REJECTED_HEADER

    def __init__(self, job: Job, book: str, store: ObjectStore) -> None:
        self.job = job
        self.book = book
        self.store = store

    def describe(self, request_id: str) -> list[str]:
        """The opening lines of the job's log."""
        return [f"Post Mass Additions request {request_id}", f"Job: {self.job.name}"]

    def run(self, request_id: str, document: bytes, lock: threading.RLock) -> Result:
        """Mark the queued mass additions of the book posted."""
        with lock:
            posted = self.store.posted[MASS_ADDITIONS]
            queued = [
                r.values.get("MASS_ADDITION_ID", "")
                for r in self.store.rows(MASS_ADDITIONS, f"{MASS_ADDITIONS}.csv")
                if r.values.get("BOOK_TYPE_CODE") == self.book
                and r.values.get("POSTING_STATUS") == "POST"
                and r.values.get("QUEUE_NAME") == "POST"
                and r.values.get("MASS_ADDITION_ID", "") not in posted
            ]
            posted.update(queued)
        return Result(SUCCEEDED, [f"Book: {self.book}", f"Mass additions posted: {len(queued)}"])


def follow_up_work(
    spec: FbdiObject, job: Job, values: tuple[str, ...], store: ObjectStore
) -> PostMassAdditions:
    """The work of a follow-up job of `spec`, or a ValueError saying why it cannot run."""
    if spec.object_name == MASS_ADDITIONS and job.name.endswith(f",{POST_MASS_ADDITIONS}"):
        (book,) = values
        if book not in enterprise.ASSET_BOOKS:
            raise ValueError(f"BookTypeCode must be one of {list(enterprise.ASSET_BOOKS)}")
        return PostMassAdditions(job, book, store)
    raise ValueError(f"the simulator does not run {job.name}")

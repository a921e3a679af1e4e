"""Corrections: journal entries that change in the source after Fusion posted them (the sandbox's
restatements: re-coded charges, amount fixes, voided entries) reach Fusion as correcting lines
while their period is open, and as a reversal plus a re-post dated in the open period once their
period has closed. Nothing is ever dated into a closed period, and Fusion's books end up equal to
the corrected source to the cent."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from cli import main
from sandbox.epic_restatements import Restatement, restate
from tests.conftest import TENANT, ledger_lines, set_knobs

REPO = Path(__file__).resolve().parent.parent
RESTATED_ON = date(2026, 11, 3)
CHANGES = {"recode": 3, "amount_fix": 3, "void": 2}


@pytest.fixture
def deployment(world, fusion):
    """The world with its own copy of the dbt project and seeds (where finance closes periods),
    Fusion reachable, and October posted."""
    root = world.root / "deployment"
    shutil.copytree(REPO / "dbt_project", root / "dbt_project", ignore=_build_output)
    shutil.copytree(REPO / "seeds", root / "seeds")
    config_path = world.root / "ehrfusion.yml"
    document = yaml.safe_load(config_path.read_text())
    document["paths"]["dbt_project"] = str(root / "dbt_project")
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))
    code, summary = world.run()
    assert code == 0, summary["message"]
    world.seeds = root / "seeds"
    return world


def _build_output(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n in ("target", "logs", "dbt_packages")]


def cli(world, *args: str) -> tuple[int, dict]:
    common = ["--config", str(world.root / "ehrfusion.yml"), "--warehouse", world.warehouse_arg]
    result = CliRunner().invoke(main, [*args, *common, "--json"])
    return result.exit_code, json.loads(result.stdout)


def domain_args() -> list[str]:
    return ["--tenant", TENANT, "--stream", "epic", "--domain", "gl_journal"]


def close_october(world, fusion) -> None:
    """Finance closes Oct-26 in Fusion and in the deployment's period calendar."""
    set_knobs(fusion, close_periods=["Oct-26"])
    path = world.seeds / "gl_period_calendar.csv"
    rows = list(csv.DictReader(path.open()))
    for row in rows:
        if row["period_name"] == "Oct-26":
            row["closing_status"] = "C"
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def fusion_books(fusion) -> dict[str, tuple[Decimal, Decimal]]:
    """Fusion's debits and credits per account combination, over every period."""
    books: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for line in ledger_lines(fusion):
        books[line["AccountCombination"]][0] += Decimal(str(line["EnteredDr"]))
        books[line["AccountCombination"]][1] += Decimal(str(line["EnteredCr"]))
    return {k: (dr, cr) for k, (dr, cr) in books.items() if dr or cr}


def corrected_source(world) -> dict[str, tuple[Decimal, Decimal]]:
    """The current source lines Fusion should hold (not held, not voided) per combination."""
    lines = f"{world.warehouse.schema('intermediate')}.int_journal_lines_validated"
    rows = world.warehouse.query(
        "select fusion_company || '-' || fusion_cost_center || '-' || fusion_account || '-' || "
        "fusion_sub_account || '-' || fusion_intercompany || '-' || fusion_future, "
        "coalesce(sum(debit_amount), 0), coalesce(sum(credit_amount), 0) "
        f"from {lines} where not is_held and not is_voided group by 1"
    )
    return {k: (Decimal(dr), Decimal(cr)) for k, dr, cr in rows if dr or cr}


def restated_debit_change(world) -> Decimal:
    """How much the restatement moves total debits, read from the feed files themselves."""
    files = sorted(world.drop.glob("resolute_*.parquet"))
    union = " union all by name ".join(f"select * from read_parquet('{p}')" for p in files)
    restatement = world.drop / f"resolute_restatement_{RESTATED_ON:%Y%m%d}.parquet"
    sql = f"""
        with restated as (select * from read_parquet('{restatement}')),
        original as (
            select * from ({union}) as everything
            where JOURNAL_LINE_ID in (select JOURNAL_LINE_ID from restated)
            and RECORD_STATUS is null
        )
        select
            (select sum(case when RECORD_STATUS = 'VOIDED' then 0
                             else cast(DEBIT_AMOUNT as decimal(18, 2)) end) from restated)
            - (select sum(cast(DEBIT_AMOUNT as decimal(18, 2))) from original)
    """
    with duckdb.connect() as con:
        return Decimal(con.sql(sql).fetchall()[0][0])


def restate_october(world) -> None:
    restate(
        world.drop.parent.parent,
        11,
        Restatement(day=RESTATED_ON, posted_to=date(2026, 10, 31), **CHANGES),
    )


def test_changes_in_an_open_period_post_as_correcting_lines(deployment, fusion):
    world = deployment
    before = fusion_books(fusion)
    restate_october(world)

    code, summary = world.run()

    assert code == 0, summary["message"]
    [batch] = summary["export"]["batches"]
    assert batch["feed_date"] == RESTATED_ON.isoformat()
    assert summary["submit"]["totals"]["lines_rejected"] == 0
    kinds = kinds_posted(fusion, batch["batch_id"])
    assert set(kinds) == {"CORRECTION"}
    assert all(period == "Oct-26" for period in kinds["CORRECTION"])
    after = fusion_books(fusion)
    assert after == corrected_source(world)
    assert after != before
    total_debit_change = sum(dr for dr, _ in after.values()) - sum(dr for dr, _ in before.values())
    assert total_debit_change == restated_debit_change(world)
    code, pack = cli(world, "reconcile", "--tenant", TENANT, "--period", "2026-10")
    assert (code, pack["status"]) == (0, "clean")


def test_changes_to_a_closed_period_are_reversed_and_reposted_in_the_open_one(deployment, fusion):
    world = deployment
    close_october(world, fusion)
    restate_october(world)

    code, plan = cli(world, "plan", *domain_args())
    assert code == 0, plan["message"]
    assert plan["batch_days"] == [RESTATED_ON.isoformat()]
    assert set(plan["totals_by_kind"]) == {"REVERSAL", "REPOST"}
    assert {line["period_name"] for line in plan["lines"]} == {"Nov-26"}
    review = plan["finance_review"]
    assert len(review) == sum(CHANGES.values())
    assert {r["treatment"] for r in review} == {"reverse_and_repost"}
    assert {r["review_reason"] for r in review} == {"posted_in_closed_period"}

    code, summary = world.run("--expect-plan", plan["fingerprint"])

    assert code == 0, summary["message"]
    [batch] = summary["export"]["batches"]
    kinds = kinds_posted(fusion, batch["batch_id"])
    assert set(kinds) == {"REVERSAL", "REPOST"}
    assert {p for periods in kinds.values() for p in periods} == {"Nov-26"}
    posted = posted_totals(fusion, batch["batch_id"])
    assert posted == {k: (v["debit"], v["credit"]) for k, v in plan["totals_by_kind"].items()}
    assert fusion_books(fusion) == corrected_source(world)
    # October's books in Fusion keep what posted before it closed; the pack explains the rest.
    packs = {}
    for month in ("2026-10", "2026-11"):
        code, packs[month] = cli(world, "reconcile", "--tenant", TENANT, "--period", month)
        assert (code, packs[month]["status"]) == (0, "clean"), packs[month]["total"]
    moved = Decimal(packs["2026-10"]["total"]["redated_debit"])
    assert moved != 0
    assert Decimal(packs["2026-11"]["total"]["redated_debit"]) == -moved


def test_a_run_refuses_a_plan_that_no_longer_holds(deployment, fusion):
    world = deployment
    restate_october(world)
    code, plan = cli(world, "plan", *domain_args())
    assert code == 0
    restate(world.drop.parent.parent, 11, Restatement(day=date(2026, 11, 4), amount_fix=1))

    code, summary = world.run("--expect-plan", plan["fingerprint"])

    assert code == 10
    assert summary["status"] == "plan_changed"
    assert summary["export"]["batches"] == []


def test_a_restatement_whose_day_is_in_no_open_period_is_held_for_finance(deployment, fusion):
    world = deployment
    close_october(world, fusion)
    restate(world.drop.parent.parent, 11, Restatement(day=date(2026, 12, 2), void=1))

    code, summary = world.run()

    assert code == 0, summary["message"]
    assert summary["exceptions"]["by_reason"].get("no_open_period_for_correction", 0) > 0
    assert all(b["lines"] == 0 for b in summary["export"]["batches"])
    review = world.warehouse.query(
        "select treatment, exception_reason from "
        f"{world.warehouse.schema('marts')}.exceptions__gl_closed_period_corrections"
    )
    assert review == [("held", "no_open_period_for_correction")]


def kinds_posted(fusion, batch_id: str) -> dict[str, list[str]]:
    """The periods of the lines Fusion posted from one batch, by line kind (REFERENCE25)."""
    day = batch_id.rsplit("-", 3)[-3:]
    name = "EPIC RESOLUTE " + "".join(day)
    kinds: dict[str, list[str]] = defaultdict(list)
    for line in ledger_lines(fusion):
        if line["JournalBatchName"] == name:
            kinds[line["References"]["REFERENCE25"]].append(line["PeriodName"])
    return kinds


def posted_totals(fusion, batch_id: str) -> dict[str, tuple[str, str]]:
    day = batch_id.rsplit("-", 3)[-3:]
    name = "EPIC RESOLUTE " + "".join(day)
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for line in ledger_lines(fusion):
        if line["JournalBatchName"] == name:
            kind = totals[line["References"]["REFERENCE25"]]
            kind[0] += Decimal(str(line["EnteredDr"]))
            kind[1] += Decimal(str(line["EnteredCr"]))
    return {k: (f"{dr:.2f}", f"{cr:.2f}") for k, (dr, cr) in totals.items()}

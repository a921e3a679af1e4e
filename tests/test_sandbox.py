"""The sandbox: deterministic generation, the Resolute feed contract, endpoints and servers."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from extract.epic.resolute.settings import FEED_SCHEMA
from sandbox import epic_resolute, rand, world
from sandbox.canaries import CANARY_ACCOUNTS, CANARY_MRNS, CANARY_NAMES, canary_hits
from sandbox.endpoints import endpoints_path, read_endpoints, set_endpoint
from sandbox.generate import STAND_INS, generate
from sandbox.server import LoopbackServer, Request, Response, json_response
from sandbox.standin import GenerationRequest, StandIn

SEED = 11
SCALE = 3_000
DAYS = 31

AMOUNT = re.compile(r"^\d+\.\d{2}$")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sandbox")
    return out, generate(out, SEED, SCALE)


@pytest.fixture(scope="module")
def feed(sandbox: tuple[Path, dict]) -> duckdb.DuckDBPyConnection:
    out, _ = sandbox
    con = duckdb.connect()
    pattern = out / epic_resolute.FEED_DIR / epic_resolute.FILE_PATTERN
    con.execute(f"create view feed as select * from read_parquet('{pattern}', filename = true)")
    return con


def _files(out: Path) -> list[Path]:
    return sorted((out / epic_resolute.FEED_DIR).glob(epic_resolute.FILE_PATTERN))


def test_same_seed_and_scale_give_byte_identical_output(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    generate(first, SEED, 2_000)
    generate(second, SEED, 2_000)
    names = [p.name for p in _files(first)]
    assert names == [p.name for p in _files(second)]
    for a, b in zip(_files(first), _files(second), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    one = endpoints_path(first).read_text().replace(str(first.resolve()), "OUT")
    two = endpoints_path(second).read_text().replace(str(second.resolve()), "OUT")
    assert one == two


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", 1, 2_000)
    generate(tmp_path / "b", 2, 2_000)
    day = "resolute_journal_20261001.parquet"
    path_a = tmp_path / "a" / epic_resolute.FEED_DIR / day
    path_b = tmp_path / "b" / epic_resolute.FEED_DIR / day
    assert path_a.read_bytes() != path_b.read_bytes()


def test_one_file_per_posting_day_with_the_contract_schema(sandbox, feed) -> None:
    out, _ = sandbox
    files = _files(out)
    assert [p.name for p in files] == [
        f"resolute_journal_202610{day:02d}.parquet" for day in range(1, DAYS + 1)
    ]
    for path in files:
        schema = pq.read_schema(path)
        # The sandbox emits exactly what the product's extract expects of a real feed.
        assert schema.equals(FEED_SCHEMA), path.name
        assert schema.metadata is None or b"pandas" not in schema.metadata
    mismatched = feed.execute(
        "select count(*) from feed "
        "where strftime(POST_DATE, '%Y%m%d') <> regexp_extract(filename, '(\\d{8})', 1)"
    ).fetchone()
    assert mismatched == (0,)


def test_scale_is_total_lines(tmp_path: Path) -> None:
    for scale in (500, 2_000, 7_777):
        summary = generate(tmp_path / str(scale), SEED, scale)["stand_ins"]
        lines = summary[epic_resolute.NAME]["lines"]
        assert scale <= lines <= scale + 1
        files = summary[epic_resolute.NAME]["files"]
        assert sum(pq.read_metadata(f["path"]).num_rows for f in files) == lines


def test_clean_entries_balance_to_the_cent_with_two_to_five_lines(feed) -> None:
    rows = feed.execute(
        """
        with lines as (
            select JOURNAL_ID, TX_TYPE, DEBIT_AMOUNT, CREDIT_AMOUNT,
                   try_cast(DEBIT_AMOUNT as decimal(18, 2)) as dr,
                   try_cast(CREDIT_AMOUNT as decimal(18, 2)) as cr
            from feed
        )
        select JOURNAL_ID, count(*) as n, sum(coalesce(dr, 0)) as dr, sum(coalesce(cr, 0)) as cr,
               bool_and((DEBIT_AMOUNT is null) <> (CREDIT_AMOUNT is null)
                        and coalesce(dr, cr) is not null) as clean
        from lines group by JOURNAL_ID
        """
    ).fetchall()
    assert rows
    assert all(2 <= n <= 5 for _, n, _, _, _ in rows)
    clean = [(jid, dr, cr) for jid, _, dr, cr, ok in rows if ok]
    assert len(clean) > 0.9 * len(rows)
    assert [jid for jid, dr, cr in clean if dr != cr] == []


def test_amount_text_has_two_decimals_and_one_side_only(feed) -> None:
    amounts = feed.execute(
        "select DEBIT_AMOUNT, CREDIT_AMOUNT from feed "
        "where try_cast(coalesce(DEBIT_AMOUNT, CREDIT_AMOUNT) as decimal(18, 2)) is not null"
    ).fetchall()
    for debit, credit in amounts:
        assert (debit is None) != (credit is None)
        assert AMOUNT.match(debit or credit)


def test_entry_shapes_follow_their_type(feed) -> None:
    shapes = feed.execute(
        """
        select TX_TYPE, GL_ACCOUNT, DEBIT_AMOUNT is not null as debit_side,
               GL_ACCOUNT like '4%' and GL_ACCOUNT <> '4900' as revenue
        from feed where DEBIT_AMOUNT is not null or CREDIT_AMOUNT is not null
        group by all
        """
    ).fetchall()
    debits = {(t, a) for t, a, dr, _ in shapes if dr}
    assert debits == {("CHARGE", "1200"), ("PAYMENT", "1010"), ("ADJUSTMENT", "4900")}
    credits = {(t, a if not rev else "4xxx") for t, a, dr, rev in shapes if not dr}
    assert credits == {("CHARGE", "4xxx"), ("PAYMENT", "1200"), ("ADJUSTMENT", "1200")}


def test_revenue_lines_carry_a_revenue_code_on_hospital_billing_only(feed) -> None:
    rows = feed.execute(
        "select BILLING_SYSTEM, GL_ACCOUNT in ('1200', '1010', '4900') as balance_sheet, "
        "count(REVENUE_CODE) > 0 as any_code, bool_and(REVENUE_CODE is not null) as all_code "
        "from feed group by all"
    ).fetchall()
    expected = {
        ("HB", False): (True, True),
        ("HB", True): (False, False),
        ("PB", False): (False, False),
        ("PB", True): (False, False),
    }
    assert {(b, s): (a, c) for b, s, a, c in rows} == expected


def test_ids_are_unique(feed) -> None:
    lines, line_ids, entries, tx_ids, pairs = feed.execute(
        "select count(*), count(distinct JOURNAL_LINE_ID), count(distinct JOURNAL_ID), "
        "count(distinct TX_ID), count(distinct (JOURNAL_ID, TX_ID)) from feed"
    ).fetchone()
    assert line_ids == lines
    assert entries == tx_ids == pairs


def test_every_line_has_a_patient_and_descriptions_have_none(feed) -> None:
    missing = feed.execute(
        "select count(*) from feed where HSP_ACCOUNT_ID is null or PAT_MRN_ID is null "
        "or PAT_NAME not like '%,%'"
    ).fetchone()
    assert missing == (0,)
    leaks = feed.execute(
        "select count(*) from feed where contains(LINE_DESCRIPTION, PAT_MRN_ID) "
        "or contains(LINE_DESCRIPTION, HSP_ACCOUNT_ID) "
        "or contains(LINE_DESCRIPTION, split_part(PAT_NAME, ',', 1))"
    ).fetchone()
    assert leaks == (0,)
    assert feed.execute("select count(*) from feed where LINE_DESCRIPTION = ''").fetchone() == (0,)


def test_canary_patients_appear_in_every_file(sandbox) -> None:
    out, _ = sandbox
    for path in _files(out):
        table = pq.read_table(path, columns=["PAT_MRN_ID", "PAT_NAME", "HSP_ACCOUNT_ID"])
        assert set(CANARY_MRNS) <= set(table["PAT_MRN_ID"].to_pylist()), path.name
        assert set(CANARY_NAMES) <= set(table["PAT_NAME"].to_pylist()), path.name
        assert set(CANARY_ACCOUNTS) <= set(table["HSP_ACCOUNT_ID"].to_pylist()), path.name


def test_every_bad_record_kind_occurs_at_small_scale(tmp_path: Path) -> None:
    summary = generate(tmp_path, SEED, 2_000)["stand_ins"][epic_resolute.NAME]
    injected = summary["injected"]
    assert set(injected) == {"null_amount", "bad_amount", "unmapped_department", "late_gl_date"}
    assert all(count >= 1 for count in injected.values())
    con = duckdb.connect()
    con.execute(
        f"create view feed as select * from read_parquet('{tmp_path}/epic/resolute/*.parquet')"
    )

    def count(where: str, what: str = "count(*)") -> int:
        return con.execute(f"select {what} from feed where {where}").fetchone()[0]

    assert count("DEBIT_AMOUNT is null and CREDIT_AMOUNT is null") == injected["null_amount"]
    non_numeric = "coalesce(DEBIT_AMOUNT, CREDIT_AMOUNT) is not null and try_cast(coalesce("
    non_numeric += "DEBIT_AMOUNT, CREDIT_AMOUNT) as decimal(18, 2)) is null"
    assert count(non_numeric) == injected["bad_amount"]
    unmapped = ", ".join(f"'{d}'" for d in sorted(world.unmapped_department_ids()))
    assert (
        count(f"DEPARTMENT_ID in ({unmapped})", "count(distinct JOURNAL_ID)")
        == injected["unmapped_department"]
    )
    late = count("GL_DATE between DATE '2026-09-01' and DATE '2026-09-30'", "count(distinct TX_ID)")
    assert late == injected["late_gl_date"]
    assert count("GL_DATE <> POST_DATE and GL_DATE >= DATE '2026-10-01'") == 0
    # Each defective entry carries exactly one kind of defect.
    kinds = con.execute(
        f"""
        select JOURNAL_ID,
               bool_or(DEBIT_AMOUNT is null and CREDIT_AMOUNT is null)::int
             + bool_or({non_numeric})::int
             + bool_or(DEPARTMENT_ID in ({unmapped}))::int
             + bool_or(GL_DATE < POST_DATE)::int as kinds
        from feed group by 1 having kinds > 1
        """
    ).fetchall()
    assert kinds == []


def test_defects_can_be_switched_off(tmp_path: Path) -> None:
    rates = epic_resolute.DefectRates(0, 0, 0, 0)
    request = GenerationRequest(tmp_path, SEED, 1_000, date(2026, 10, 1), 5)
    summary = epic_resolute.generate_feed(request, rates)
    assert summary["injected"] == dict.fromkeys(summary["injected"], 0)


def test_summary_is_json_and_carries_no_patient_data(sandbox) -> None:
    _, summary = sandbox
    text = json.dumps(summary)
    assert canary_hits(text) == []
    feed_summary = summary["stand_ins"][epic_resolute.NAME]
    assert len(feed_summary["files"]) == DAYS
    assert all(Path(f["path"]).is_absolute() and f["lines"] > 0 for f in feed_summary["files"])


def test_endpoints_file_points_at_the_feed(sandbox) -> None:
    out, summary = sandbox
    path = endpoints_path(out)
    assert summary["endpoints_file"] == str(path.resolve())
    data = json.loads(path.read_text())
    assert (data["seed"], data["scale"]) == (SEED, SCALE)
    assert data["endpoints"]["epic_resolute_journal"] == {
        "kind": "files",
        "path": str((out / "epic" / "resolute").resolve()),
        "pattern": "resolute_*.parquet",
    }
    # Every file stand-in is written at generation; servers publish themselves when started.
    files = {s.name for s in STAND_INS if s.kind == "files"}
    assert set(data["endpoints"]) == files


def test_random_streams_match_the_splitmix64_reference() -> None:
    mask = (1 << 64) - 1

    def splitmix(state: int) -> int:
        z = state & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    key = rand.stream_key(5, "anything")
    expected = [splitmix(key + (i + 1) * 0x9E3779B97F4A7C15) for i in range(8)]
    assert rand.bits(key, rand.arange(8)).to_pylist() == expected
    draws = rand.below(key, rand.arange(10_000), 7).to_pylist()
    assert set(draws) == set(range(7))


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_loopback_server_lifecycle_publishes_and_removes_its_endpoint(tmp_path: Path) -> None:
    endpoints = endpoints_path(tmp_path)
    set_endpoint(endpoints, "other", {"kind": "files", "path": "/x", "pattern": "*"})
    server = LoopbackServer("fusion_standin", endpoints_file=endpoints)
    server.start()
    try:
        port = server.port
        assert server._httpd.server_address[0] == "127.0.0.1"
        assert read_endpoints(endpoints)["endpoints"]["fusion_standin"] == {
            "kind": "http",
            "url": f"http://127.0.0.1:{port}",
        }
        status, body = _get(f"{server.url}/healthz")
        assert (status, body) == (200, {"status": "ok", "name": "fusion_standin"})
        assert _get(f"{server.url}/nothing-here")[0] == 404
    finally:
        server.stop()
    assert not _port_open(port)
    remaining = read_endpoints(endpoints)["endpoints"]
    assert "fusion_standin" not in remaining
    assert "other" in remaining
    server.stop()  # idempotent


class _EchoServer(LoopbackServer):
    def route(self, request: Request) -> Response | None:
        if request.path == "/echo" and request.method == "POST":
            return json_response({"got": request.json(), "q": request.query.get("q")}, 201)
        return None


def test_http_stand_in_subclass_routes_requests_and_works_as_context_manager(
    tmp_path: Path,
) -> None:
    stand_in = StandIn(
        name="echo",
        kind="http",
        generate=lambda request: {},
        server=lambda out_dir: _EchoServer("echo"),
    )
    server = stand_in.start(tmp_path)
    with server:
        request = urllib.request.Request(f"{server.url}/echo?q=1", data=b'{"a": 1}', method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 201
            assert json.loads(response.read()) == {"got": {"a": 1}, "q": ["1"]}
        assert "echo" in read_endpoints(endpoints_path(tmp_path))["endpoints"]
        port = server.port
    assert not _port_open(port)
    assert "echo" not in read_endpoints(endpoints_path(tmp_path))["endpoints"]


def test_stand_in_declaration_is_validated() -> None:
    with pytest.raises(ValueError):
        StandIn(name="x", kind="files", generate=lambda request: {})
    with pytest.raises(ValueError):
        StandIn(name="x", kind="http", generate=lambda request: {})


def test_the_cli_generates_the_sandbox_and_says_where(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import main

    out = tmp_path / "sb"
    result = CliRunner().invoke(main, ["sandbox", "generate", "--scale", "500", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "endpoints.json" in result.stdout.replace("\n", "")
    assert read_endpoints(endpoints_path(out))["endpoints"]["epic_resolute_journal"]

"""Disclosure-log entries reach a SIEM as RFC 5424 messages over UDP, TCP (octet counting) and
TLS (verified against a CA), and continuous forwarding sends each entry once."""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runtime.compliance.audit import AuditError, DisclosureLog, DisclosureRecord
from runtime.compliance.syslog import SD_FIELDS, SyslogSender, format_message
from runtime.core.config import AuditSettings, SyslogSettings
from runtime.core.warehouse import Warehouse
from tests.conftest import TENANT

HEADER = re.compile(
    rb"<(?P<pri>\d{1,3})>(?P<version>1) (?P<timestamp>\S+) (?P<hostname>\S+) "
    rb"(?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) (?P<rest>.*)",
    re.DOTALL,
)
SD_ID = "disclosure@32473"


def parse_rfc5424(frame: bytes) -> dict:
    """A strict reading of one message: header fields, structured data (with escapes), MSG."""
    match = HEADER.fullmatch(frame)
    assert match, frame[:80]
    message = {k: v.decode() for k, v in match.groupdict().items() if k != "rest"}
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)", message["timestamp"]
    )
    rest = match["rest"].decode()
    elements: dict[str, dict[str, str]] = {}
    i = 0
    assert rest.startswith("[")
    while i < len(rest) and rest[i] == "[":
        end_id = min(j for j in (rest.find(" ", i), rest.find("]", i)) if j != -1)
        sd_id, i = rest[i + 1 : end_id], end_id
        params: dict[str, str] = {}
        while rest[i] == " ":
            eq = rest.index("=", i)
            name = rest[i + 1 : eq]
            assert rest[eq + 1] == '"' and re.fullmatch(r"[!-~]{1,32}", name)
            assert not set(name) & set('= ]"')
            value, j = [], eq + 2
            while rest[j] != '"':
                if rest[j] == "\\" and rest[j + 1] in '"\\]':
                    j += 1
                value.append(rest[j])
                j += 1
            params[name] = "".join(value)
            i = j + 1
        assert rest[i] == "]"
        elements[sd_id] = params
        i += 1
    message["sd"] = elements
    message["msg"] = rest[i + 1 :] if i < len(rest) else ""
    return message


def _complete(data: bytes) -> list[bytes]:
    """The complete octet-counted frames at the start of `data`."""
    frames = []
    while data:
        length, space, rest = data.partition(b" ")
        if not space or len(rest) < int(length):
            break
        frames.append(rest[: int(length)])
        data = rest[int(length) :]
    return frames


def octet_frames(data: bytes) -> list[bytes]:
    """Split an RFC 6587 octet-counted stream; fails on anything else."""
    frames = []
    while data:
        length, _, data = data.partition(b" ")
        assert length.isdigit() and not length.startswith(b"0")
        frames.append(data[: int(length)])
        assert len(frames[-1]) == int(length)
        data = data[int(length) :]
    return frames


def entry(sequence: int = 1, **changes) -> dict:
    base = {
        "sequence": sequence,
        "recorded_at": "2026-01-05T02:30:00.123456Z",
        "tenant": TENANT,
        "principal": "svc-ehrfusion",
        "action": "disclose",
        "patient_pseudonym": hashlib.sha256(b"p").hexdigest(),
        "scope": "gl_journal:fusion__gl_interface:testhosp-epic-gl_journal-20260105",
        "purpose": "payment and health care operations",
        "recipient": "Oracle Fusion Cloud (EHF US Primary Ledger)",
        "detail": None,
        "previous_hash": "0" * 64,
        "entry_hash": "a" * 64,
    }
    return base | changes


def test_message_carries_every_field_as_structured_data():
    message = parse_rfc5424(format_message(entry(), hostname="ehf-batch-01", procid="4242"))
    assert message["pri"] == str(13 * 8 + 6)  # log audit, informational
    assert message["timestamp"] == "2026-01-05T02:30:00.123456Z"
    assert (message["hostname"], message["app"], message["procid"]) == (
        "ehf-batch-01",
        "ehrfusion",
        "4242",
    )
    assert message["msgid"] == "disclose"
    fields = message["sd"][SD_ID]
    assert set(fields) == set(SD_FIELDS) - {"detail"}
    assert fields["sequence"] == "1"
    assert fields["scope"] == entry()["scope"]
    assert fields["patient_pseudonym"] == entry()["patient_pseudonym"]
    assert message["msg"] == "accounting of disclosures entry 1"


def test_param_values_are_escaped():
    tricky = 'Acme "Billing" [west] \\ Ltd'
    message = parse_rfc5424(format_message(entry(recipient=tricky), hostname="h"))
    assert message["sd"][SD_ID]["recipient"] == tricky


def test_purge_entries_carry_their_detail_and_omit_nulls():
    purge = entry(
        action="purge",
        patient_pseudonym=None,
        recipient=None,
        detail={"removed": 3, "last_sequence": 3, "anchor_hash": "b" * 64},
    )
    fields = parse_rfc5424(format_message(purge, hostname="h"))["sd"][SD_ID]
    assert "patient_pseudonym" not in fields and "recipient" not in fields
    assert fields["detail"] == '{"anchor_hash":"' + "b" * 64 + '","last_sequence":3,"removed":3}'


def test_header_fields_must_be_printable_ascii():
    with pytest.raises(ValueError, match="HOSTNAME"):
        format_message(entry(), hostname="bad host")


# receivers on 127.0.0.1 ----------------------------------------------------------------------
class StreamReceiver:
    """Accepts connections (TLS if a context is given) and keeps every byte received."""

    def __init__(self, context: ssl.SSLContext | None = None):
        self.context = context
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)  # so the accept loop sees `stop`
        self.port = self.server.getsockname()[1]
        self.data = b""
        self.errors: list[BaseException] = []
        self.handled = 0
        self.changed = threading.Condition()
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            conn.settimeout(10)
            try:
                if self.context is not None:
                    conn = self.context.wrap_socket(conn, server_side=True)
                with conn:
                    while chunk := conn.recv(65536):
                        with self.changed:
                            self.data += chunk
                            self.changed.notify_all()
            except (OSError, ssl.SSLError) as exc:
                self.errors.append(exc)
            with self.changed:
                self.handled += 1
                self.changed.notify_all()

    def wait(self, frames: int = 0, connections: int = 0) -> list[bytes]:
        """The frames received once `frames` complete frames and `connections` finished
        connections have arrived (or the receiver gave up waiting)."""

        def arrived() -> bool:
            return len(_complete(self.data)) >= frames and self.handled >= connections

        with self.changed:
            self.changed.wait_for(arrived, timeout=30)
        return octet_frames(self.data)

    def close(self) -> None:
        self.stop.set()
        self._thread.join()
        self.server.close()


@pytest.fixture
def tcp_receiver():
    receiver = StreamReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 made with openssl, plus an unrelated CA."""
    d = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for name in ("ca", "other-ca"):
        openssl(
            "req", "-x509", *ec, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN=ehrfusion test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
    openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=siem")
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
    )  # fmt: skip
    return {name: d / name for name in ("ca.pem", "other-ca.pem", "server.pem", "server.key")}


@pytest.fixture
def tls_receiver(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server.pem"], pki["server.key"])
    receiver = StreamReceiver(context)
    yield receiver
    receiver.close()


def _send(settings: SyslogSettings, count: int) -> None:
    messages = [format_message(entry(i), hostname="h") for i in range(1, count + 1)]
    with SyslogSender(settings) as sender:
        sender.send(messages)


def test_udp_sends_one_datagram_per_message():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        _send(SyslogSettings("127.0.0.1", server.getsockname()[1], "udp", None), 3)
        frames = [server.recv(65535) for _ in range(3)]
    parsed = [parse_rfc5424(f) for f in frames]
    assert [p["sd"][SD_ID]["sequence"] for p in parsed] == ["1", "2", "3"]


def test_tcp_frames_messages_by_octet_count(tcp_receiver):
    _send(SyslogSettings("127.0.0.1", tcp_receiver.port, "tcp", None), 3)
    frames = tcp_receiver.wait(frames=3, connections=1)
    parsed = [parse_rfc5424(f) for f in frames]
    assert [p["sd"][SD_ID]["sequence"] for p in parsed] == ["1", "2", "3"]
    assert all(set(p["sd"][SD_ID]) == set(SD_FIELDS) - {"detail"} for p in parsed)


def test_tls_verifies_the_receiver_against_the_ca_file(tls_receiver, pki):
    _send(SyslogSettings("127.0.0.1", tls_receiver.port, "tls", pki["ca.pem"]), 2)
    frames = tls_receiver.wait(frames=2, connections=1)
    assert not tls_receiver.errors
    assert [parse_rfc5424(f)["sd"][SD_ID]["sequence"] for f in frames] == ["1", "2"]


def test_tls_refuses_a_receiver_the_ca_did_not_sign(tls_receiver, pki):
    settings = SyslogSettings("127.0.0.1", tls_receiver.port, "tls", pki["other-ca.pem"])
    with pytest.raises(ssl.SSLCertVerificationError):
        _send(settings, 1)
    assert tls_receiver.wait(connections=1) == []
    assert tls_receiver.errors


# continuous forwarding from the log ----------------------------------------------------------
def _records(n: int, start: int = 0, at: datetime | None = None) -> list[DisclosureRecord]:
    return [
        DisclosureRecord(
            hashlib.sha256(f"patient-{start + i}".encode()).hexdigest(),
            "gl_journal:fusion__gl_interface:b1",
            "payment",
            "Oracle Fusion Cloud",
            recorded_at=at,
        )
        for i in range(n)
    ]


@pytest.fixture
def make_log(tmp_path, warehouse_kind, request):
    if warehouse_kind == "duckdb":
        warehouse = Warehouse("duckdb", TENANT, duckdb_path=tmp_path / "warehouse.duckdb")
    else:
        warehouse = Warehouse("postgres", TENANT, dsn=request.getfixturevalue("pg_dsn"))

    def make(syslog: SyslogSettings | None) -> DisclosureLog:
        settings = AuditSettings("svc-ehrfusion", tmp_path / "audit" / "t.jsonl", syslog)
        return DisclosureLog(warehouse, TENANT, settings)

    return make


def _sequences(frames: list[bytes]) -> list[int]:
    return [int(parse_rfc5424(f)["sd"][SD_ID]["sequence"]) for f in frames]


def test_forward_sends_each_entry_once_across_runs(make_log, tcp_receiver):
    log = make_log(SyslogSettings("127.0.0.1", tcp_receiver.port, "tcp", None))
    log.append(_records(1500))
    assert log.forward() == 1500
    assert log.forward() == 0
    log.append(_records(2, start=1500))
    assert log.forward() == 2
    assert _sequences(tcp_receiver.wait(frames=1502, connections=3)) == list(range(1, 1503))
    assert log.verify().ok


def test_since_applies_to_the_first_forward_only(make_log, tcp_receiver):
    now = datetime(2030, 1, 1, tzinfo=UTC)
    log = make_log(SyslogSettings("127.0.0.1", tcp_receiver.port, "tcp", None))
    log.append(_records(2, at=now - timedelta(days=30)))
    log.append(_records(2, start=2, at=now))
    assert log.forward(since=now - timedelta(days=1)) == 2
    log.append(_records(1, start=4, at=now - timedelta(days=60)))
    assert log.forward(since=now) == 1
    assert _sequences(tcp_receiver.wait(frames=3, connections=2)) == [3, 4, 5]


def test_forward_needs_a_configured_receiver(make_log):
    log = make_log(None)
    log.append(_records(1))
    with pytest.raises(AuditError, match=r"audit\.syslog is not configured"):
        log.forward()


def test_a_failed_delivery_advances_nothing(make_log, tcp_receiver):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    log = make_log(SyslogSettings("127.0.0.1", port, "tcp", None))
    log.append(_records(3))
    with pytest.raises(ConnectionRefusedError):
        log.forward()
    retry = make_log(SyslogSettings("127.0.0.1", tcp_receiver.port, "tcp", None))
    assert retry.forward() == 3
    assert _sequences(tcp_receiver.wait(frames=3, connections=1)) == [1, 2, 3]


def test_changes_after_forwarding_are_caught(make_log, tcp_receiver):
    log = make_log(SyslogSettings("127.0.0.1", tcp_receiver.port, "tcp", None))
    log.append(_records(5))
    log.forward()
    # Truncate the tail in both stores: the chain alone cannot tell, the forwarding record can.
    log.warehouse.query(f"delete from {log.table} where sequence = 5")
    lines = log.mirror.read_text().splitlines(keepends=True)
    log.mirror.write_text("".join(lines[:4]))
    assert log.verify().problems == [
        "mirror: entries through 5 were forwarded but the log ends before",
        "warehouse: entries through 5 were forwarded but the log ends before",
    ]
    with pytest.raises(AuditError, match="ends before entry 5"):
        log.forward()

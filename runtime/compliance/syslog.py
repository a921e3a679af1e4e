"""RFC 5424 syslog for the accounting of disclosures: one message per log entry, sent over UDP
(RFC 5426, one datagram per message), TCP with octet-counting framing (RFC 6587) or TLS
(RFC 5425, same framing, the receiver's certificate verified against the configured CA file).

The entry's fields travel as one structured-data element, `[disclosure@<PEN> ...]`, so a SIEM
parses them without reading MSG. The default enterprise number, 32473, is the one IANA reserves
for documentation (RFC 5612): an operator with its own private enterprise number passes it in.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

from runtime.compliance.audit_chain import COLUMNS
from runtime.core.config import SyslogSettings

FACILITY_LOG_AUDIT = 13
SEVERITY_INFORMATIONAL = 6
DOCUMENTATION_PEN = 32473
SD_NAME = "disclosure"
APP_NAME = "ehrfusion"
# Parameters appear in the entry's column order: every field a SIEM needs to rebuild the chain.
SD_FIELDS = COLUMNS
_HEADER_LIMITS = {"HOSTNAME": 255, "APP-NAME": 48, "PROCID": 128, "MSGID": 32}


def _header_field(value: str | None, name: str) -> str:
    """A header field: printable US-ASCII without spaces, within its RFC length, or `-`."""
    if not value:
        return "-"
    if any(not 33 <= ord(ch) <= 126 for ch in value):
        raise ValueError(f"syslog {name} must be printable US-ASCII without spaces")
    return value[: _HEADER_LIMITS[name]]


def _param_value(value: Any) -> str:
    if isinstance(value, Mapping):
        value = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = str(value)
    # RFC 5424 section 6.3.3: inside PARAM-VALUE, '"', '\' and ']' are escaped with '\'.
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_message(
    entry: Mapping[str, Any],
    *,
    hostname: str,
    procid: str | None = None,
    enterprise_number: int = DOCUMENTATION_PEN,
) -> bytes:
    """One disclosure-log entry as an RFC 5424 message (without transport framing).

    TIMESTAMP is the entry's `recorded_at`, MSGID its action; null fields are left out of the
    structured data. MSG is a short ASCII summary naming the sequence only.
    """
    pri = FACILITY_LOG_AUDIT * 8 + SEVERITY_INFORMATIONAL
    header = " ".join(
        (
            f"<{pri}>1",
            entry["recorded_at"],
            _header_field(hostname, "HOSTNAME"),
            APP_NAME,
            _header_field(procid, "PROCID"),
            _header_field(entry["action"], "MSGID"),
        )
    )
    params = " ".join(
        f'{name}="{_param_value(entry[name])}"' for name in SD_FIELDS if entry.get(name) is not None
    )
    sd = f"[{SD_NAME}@{enterprise_number} {params}]"
    msg = f"accounting of disclosures entry {entry['sequence']}"
    return f"{header} {sd} {msg}".encode()


class SyslogSender:
    """A connection to one syslog receiver; use it as a context manager.

    Stream transports (tcp, tls) prefix each message with its length in octets; udp sends one
    datagram per message. Errors (refused connection, failed certificate check) propagate: the
    caller decides what was delivered.
    """

    def __init__(self, settings: SyslogSettings, timeout: float = 10.0):
        self.settings = settings
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def __enter__(self) -> SyslogSender:
        s = self.settings
        if s.protocol == "udp":
            family, kind, proto, _, address = socket.getaddrinfo(
                s.host, s.port, type=socket.SOCK_DGRAM
            )[0]
            sock = socket.socket(family, kind, proto)
            sock.settimeout(self.timeout)
            sock.connect(address)
        else:
            sock = socket.create_connection((s.host, s.port), timeout=self.timeout)
            if s.protocol == "tls":
                sock = self._tls_context().wrap_socket(sock, server_hostname=s.host)
        self._sock = sock
        return self

    def _tls_context(self) -> ssl.SSLContext:
        ca_file = self.settings.ca_file
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def send(self, messages: Sequence[bytes]) -> None:
        """Send messages in order; on a stream transport, as one write."""
        if self._sock is None:
            raise RuntimeError("SyslogSender is not connected; use it in a with block")
        if self.settings.protocol == "udp":
            for message in messages:
                self._sock.send(message)
            return
        self._sock.sendall(b"".join(b"%d %s" % (len(m), m) for m in messages))

    def __exit__(self, *exc_info) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

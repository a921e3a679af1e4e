"""Load and validate `ehrfusion.yml`: tenants -> streams -> domains.

Validation is strict on purpose: an unknown key is far more often a typo that would silently
disable something than a harmless extra. Every error names the key path and what is allowed.
Credentials never live here: they come from environment variables or dlt's secrets.toml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from load.formats import FormatSpecError, available_releases, resolve_release
from runtime.core import catalog

CADENCES = ("realtime", "15min", "hourly", "daily", "monthly")
PHI_MODES = ("direct", "limited_data_set", "safe_harbor", "pseudonymized", "aggregate_only")
WAREHOUSE_KINDS = ("duckdb", "postgres")
SYSLOG_PROTOCOLS = ("udp", "tcp", "tls")
# The `fusion:` settings each object needs besides object and release (all required).
OBJECT_SETTINGS = {
    "GlInterface": ("ledger_id", "ledger_name", "journal_source", "journal_category"),
    "InvTransactionsInterface": ("source_code",),
    "FaMassAdditions": ("book_type_code", "feeder_system_name"),
    "Worker": ("source_system_owner", "legal_employer_name", "business_unit"),
}
FUSION_OBJECTS = tuple(OBJECT_SETTINGS)
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def source_phi_modes(source: str) -> tuple[str, ...]:
    """The PHI modes a source's models implement; others are refused at load, never ignored.
    safe_harbor surrogates come from a restricted map built only for the identifiers of the
    sources the catalog marks `safe_harbor`."""
    if catalog.source(source).safe_harbor:
        return PHI_MODES
    return tuple(mode for mode in PHI_MODES if mode != "safe_harbor")


class ConfigError(Exception):
    """A configuration mistake: names the key path, what was found and what is allowed."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class FusionTarget:
    """The Fusion object a domain produces and its settings (None where the object takes none:
    OBJECT_SETTINGS lists what each requires)."""

    object: str
    release: str
    ledger_id: int | None = None  # GlInterface
    ledger_name: str | None = None
    business_unit: str | None = None  # GlInterface (optional), Worker
    journal_source: str | None = None
    journal_category: str | None = None
    source_code: str | None = None  # InvTransactionsInterface: SOURCE_CODE
    book_type_code: str | None = None  # FaMassAdditions: the asset book
    feeder_system_name: str | None = None
    source_system_owner: str | None = None  # Worker: HDL SourceSystemOwner
    legal_employer_name: str | None = None

    @property
    def is_gl(self) -> bool:
        return self.object == "GlInterface"


@dataclass(frozen=True)
class Disclosure:
    """What the accounting of disclosures records for this domain's PHI reads."""

    purpose: str
    recipient: str


@dataclass(frozen=True)
class Domain:
    name: str
    enabled: bool
    source: str
    endpoint: str
    cadence: str
    run_at: time | None  # daily and monthly: time of day in the tenant's timezone
    month_day: int | None  # monthly: day of month the run becomes due (after period close)
    phi_mode: str
    phi_direct_authorisation: str | None  # required reference when phi_mode is direct
    disclosure: Disclosure
    fusion: FusionTarget | None  # None: the domain lands and models its data only
    practices: tuple[str, ...] = ()  # a multi-practice source: the practices to extract


@dataclass(frozen=True)
class Stream:
    name: str
    domains: dict[str, Domain]


@dataclass(frozen=True)
class WarehouseSettings:
    kind: str
    path: Path | None


@dataclass(frozen=True)
class SyslogSettings:
    host: str
    port: int
    protocol: str
    ca_file: Path | None


@dataclass(frozen=True)
class AuditSettings:
    principal: str  # the service principal recorded on each disclosure
    mirror_file: Path  # append-only copy of the disclosure log, outside the warehouse
    syslog: SyslogSettings | None


@dataclass(frozen=True)
class Tenant:
    name: str
    timezone: ZoneInfo
    warehouse: WarehouseSettings
    endpoints_file: Path
    audit: AuditSettings
    streams: dict[str, Stream]


@dataclass(frozen=True)
class Config:
    path: Path
    work_dir: Path
    outbox_dir: Path
    dead_letter_dir: Path
    audit_dir: Path
    metrics_dir: Path  # Prometheus textfile-collector folder for batch runs
    pushgateway: str | None
    tenants: dict[str, Tenant]
    dbt_project_dir: Path | None = None  # a deployment's own copy of the dbt project and seeds

    def tenant(self, name: str) -> Tenant:
        """Find one tenant, or raise ConfigError listing the configured ones."""
        return _pick(self.tenants, name, "tenants")

    def domain(self, tenant: str, stream: str, domain: str) -> tuple[Tenant, Stream, Domain]:
        """Find one domain, or raise ConfigError naming the missing level and what exists."""
        t = _pick(self.tenants, tenant, "tenants")
        s = _pick(t.streams, stream, f"tenants.{tenant}.streams")
        d = _pick(s.domains, domain, f"tenants.{tenant}.streams.{stream}.domains")
        return t, s, d


def _pick(items: dict, name: str, path: str):
    if name not in items:
        raise ConfigError(f"{path}.{name}", f"not configured; configured: {_list(items)}")
    return items[name]


def _list(values) -> str:
    return ", ".join(sorted(values)) or "(none)"


class _Reader:
    """Reads one mapping, tracking which keys were used so leftovers are reported."""

    def __init__(self, data: Any, path: str):
        if not isinstance(data, dict):
            raise ConfigError(path, f"expected a mapping, found {type(data).__name__}")
        self.data = data
        self.path = path
        self.allowed: list[str] = []

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: type, default: Any = ..., choices=None) -> Any:
        self.allowed.append(key)
        if key not in self.data:
            if default is ...:
                raise ConfigError(self._at(key), "required key is missing")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(self._at(key), f"expected {kind.__name__}, found {value!r}")
        if choices is not None and value not in choices:
            raise ConfigError(self._at(key), f"{value!r} is not one of: {', '.join(choices)}")
        return value

    def mapping(self, key: str) -> _Reader:
        return _Reader(self.get(key, dict), self._at(key))

    def named_children(self, key: str) -> dict[str, _Reader]:
        children = self.mapping(key)
        if not children.data:
            raise ConfigError(children.path, "must configure at least one entry")
        out = {}
        for name, body in children.data.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise ConfigError(
                    f"{children.path}.{name}",
                    "names must be lower-case letters, digits and _, starting with a letter",
                )
            out[name] = _Reader(body, f"{children.path}.{name}")
        return out

    def done(self) -> None:
        for key in self.data:
            if key not in self.allowed:
                raise ConfigError(
                    self._at(str(key)), f"unknown key; allowed here: {_list(set(self.allowed))}"
                )


def _fusion(domain: _Reader, source: str) -> FusionTarget | None:
    """The domain's Fusion block: the objects its source's catalog entry feeds; left out, the
    domain lands and models its data (where the catalog gives the source a landing target)."""
    entry = catalog.source(source)
    if not entry.targets:
        if "fusion" in domain.data:
            raise ConfigError(
                f"{domain.path}.fusion",
                f"{source} has no Fusion mart yet; remove the block (the domain lands and models "
                "its data)",
            )
        return None
    if entry.landing is not None and "fusion" not in domain.data:
        return None
    r = domain.mapping("fusion")
    obj = r.get("object", str, choices=tuple(entry.targets))
    settings = {
        name: r.get(name, int if name == "ledger_id" else str) for name in OBJECT_SETTINGS[obj]
    }
    if obj == "GlInterface":
        settings["business_unit"] = r.get("business_unit", str, default=None)
    release = r.get("release", str)
    _check_release(r._at("release"), release, obj)
    target = FusionTarget(object=obj, release=release, **settings)
    r.done()
    return target


def _check_release(key: str, release: str, fusion_object: str) -> None:
    """Refuse a release the shipped format specs cannot write `fusion_object` for (a release
    without its own folder takes the newest earlier release's spec)."""
    try:
        resolve_release(release, fusion_object)
    except FormatSpecError:
        shipped = ", ".join(available_releases())
        raise ConfigError(
            key,
            f"no format spec of {fusion_object} for release {release!r} (nor an earlier one); "
            f"releases shipped: {shipped}",
        ) from None


def _time_of_day(r: _Reader, key: str) -> time | None:
    text = r.get(key, str, default=None)
    if text is None:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{r.path}.{key}", f'{text!r} is not a time of day like "02:30"'
        ) from None


def _schedule(r: _Reader, cadence: str) -> tuple[time | None, int | None]:
    run_at = _time_of_day(r, "run_at")
    month_day = r.get("month_day", int, default=None)
    if cadence in ("daily", "monthly") and run_at is None:
        raise ConfigError(f"{r.path}.run_at", f'required for cadence {cadence} (e.g. "02:30")')
    if cadence not in ("daily", "monthly") and run_at is not None:
        raise ConfigError(f"{r.path}.run_at", "only daily and monthly cadences take a time of day")
    if cadence == "monthly" and month_day is None:
        raise ConfigError(f"{r.path}.month_day", "required for cadence monthly (1-28)")
    if month_day is not None and (cadence != "monthly" or not 1 <= month_day <= 28):
        raise ConfigError(f"{r.path}.month_day", "only monthly cadences take it, as 1-28")
    return run_at, month_day


def _domain(name: str, r: _Reader) -> Domain:
    source = r.get("source", str, choices=tuple(catalog.SOURCES))
    phi_mode = r.get("phi_mode", str, choices=PHI_MODES)
    if phi_mode not in source_phi_modes(source):
        raise ConfigError(
            f"{r.path}.phi_mode",
            f"{phi_mode!r} is not available for {source}; available: "
            f"{', '.join(source_phi_modes(source))}",
        )
    authorisation = r.get("phi_direct_authorisation", str, default=None)
    if phi_mode == "direct" and not authorisation:
        raise ConfigError(
            f"{r.path}.phi_direct_authorisation",
            "phi_mode direct sends identifiers as they are: name the authorisation "
            "(BAA or data use agreement reference) that allows it",
        )
    cadence = r.get("cadence", str, choices=CADENCES)
    run_at, month_day = _schedule(r, cadence)
    fusion = _fusion(r, source)
    d = r.mapping("disclosure") if "disclosure" in r.data else _Reader({}, f"{r.path}.disclosure")
    r.allowed.append("disclosure")
    recipient = _recipient(fusion)
    disclosure = Disclosure(
        purpose=d.get("purpose", str, default="payment and health care operations"),
        recipient=d.get("recipient", str, default=recipient),
    )
    d.done()
    domain = Domain(
        name=name,
        enabled=r.get("enabled", bool, default=True),
        source=source,
        endpoint=r.get("endpoint", str),
        cadence=cadence,
        run_at=run_at,
        month_day=month_day,
        phi_mode=phi_mode,
        phi_direct_authorisation=authorisation,
        disclosure=disclosure,
        fusion=fusion,
        practices=_practices(r, source),
    )
    r.done()
    return domain


def _recipient(fusion: FusionTarget | None) -> str:
    if fusion is None:
        return "ehrfusion warehouse"
    if fusion.is_gl:
        return f"Oracle Fusion Cloud ({fusion.ledger_name})"
    return f"Oracle Fusion Cloud ({fusion.object})"


def _practices(r: _Reader, source: str) -> tuple[str, ...]:
    """The practices of a multi-practice source (the catalog says which sources have them)."""
    if not catalog.source(source).practices:
        if "practices" in r.data:
            with_practices = [s.name for s in catalog.SOURCES.values() if s.practices]
            raise ConfigError(
                f"{r.path}.practices",
                f"only for sources with practices ({', '.join(with_practices)}), not {source}",
            )
        return ()
    practices = r.get("practices", list)
    if not practices or not all(isinstance(p, str) and _NAME.match(p) for p in practices):
        raise ConfigError(
            f"{r.path}.practices",
            "list the Practice Fusion practice ids to extract, e.g. [pf1001, pf1002]",
        )
    return tuple(practices)


def _stream(name: str, r: _Reader) -> Stream:
    domains = {n: _domain(n, body) for n, body in r.named_children("domains").items()}
    r.done()
    return Stream(name=name, domains=domains)


def _check_one_instance_per_source(streams: dict[str, Stream], path: str) -> None:
    # A tenant's warehouse holds one landing area and one lineage per source system, so two
    # streams reading the same kind of source would mix their rows. Within its stream a source
    # may feed several domains, one per Fusion object, each landing its own tables.
    seen: dict[tuple[str, str | None], str] = {}
    stream_of: dict[str, str] = {}
    for stream in streams.values():
        for domain in stream.domains.values():
            where = f"{path}.streams.{stream.name}.domains.{domain.name}.source"
            if stream_of.setdefault(domain.source, stream.name) != stream.name:
                raise ConfigError(
                    where,
                    f"{domain.source} is already configured in stream {stream_of[domain.source]}; "
                    "a tenant holds one instance of each source, in one stream (put another "
                    "instance in its own tenant)",
                )
            target = domain.fusion.object if domain.fusion else None
            if (domain.source, target) in seen:
                raise ConfigError(
                    where,
                    f"{domain.source} already feeds "
                    f"{target or 'a landing domain'} at {seen[(domain.source, target)]}; "
                    "each Fusion object of a source has one domain",
                )
            seen[(domain.source, target)] = where


def _timezone(r: _Reader) -> ZoneInfo:
    name = r.get("timezone", str, default="UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{r.path}.timezone", f"{name!r} is not an IANA time zone") from None


def _audit(r: _Reader, name: str, base: Path, audit_dir: Path) -> AuditSettings:
    a = r.mapping("audit") if "audit" in r.data else _Reader({}, f"{r.path}.audit")
    r.allowed.append("audit")
    mirror = a.get("mirror_file", str, default=None)
    syslog = None
    if "syslog" in a.data:
        s = a.mapping("syslog")
        ca_file = s.get("ca_file", str, default=None)
        syslog = SyslogSettings(
            host=s.get("host", str),
            port=s.get("port", int),
            protocol=s.get("protocol", str, choices=SYSLOG_PROTOCOLS),
            ca_file=base / ca_file if ca_file else None,
        )
        s.done()
    else:
        a.allowed.append("syslog")
    settings = AuditSettings(
        principal=a.get("principal", str, default="ehrfusion"),
        mirror_file=base / mirror if mirror else audit_dir / f"{name}.disclosures.jsonl",
        syslog=syslog,
    )
    a.done()
    return settings


def _tenant(name: str, r: _Reader, base: Path, audit_dir: Path) -> Tenant:
    w = r.mapping("warehouse")
    kind = w.get("kind", str, choices=WAREHOUSE_KINDS)
    path = w.get("path", str, default=None)
    if kind == "duckdb" and path is None:
        raise ConfigError(f"{w.path}.path", "required for kind duckdb (the warehouse file)")
    w.done()
    streams = {n: _stream(n, body) for n, body in r.named_children("streams").items()}
    _check_one_instance_per_source(streams, r.path)
    tenant = Tenant(
        name=name,
        timezone=_timezone(r),
        warehouse=WarehouseSettings(kind=kind, path=base / path if path else None),
        endpoints_file=base / r.get("endpoints_file", str),
        audit=_audit(r, name, base, audit_dir),
        streams=streams,
    )
    r.done()
    return tenant


def parse_config(data: Any, path: Path) -> Config:
    """Validate a parsed YAML document; relative paths resolve against the file's folder."""
    base = path.parent.resolve()
    r = _Reader(data, "")
    version = r.get("version", int)
    if version != 1:
        raise ConfigError("version", f"{version} is not supported; this release reads version 1")
    p = r.mapping("paths")
    audit_dir = base / p.get("audit", str, default="audit")
    m = r.mapping("metrics") if "metrics" in r.data else _Reader({}, "metrics")
    r.allowed.append("metrics")
    config = Config(
        path=path,
        work_dir=base / p.get("work_dir", str),
        outbox_dir=base / p.get("outbox", str),
        dead_letter_dir=base / p.get("dead_letter", str),
        audit_dir=audit_dir,
        metrics_dir=base / p.get("metrics", str, default="metrics"),
        pushgateway=m.get("pushgateway", str, default=None),
        tenants={
            n: _tenant(n, body, base, audit_dir) for n, body in r.named_children("tenants").items()
        },
        dbt_project_dir=_dbt_project(p, base),
    )
    m.done()
    p.done()
    r.done()
    return config


def _dbt_project(p: _Reader, base: Path) -> Path | None:
    project = p.get("dbt_project", str, default=None)
    if project is None:
        return None
    folder = (base / project).resolve()
    if not (folder / "dbt_project.yml").is_file():
        raise ConfigError(
            f"{p.path}.dbt_project",
            f"{folder} holds no dbt_project.yml; point it at a copy of the shipped dbt_project/ "
            "(with its seeds/ beside it) or remove the key to use the shipped project",
        )
    return folder


def load_config(path: Path) -> Config:
    """Read and validate the config file at `path`."""
    if not path.is_file():
        raise ConfigError(str(path), "config file not found; pass --config or create ehrfusion.yml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"not valid YAML: {exc}") from None
    return parse_config(data, path)

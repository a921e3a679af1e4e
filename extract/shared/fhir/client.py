"""The one FHIR R4 client of every FHIR source: search, paging and incremental reads.

A `FhirClient` reads one tenant's FHIR base URL through a SMART backend session
(`extract.shared.fhir.auth`): every attempt is paced by the caller's token bucket
(`extract.shared.rate_limit`) and retried per the one retry policy (`runtime.core.http`).

- `pages()` follows a search's `link[next]` from page to page. A next link to another
  scheme, host or port than the base URL is never followed (the token would go with it):
  `ForeignNextLink` is raised after the pages before it were handed over, so they are kept.
- Each entry's resource is validated against FHIR R4 (`validation.validate_r4`); an invalid
  one is handed over as `Rejected` (the caller sends it to the dead-letter store) and the rest
  of its Bundle goes on.
- `read_changes()` is the incremental read: `_lastUpdated=ge<cursor - overlap>`, so a change
  committed late with a stamp a little before the cursor is still found. The new cursor is
  the largest `meta.lastUpdated` seen; the versions seen within the overlap window before it
  are remembered in the cursor, so reading them again is no change. Duplicates are collapsed
  by id and `meta.versionId`. A read that stops early keeps what it read and its cursor stays
  where it was. A token the server refuses raises `TokenError` (a credential to fix, not a
  partial read).

Errors name the resource type and the HTTP status, never a resource's content.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from extract.shared.fhir.auth import BackendClient, SmartBackendSession, smart_backend_session
from extract.shared.fhir.validation import InvalidResource, validate_r4
from extract.shared.rate_limit import MeteredAttempts, TokenBucket
from runtime.core.http import Observer, RetryPolicy

PAGE_SIZE = 100
OVERLAP = timedelta(minutes=5)
STAMP = "%Y-%m-%dT%H:%M:%SZ"
ACCEPT = {"Accept": "application/fhir+json"}


class FhirError(RuntimeError):
    """A FHIR call failed (after the retry policy gave up); `status` is None without answer."""

    def __init__(self, operation: str, status: int | None, detail: str = "") -> None:
        self.operation = operation
        self.status = status
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"FHIR {operation} failed: {where}" + (f" ({detail})" if detail else ""))


class ForeignNextLink(FhirError):
    """A searchset's next link points to another host; it was not followed."""

    def __init__(self, operation: str, host: str) -> None:
        super().__init__(operation, None, f"the next link points to another host ({host})")
        self.host = host


@dataclass(frozen=True)
class Rejected:
    """An entry that is not a valid R4 resource: its error, and the entry as received."""

    error: InvalidResource
    resource: Any = field(repr=False)


@dataclass(frozen=True)
class Page:
    """One searchset page: its valid resources and its rejected entries."""

    resources: list[dict[str, Any]]
    rejected: list[Rejected]


@dataclass(frozen=True)
class Cursor:
    """Where an incremental read of one resource type stands: the largest `meta.lastUpdated`
    seen, and the versions (`id/versionId`) stamped within the overlap window before it."""

    last_updated: str | None = None
    recent: frozenset[str] = frozenset()

    def to_state(self) -> dict[str, Any]:
        """A JSON-able form, for dlt state."""
        return {"last_updated": self.last_updated, "recent": sorted(self.recent)}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> Cursor:
        if not state:
            return cls()
        return cls(state.get("last_updated"), frozenset(state.get("recent") or ()))


@dataclass(frozen=True)
class Changes:
    """What one incremental read found: new versions (by `meta.lastUpdated`), rejected
    entries, the cursor to save with them, and the error that stopped it early, if any."""

    resources: list[dict[str, Any]]
    rejected: list[Rejected]
    cursor: Cursor
    error: FhirError | None = None

    @property
    def complete(self) -> bool:
        return self.error is None


class FhirClient(MeteredAttempts):
    """One tenant's FHIR R4 API (its base URL), paced by `limiter` (None: unpaced)."""

    def __init__(
        self,
        base_url: str,
        token_url: str,
        client: BackendClient,
        scopes: Iterable[str],
        limiter: TokenBucket | None = None,
        policy: RetryPolicy | None = None,
        observer: Observer | None = None,
        timeout: float = 30.0,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], float] | None = None,
        **adapter_options,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.timeout = timeout
        self._bucket = limiter
        self._origin = _origin(self.base_url)
        clocks = {"clock": clock} if clock is not None else {}
        self.session: SmartBackendSession = smart_backend_session(
            token_url,
            client,
            scopes,
            policy,
            observer,
            limiter=self._before_attempt,
            timeout=timeout,
            **clocks,
            **adapter_options,
        )

    def pages(self, resource_type: str, params: dict[str, str] | None = None) -> Iterator[Page]:
        """Every page of a search, following `link[next]` on the base URL's host only."""
        operation = f"{resource_type} search"
        url = f"{self.base_url}/{resource_type}"
        query: dict[str, Any] | None = {"_count": self.page_size} | (params or {})
        while url:
            bundle = self._get(url, query, operation)
            yield _page(bundle, operation)
            url, query = _next_link(bundle, url), None
            if url and _origin(url) != self._origin:
                raise ForeignNextLink(operation, urlsplit(url).netloc)

    def _get(self, url: str, query: dict[str, Any] | None, operation: str) -> Any:
        try:
            response = self.session.get(url, params=query, headers=ACCEPT, timeout=self.timeout)
        except requests.RequestException:
            raise FhirError(operation, None) from None
        if response.status_code != 200:
            raise FhirError(operation, response.status_code)
        try:
            return json.loads(response.content)
        except ValueError:
            raise FhirError(operation, 200, "the answer is not JSON") from None

    def read_changes(
        self, resource_type: str, cursor: Cursor | None = None, overlap: timedelta = OVERLAP
    ) -> Changes:
        """The versions changed since `cursor` (all, without one), with the cursor after them."""
        cursor = cursor or Cursor()
        params = {}
        if cursor.last_updated is not None:
            since = parse_instant(cursor.last_updated) - overlap
            params["_lastUpdated"] = "ge" + since.strftime(STAMP)
        resources: list[dict[str, Any]] = []
        rejected: list[Rejected] = []
        seen = set(cursor.recent)
        stamps: dict[str, datetime] = {}
        try:
            for page in self.pages(resource_type, params):
                for resource in page.resources:
                    key = _version_key(resource)
                    if key not in seen:
                        seen.add(key)
                        resources.append(resource)
                        stamps[key] = parse_instant(resource["meta"]["lastUpdated"])
                for entry in page.rejected:
                    key = _version_key(entry.resource)
                    stamp = _maybe_instant(entry.resource)
                    if key is None or key not in seen:
                        rejected.append(entry)
                    if key is not None and stamp is not None:
                        seen.add(key)
                        stamps[key] = stamp
        except FhirError as exc:
            return Changes(resources, rejected, cursor, exc)
        return Changes(resources, rejected, _advance(cursor, stamps, overlap))


def _advance(cursor: Cursor, stamps: dict[str, datetime], overlap: timedelta) -> Cursor:
    """The cursor after a complete read: the largest stamp, and the versions within the
    overlap window before it (earlier ones fall out of the window the next read asks for)."""
    if cursor.last_updated is not None:
        previous = parse_instant(cursor.last_updated)
        stamps = stamps | {k: previous for k in cursor.recent if k not in stamps}
    if not stamps:
        return cursor
    newest = max(stamps.values())
    recent = frozenset(k for k, s in stamps.items() if s >= newest - overlap)
    return Cursor(newest.strftime(STAMP), recent)


def _page(bundle: Any, operation: str) -> Page:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError(operation, 200, "the answer is not a Bundle")
    if bundle.get("type") != "searchset":
        raise FhirError(operation, 200, "the Bundle is not a searchset")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirError(operation, 200, "Bundle.entry is not an array")
    resources, rejected = [], []
    for index, entry in enumerate(entries):
        search = entry.get("search") if isinstance(entry, dict) else None
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue  # an OperationOutcome about the search, not a match
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if resource is None:
            problem = InvalidResource("(none)", "-", [f"entry[{index}]: no resource"])
            rejected.append(Rejected(problem, entry))
            continue
        try:
            validate_r4(resource)
            if "id" not in resource or _maybe_instant(resource) is None:
                problem = "a search result needs an id and meta.lastUpdated"
                raise InvalidResource(resource["resourceType"], resource.get("id", "-"), [problem])
        except InvalidResource as exc:
            rejected.append(Rejected(exc, resource))
            continue
        resources.append(resource)
    return Page(resources, rejected)


def _next_link(bundle: dict[str, Any], url: str) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return urljoin(url, str(link["url"]))
    return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _version_key(resource: Any) -> str | None:
    """`id/versionId` (or `id/@lastUpdated` where the server gives no version id)."""
    if not isinstance(resource, dict) or not isinstance(resource.get("id"), str):
        return None
    meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
    version = meta.get("versionId")
    return f"{resource['id']}/{version if version else '@' + str(meta.get('lastUpdated'))}"


def parse_instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("an instant needs a time zone")
    return moment.astimezone(UTC)


def _maybe_instant(resource: Any) -> datetime | None:
    try:
        return parse_instant(resource["meta"]["lastUpdated"])
    except (KeyError, TypeError, ValueError):
        return None

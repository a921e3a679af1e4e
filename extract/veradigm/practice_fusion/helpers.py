"""Helpers of the Practice Fusion source: one practice's API client (OAuth2 client credentials,
paced by its token bucket before every attempt and retry) and the paging of every table of
one practice, for the threads the source runs one per practice."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import requests

from extract.shared.oauth import client_credentials_session
from extract.shared.rate_limit import MeteredAttempts, TokenBucket
from extract.veradigm.helpers import ContractError
from extract.veradigm.practice_fusion.settings import PAGE_SIZE, TABLES, TOKEN_PATH
from runtime.core.http import Observer, RetryPolicy


@dataclass(frozen=True)
class PracticeCredentials:
    """One practice's OAuth2 client."""

    practice_id: str
    client_id: str
    client_secret: str = field(repr=False)


class PracticeFusionError(RuntimeError):
    """A call failed after the retry policy gave up; `status` is None without an answer."""

    def __init__(self, operation: str, status: int | None) -> None:
        self.status = status
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"Practice Fusion {operation} failed: {where}")


@dataclass(frozen=True)
class Page:
    """One delta page: its records, the cursor after it, and whether more follow."""

    items: list
    next_cursor: str
    has_more: bool


class PracticeFusionClient(MeteredAttempts):
    """One practice's API, paced by `limiter` (a token bucket's acquire; None: unpaced)."""

    def __init__(
        self,
        base_url: str,
        credentials: PracticeCredentials,
        limiter: TokenBucket | None = None,
        policy: RetryPolicy | None = None,
        observer: Observer | None = None,
        timeout: float = 30.0,
        **adapter_options,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.practice_id = credentials.practice_id
        self.timeout = timeout
        self._bucket = limiter
        self.session = client_credentials_session(
            self.base_url,
            TOKEN_PATH,
            credentials.client_id,
            credentials.client_secret,
            policy,
            observer,
            limiter=self._before_attempt,
            timeout=timeout,
            **adapter_options,
        )

    def delta(self, entity: str, cursor: str | None, limit: int = PAGE_SIZE) -> Page:
        """One page of `entity` changes after `cursor` (None: from the beginning)."""
        operation = f"{entity} delta"
        url = f"{self.base_url}/api/v1/practices/{self.practice_id}/{entity}/delta"
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException:
            raise PracticeFusionError(operation, None) from None
        if response.status_code != 200:
            raise PracticeFusionError(operation, response.status_code)
        return _page(response.content)

    def pages(self, entity: str, cursor: str | None, limit: int = PAGE_SIZE) -> Iterator[Page]:
        """Every page from `cursor` to the end of the changes."""
        while True:
            page = self.delta(entity, cursor, limit)
            yield page
            if not page.has_more:
                return
            cursor = page.next_cursor


def _page(body: bytes) -> Page:
    try:
        document = json.loads(body)
    except ValueError:
        raise ContractError("malformed_response", "the answer is not JSON", body) from None
    if not isinstance(document, dict):
        raise ContractError("malformed_response", "the answer is not a JSON object", body)
    items, cursor, more = (document.get(k) for k in ("items", "next_cursor", "has_more"))
    if not isinstance(items, list) or not isinstance(more, bool):
        raise ContractError("malformed_response", "items or has_more missing or mistyped", body)
    if not isinstance(cursor, str) or not cursor:
        raise ContractError("malformed_response", "next_cursor is missing or empty", body)
    return Page(items, cursor, more)


@dataclass(frozen=True)
class Fetched:
    """What a practice's thread hands the loader: a page of a table, or why the table or
    the practice stopped."""

    client: PracticeFusionClient
    entity: str
    page: Page | None = None
    failure: Exception | None = None


DONE = object()  # a practice's thread is finished


def fetch_practice(
    client: PracticeFusionClient,
    cursors: dict[str, str | None],
    page_size: int,
    put: Callable[[Fetched], bool],
) -> None:
    """Page through every table of one practice until `put` refuses. A contract breach ends
    that table; any other failure ends the practice (the loader re-raises what is not an API
    failure)."""
    for entity in TABLES:
        try:
            for page in client.pages(entity, cursors[entity], page_size):
                if not put(Fetched(client, entity, page)):
                    return
        except ContractError as exc:
            if not put(Fetched(client, entity, failure=exc)):
                return
        except Exception as exc:
            put(Fetched(client, entity, failure=exc))
            return

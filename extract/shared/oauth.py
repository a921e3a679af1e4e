"""OAuth2 client-credentials sessions that reuse their token until shortly before it expires.

`client_credentials_session` gives a requests session (requests-oauthlib's `OAuth2Session`
with a `BackendApplicationClient`) whose every request, the token request included, goes
through the product's retry policy and the caller's rate limiter. A token is fetched on first
use, reused while more than a tenth of its lifetime (at most `REFRESH_BEFORE` seconds) is left,
then fetched again; a 401 fetches a new one once and repeats the request (the server may end a
token early). Errors name the status, never a secret or a body.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import requests
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from runtime.core.http import Observer, RetryPolicy, plain_http_on_loopback, retrying_session

REFRESH_BEFORE = 60.0


class TokenError(RuntimeError):
    """The token endpoint refused or could not be reached; `status` is None without an answer."""

    def __init__(self, status: int | None, detail: str) -> None:
        self.status = status
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"OAuth2 token request failed: {where} ({detail})")


class ClientCredentialsSession(OAuth2Session):
    """An OAuth2Session for one confidential client; use `client_credentials_session`."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(client=BackendApplicationClient(client_id=client_id))
        self.token_url = token_url
        self.timeout = timeout
        self.clock = clock
        self.tokens_fetched = 0
        self._auth = HTTPBasicAuth(client_id, client_secret)
        self._refresh_at = 0.0

    def request(self, method, url, *args, **kwargs) -> requests.Response:  # type: ignore[override]
        """Send with a fresh enough token; on a 401, fetch a new token once and send again."""
        if url == self.token_url:  # fetch_token's own request
            return super().request(method, url, *args, **kwargs)
        if not self.token or self.clock() >= self._refresh_at:
            self.fetch()
        response = super().request(method, url, *args, **kwargs)
        if response.status_code == 401:
            response.close()
            self.fetch()
            response = super().request(method, url, *args, **kwargs)
        return response

    def fetch(self) -> None:
        """Fetch a new access token (client credentials grant, client authenticated by Basic)."""
        started = self.clock()
        try:
            token = self.fetch_token(self.token_url, auth=self._auth, timeout=self.timeout)
        except OAuth2Error as exc:
            raise TokenError(exc.status_code, exc.error) from None
        except requests.RequestException as exc:
            raise TokenError(None, type(exc).__name__) from None
        self.tokens_fetched += 1
        lifetime = float(token.get("expires_in") or 0)
        self._refresh_at = started + lifetime - min(REFRESH_BEFORE, lifetime / 10)


def client_credentials_session(
    base_url: str,
    token_path: str,
    client_id: str,
    client_secret: str,
    policy: RetryPolicy | None = None,
    observer: Observer | None = None,
    limiter: Callable[[], object] | None = None,
    timeout: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    **adapter_options,
) -> ClientCredentialsSession:
    """A retrying, rate-limited client-credentials session for `base_url` (https, or plain
    http on loopback for the sandbox). `adapter_options` go to runtime.core.http's RetryAdapter
    (sleep, draw) for tests."""
    _allow_plain_http_on_loopback(base_url)
    token_url = base_url.rstrip("/") + token_path
    session = ClientCredentialsSession(token_url, client_id, client_secret, timeout, clock)
    retrying_session(
        session,
        policy,
        observer,
        safe_post=lambda request: request.url == token_url,
        limiter=limiter,
        clock=clock,
        **adapter_options,
    )
    return session


def _allow_plain_http_on_loopback(base_url: str) -> None:
    """oauthlib refuses plain http; the sandbox serves it on loopback only, so allow exactly
    that. Anything else must use https."""
    if plain_http_on_loopback(base_url, "OAuth2"):
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

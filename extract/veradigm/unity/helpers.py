"""Helpers of the Unity source: one Unity login's client (security token, Magic JSON reads,
paced by the organisation's token bucket through runtime.core.http's retry policy) and the checks
of Magic answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from extract.shared.rate_limit import MeteredAttempts, TokenBucket
from extract.veradigm.helpers import STAMP, ContractError
from extract.veradigm.unity.settings import JSON_API, LOGGED_OUT
from runtime.core.http import Observer, RetryPolicy, retrying_session


@dataclass(frozen=True)
class UnityCredentials:
    """A Unity application login and the EHR user it acts as (`AppUserID`)."""

    appname: str
    username: str
    app_user: str
    password: str = field(repr=False)


class UnityError(RuntimeError):
    """A Unity call failed; the message names the call and the HTTP status or Magic error
    kind, never Unity's error text (it can quote a record)."""

    def __init__(self, operation: str, detail: str) -> None:
        super().__init__(f"Unity {operation} failed: {detail}")


class UnityClient(MeteredAttempts):
    """One Unity login, paced by `limiter`; the security token is fetched on first use."""

    def __init__(
        self,
        base_url: str,
        credentials: UnityCredentials,
        limiter: TokenBucket | None = None,
        policy: RetryPolicy | None = None,
        observer: Observer | None = None,
        timeout: float = 60.0,
        **adapter_options,
    ) -> None:
        self.base_url = base_url.rstrip("/") + JSON_API
        self.credentials = credentials
        self.timeout = timeout
        self.tokens_fetched = 0
        self._bucket = limiter
        self._token: str | None = None
        # Only GetToken, Magic reads and RetireSecurityToken are sent: all safe to repeat.
        self.session = retrying_session(
            policy=policy,
            observer=observer,
            safe_post=lambda _: True,
            limiter=self._before_attempt,
            **adapter_options,
        )

    def _post(self, operation: str, body: dict[str, Any]) -> requests.Response:
        try:
            response = self.session.post(
                f"{self.base_url}/{operation}", json=body, timeout=self.timeout
            )
        except requests.RequestException:
            raise UnityError(operation, "no answer") from None
        if response.status_code != 200:
            raise UnityError(operation, f"HTTP {response.status_code}")
        return response

    def fetch_token(self) -> None:
        """GetToken: a new security token for the login."""
        c = self.credentials
        body = {"Username": c.username, "Password": c.password, "Appname": c.appname}
        token = self._post("GetToken", body).text.strip()
        if not token or token.lower().startswith("error:"):
            raise UnityError("GetToken", "credentials refused")
        self._token = token
        self.tokens_fetched += 1

    def retire_token(self) -> None:
        """RetireSecurityToken, when a token is held."""
        if self._token is not None:
            body = {"Token": self._token, "Appname": self.credentials.appname}
            self._post("RetireSecurityToken", body)
            self._token = None

    def changed_since(self, action: str, since: datetime) -> Any:
        """The rows `action` reports changed at or after `since`."""
        if self._token is None:
            self.fetch_token()
        body = self._magic(action, since)
        document = _document(body)
        if _logged_out(document):
            self.fetch_token()
            body = self._magic(action, since)
            document = _document(body)
        return _rows(action, document, body)

    def _magic(self, action: str, since: datetime) -> bytes:
        c = self.credentials
        parameters = {f"Parameter{n}": "" for n in range(2, 7)}
        body = {"Action": action, "AppUserID": c.app_user, "Appname": c.appname,
                "PatientID": "", "Token": self._token, "Parameter1": since.strftime(STAMP),
                **parameters, "Data": ""}  # fmt: skip
        return self._post("MagicJson", body).content


def _document(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise ContractError("malformed_response", "the answer is not JSON", body) from None


def _logged_out(document: Any) -> bool:
    error = _error(document)
    return error is not None and LOGGED_OUT in error


def _error(document: Any) -> str | None:
    if isinstance(document, list) and document and isinstance(document[0], dict):
        error = document[0].get("Error")
        return error if isinstance(error, str) else None
    return None


def _rows(action: str, document: Any, body: bytes) -> Any:
    if _error(document) is not None:
        raise UnityError(action, "Magic error")
    info = f"{action.lower()}info"
    if not (isinstance(document, list) and len(document) == 1 and isinstance(document[0], dict)):
        raise ContractError("malformed_response", "the answer is not a one-element array", body)
    if info not in document[0]:
        raise ContractError("malformed_response", f"the answer has no {info}", body)
    return document[0][info]

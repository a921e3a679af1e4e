"""REST conventions every simulated resource shares (docs/fusion_contract.md): routes with path
parameters, error bodies, collection paging (limit/offset/hasMore/count, totalResults on
request), `q=` filters (`=` and LIKE, `;` for AND) and `finder=Name;key=value,...` arguments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from sandbox.server import Request, Response, json_response

DEFAULT_LIMIT, MAX_LIMIT = 25, 500
_Q_TERM = re.compile(
    r"^\s*(\w+)(?:\s*(=)\s*|\s+(like)\s+)(?:'((?:[^']|'')*)'|([^';]*?))\s*$", re.IGNORECASE
)

Handler = Callable[..., Response]


class RestError(Exception):
    """Raised by a handler to answer with a Fusion-style error body."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail

    def response(self) -> Response:
        """The error as an HTTP answer."""
        return error(self.status, self.title, self.detail)


def bad_request(detail: str) -> RestError:
    """A 400 naming what is wrong with the request."""
    return RestError(400, "Bad Request", detail)


def not_found(detail: str) -> RestError:
    """A 404 naming what was not found."""
    return RestError(404, "Not Found", detail)


def error(status: int, title: str, detail: str) -> Response:
    """`{"title": ..., "detail": ...}` with the status."""
    return json_response({"title": title, "detail": detail}, status)


@dataclass(frozen=True)
class Route:
    """A path pattern and its handlers by HTTP method."""

    pattern: re.Pattern[str]
    handlers: Mapping[str, Handler]


def route(template: str, **handlers: Handler) -> Route:
    """A route for `template` (`/workers/{person_id}`) with handlers by method (GET=..., ...).

    Handlers receive the request and the path parameters as keyword arguments.
    """
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
    )
    return Route(re.compile(regex), handlers)


def match(routes: list[Route], path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving `path` and its decoded path parameters."""
    for candidate in routes:
        found = candidate.pattern.fullmatch(path)
        if found:
            return candidate, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


def call(matched: Route, params: dict[str, str], request: Request) -> Response:
    """Run the route's handler for the request's method; RestError becomes its answer."""
    handler = matched.handlers.get(request.method)
    if handler is None:
        return error(405, "Method Not Allowed", f"use {' or '.join(matched.handlers)}")
    try:
        return handler(request, **params)
    except RestError as exc:
        return exc.response()


def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400."""
    try:
        body = request.json()
    except ValueError:
        raise bad_request("the body is not JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def finder(request: Request) -> tuple[str, dict[str, str]]:
    """Split `finder=Name;key=value,key=value` into the name and its arguments."""
    name, _, rest = request.query.get("finder", [""])[0].partition(";")
    args: dict[str, str] = {}
    last = None
    for part in rest.split(","):
        key, sep, value = part.partition("=")
        if sep:
            last = key.strip()
            args[last] = value
        elif last is not None:  # a comma inside a value, e.g. a ledger name
            args[last] += "," + part
    return name.strip(), args


@dataclass(frozen=True)
class Filter:
    """One `q=` term: an attribute equal to a value, or LIKE a pattern where `%` matches any run."""

    attribute: str
    value: str
    like: bool = False

    def matches(self, item: Mapping[str, Any]) -> bool:
        """Whether the item's attribute (compared as text) satisfies the term."""
        actual = item.get(self.attribute)
        if actual is None:
            return False
        if not self.like:
            return str(actual) == self.value
        pattern = ".*".join(re.escape(part) for part in self.value.split("%"))
        return re.fullmatch(pattern, str(actual), re.DOTALL) is not None


def filters(request: Request, attributes: tuple[str, ...]) -> list[Filter]:
    """The request's `q=` terms, each on one of `attributes`; a 400 on anything else."""
    out = []
    for term in _split_q(request.query.get("q", [""])[0]):
        found = _Q_TERM.match(term)
        if not found or found.group(1) not in attributes:
            raise bad_request(f"q supports {', '.join(attributes)} with = or LIKE, joined by ;")
        quoted, bare = found.group(4), found.group(5)
        value = quoted.replace("''", "'") if quoted is not None else bare
        out.append(Filter(found.group(1), value, like=found.group(3) is not None))
    return out


def select(items: list[dict[str, Any]], terms: list[Filter]) -> list[dict[str, Any]]:
    """The items satisfying every term."""
    return [item for item in items if all(term.matches(item) for term in terms)]


def _split_q(q: str) -> list[str]:
    """Split on `;` outside single quotes."""
    terms, current, quoted = [], [], False
    for char in q:
        if char == "'":
            quoted = not quoted
        if char == ";" and not quoted:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def page(
    request: Request, items: list[Any], render: Callable[[Any], dict[str, Any]] | None = None
) -> Response:
    """One page of `items` by the request's limit/offset (default 25, at most 500); `render`
    makes the page's items JSON objects when they are not yet."""
    try:
        limit = int(request.query.get("limit", [DEFAULT_LIMIT])[0])
        offset = int(request.query.get("offset", [0])[0])
    except ValueError:
        return error(400, "Bad Request", "limit and offset must be integers")
    if limit < 1 or offset < 0:
        return error(400, "Bad Request", "limit must be positive and offset not negative")
    limit = min(limit, MAX_LIMIT)
    chosen = items[offset : offset + limit]
    if render is not None:
        chosen = [render(item) for item in chosen]
    body: dict[str, Any] = {
        "items": chosen,
        "count": len(chosen),
        "hasMore": offset + limit < len(items),
        "limit": limit,
        "offset": offset,
    }
    if request.query.get("totalResults", ["false"])[0] == "true":
        body["totalResults"] = len(items)
    return json_response(body)


def collection(items: list[dict[str, Any]]) -> Response:
    """A whole collection in one answer (finders that return one item or none)."""
    return json_response({"items": items, "count": len(items), "hasMore": False})

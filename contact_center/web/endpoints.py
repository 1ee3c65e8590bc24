"""Declaring endpoints: path, method, who may call it, what it takes and returns.

One declaration feeds three things: the aiohttp route, the authorisation middleware (a route without a
declared access is refused at start-up), and the OpenAPI document.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from contact_center.auth.roles import Access
from contact_center.errors import DomainError

SELF_IDENTIFYING_ATTRIBUTE = "__cc_identifies_itself__"
ACCESS_ATTRIBUTE = "__cc_access__"
Handler = Callable[..., Awaitable[Any]]


class BadRequest(DomainError):
    """The request body or query cannot be read."""

    status = 400
    code = "bad_request"


class UnsupportedMediaType(DomainError):
    """The body is not JSON."""

    status = 415
    code = "unsupported_media_type"


@dataclass(frozen=True)
class Endpoint:
    """One declared operation."""

    method: str
    path: str
    handler: Handler
    access: Access
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    responses: dict[int, str] = field(default_factory=dict)


class EndpointTable:
    """The endpoints of one feature, declared with decorators and added to the app by the factory."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        access: Access,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        status: int = 200,
        responses: dict[int, str] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare an endpoint; the handler receives the request and, when declared, `body` and `query`."""

        def decorate(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method, path, handler, access, summary, self.tag, body, query, status, responses or {}
                )
            )
            return handler

        return decorate

    def get(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        """Declare a GET endpoint."""
        return self.route("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        """Declare a POST endpoint."""
        return self.route("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        """Declare a PATCH endpoint."""
        return self.route("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        """Declare a DELETE endpoint."""
        return self.route("DELETE", path, **kwargs)


def add_endpoints(app: web.Application, table: EndpointTable) -> list[Endpoint]:
    """Add a table's endpoints to the app's router."""
    for endpoint in table.endpoints:
        app.router.add_route(endpoint.method, endpoint.path, _wrap(endpoint))
    return table.endpoints


def declare_access(access: Access) -> Callable[[Handler], Handler]:
    """Mark a plain aiohttp handler (pages, health, metrics) with who may call it."""

    def decorate(handler: Handler) -> Handler:
        setattr(handler, ACCESS_ATTRIBUTE, access)
        return handler

    return decorate


def identifies_itself(handler: Handler) -> Handler:
    """Mark a public handler that authenticates its callers itself (the socket.io endpoint: each
    namespace checks the session or token when a socket connects), so the middleware leaves it alone."""
    setattr(handler, SELF_IDENTIFYING_ATTRIBUTE, True)
    return handler


def leaves_identification(handler: Any) -> bool:
    """True for a handler marked with `identifies_itself`."""
    return getattr(handler, SELF_IDENTIFYING_ATTRIBUTE, False)


def access_of(handler: Any) -> Access | None:
    """The access a handler declared, or None."""
    return getattr(handler, ACCESS_ATTRIBUTE, None)


def _wrap(endpoint: Endpoint) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        kwargs: dict[str, Any] = {}
        if endpoint.body is not None:
            kwargs["body"] = await read_body(request, endpoint.body)
        if endpoint.query is not None:
            kwargs["query"] = parse(endpoint.query, dict(request.query))
        result = await endpoint.handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204)
        return json_response(result, status=endpoint.status)

    handle.__name__ = endpoint.handler.__name__
    handle.__doc__ = endpoint.handler.__doc__
    setattr(handle, ACCESS_ATTRIBUTE, endpoint.access)
    return handle


async def read_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    """The request's JSON body validated as `model`."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    raw = await request.read()
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None
    return parse(model, data)


def parse(model: type[BaseModel], data: Any) -> BaseModel:
    """Validate data as `model`, turning pydantic's errors into a 422 naming each field. Whole numbers
    beyond 64 bits are refused here, once for every model: no column can hold them."""
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in error["loc"]) or "body", "message": error["msg"]}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise InvalidBody("the request is not valid", problems=problems) from None
    too_large = list(huge_integers(parsed.model_dump()))
    if too_large:
        problems = [{"field": field, "message": "must fit in 64 bits"} for field in too_large]
        raise InvalidBody("the request is not valid", problems=problems)
    return parsed


def huge_integers(value: Any, where: str = "") -> Iterator[str]:
    """The paths of whole numbers outside the signed 64-bit range in plain data."""
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        yield where or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from huge_integers(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from huge_integers(item, f"{where}.{index}" if where else str(index))


class InvalidBody(DomainError):
    """Fields of the body or query are missing or wrong."""

    status = 422
    code = "invalid"


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response (pydantic models and datetimes serialised)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, default=str, ensure_ascii=False)

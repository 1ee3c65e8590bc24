"""The OpenAPI 3.1 document, built from the declared endpoints, served at /api/openapi.json."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from contact_center import __version__
from contact_center.auth.roles import Access
from contact_center.web.appkeys import ENDPOINTS
from contact_center.web.endpoints import Endpoint, declare_access

routes = web.RouteTableDef()
_PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}
STRING_PATH_PARAMETERS = {"reservation_id": "^[0-9a-f]{32}$", "task_id": "^[A-Za-z0-9_.:-]{1,64}$"}
STANDARD_ERRORS = {
    400: "Malformed request (e.g. broken JSON)",
    404: "No such resource",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Fields missing or invalid",
}


@routes.get("/api/openapi.json")
@declare_access(Access.PUBLIC)
async def openapi_json(request: web.Request) -> web.Response:
    """The API description."""
    return web.json_response(build_document(request.app[ENDPOINTS]))


def build_document(endpoints: list[Endpoint]) -> dict[str, Any]:
    """An OpenAPI 3.1 document for these endpoints."""
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        path = _PATH_PARAM.sub(r"{\1}", endpoint.path)
        paths.setdefault(path, {})[endpoint.method.lower()] = _operation(endpoint, path, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Contact centre API",
            "version": __version__,
            "description": "JSON API of the contact centre. Cookie sessions need the X-CSRF-Token header "
            "on writes; API clients send `Authorization: Bearer <token>`.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "cc_session"},
                "bearerAuth": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def _operation(endpoint: Endpoint, path: str, components: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.handler.__name__,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "x-access": endpoint.access.value,
        "security": [] if endpoint.access is Access.PUBLIC else [{"cookieAuth": []}, {"bearerAuth": []}],
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(name)}
        for name in _PATH_PARAM.findall(path)
    ]
    if endpoint.query is not None:
        parameters += _query_parameters(endpoint.query, components)
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(endpoint.body, components)}},
        }
    success = (
        {"description": "No content"}
        if endpoint.status == 204
        else {"description": "Success", "content": {"application/json": {"schema": {}}}}
    )
    responses: dict[str, Any] = {str(endpoint.status): success}
    errors = dict(STANDARD_ERRORS)
    if endpoint.access is not Access.PUBLIC:
        errors |= {401: "Not logged in", 403: f"Needs the {endpoint.access.value} role or the CSRF header"}
    errors |= endpoint.responses
    for status, description in sorted(errors.items()):
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation["responses"] = responses
    return operation


def _path_schema(name: str) -> dict[str, Any]:
    """Ids of stored rows are positive integers; routing's task and offer ids are strings."""
    if name in STRING_PATH_PARAMETERS:
        return {"type": "string", "pattern": STRING_PATH_PARAMETERS[name]}
    return {"type": "integer", "minimum": 1}


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel], components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]

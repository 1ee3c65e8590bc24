"""The console's lists over HTTP: wrap-up codes (dispositions, contact reasons, away reasons) and canned
replies. Agents read them; administrators change them, and every change is audited."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contact_center.api.common import caller, caller_id, path_id
from contact_center.auth.roles import Access, Role
from contact_center.console import canned, codes
from contact_center.errors import PermissionDenied
from contact_center.web.appkeys import CLOCK, SESSIONS
from contact_center.web.endpoints import EndpointTable, Handler

api = EndpointTable("console")

# kind, path, singular and plural names (for operation ids), what it is
CODE_LISTS = (
    ("disposition", "/api/dispositions", "disposition", "dispositions", "how a contact ended"),
    ("contact_reason", "/api/contact-reasons", "contact_reason", "contact_reasons", "why the customer came"),
    ("away_reason", "/api/away-reasons", "away_reason", "away_reasons", "why an agent is away"),
)


class ListQuery(BaseModel):
    """`all=1` (administrators) includes deactivated entries."""

    model_config = ConfigDict(extra="forbid")
    all: bool = Field(default=False, description="Include deactivated entries (administrators only).")


class CannedQuery(ListQuery):
    """Words to find in shortcut, title or body, and the conversation's language."""

    q: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, pattern=canned.LANGUAGE_PATTERN)


def _include_inactive(request: web.Request, query: ListQuery) -> bool:
    if query.all and caller(request).role != Role.ADMIN:
        raise PermissionDenied("only administrators see deactivated entries (all=1)")
    return query.all


def _named(name: str, handler: Handler) -> Handler:
    handler.__name__ = handler.__qualname__ = name
    return handler


def _declare_code_list(kind: str, path: str, singular: str, plural: str, meaning: str) -> None:
    async def list_codes(request: web.Request, query: ListQuery) -> list[dict[str, Any]]:
        async with request.app[SESSIONS]() as db:
            rows = await codes.list_codes(db, kind, include_inactive=_include_inactive(request, query))
        return [codes.code_json(row) for row in rows]

    async def create_code(request: web.Request, body: codes.CodeIn) -> dict[str, Any]:
        async with request.app[SESSIONS].begin() as db:
            row = await codes.create_code(db, kind, body, caller_id(request), request.app[CLOCK].now())
        return codes.code_json(row)

    async def update_code(request: web.Request, body: codes.CodeUpdate) -> dict[str, Any]:
        async with request.app[SESSIONS].begin() as db:
            row = await codes.update_code(
                db, kind, path_id(request), body, caller_id(request), request.app[CLOCK].now()
            )
        return codes.code_json(row)

    async def deactivate_code(request: web.Request) -> None:
        async with request.app[SESSIONS].begin() as db:
            await codes.deactivate_code(
                db, kind, path_id(request), caller_id(request), request.app[CLOCK].now()
            )

    api.get(
        path,
        access=Access.AGENT,
        query=ListQuery,
        summary=f"Active {plural.replace('_', ' ')} ({meaning}) in order",
    )(_named(f"list_{plural}", list_codes))
    api.post(
        path,
        access=Access.ADMIN,
        body=codes.CodeIn,
        status=201,
        summary=f"Add a {singular.replace('_', ' ')}",
        responses={409: "The code exists (perhaps deactivated)"},
    )(_named(f"create_{singular}", create_code))
    api.route(
        "PUT",
        f"{path}/{{id}}",
        access=Access.ADMIN,
        body=codes.CodeUpdate,
        summary=f"Change a {singular.replace('_', ' ')}'s label, position or active flag (not its code)",
        responses={409: "The code cannot be changed"},
    )(_named(f"update_{singular}", update_code))
    api.delete(
        f"{path}/{{id}}",
        access=Access.ADMIN,
        status=204,
        summary=f"Deactivate a {singular.replace('_', ' ')} (kept for history)",
    )(_named(f"deactivate_{singular}", deactivate_code))


for _list in CODE_LISTS:
    _declare_code_list(*_list)


@api.get(
    "/api/canned-replies",
    access=Access.AGENT,
    query=CannedQuery,
    summary="Find canned replies by shortcut, title or body (active ones, at most 50)",
)
async def list_canned_replies(request: web.Request, query: CannedQuery) -> list[dict[str, Any]]:
    """Shortcut matches first; with a language, replies in it and those for any language."""
    async with request.app[SESSIONS]() as db:
        rows = await canned.search_replies(
            db, query.q, query.language, include_inactive=_include_inactive(request, query)
        )
    return [canned.reply_json(row) for row in rows]


@api.get("/api/canned-replies/{id}", access=Access.AGENT, summary="One canned reply")
async def get_canned_reply(request: web.Request) -> dict[str, Any]:
    """Read one (deactivated ones for administrators only)."""
    async with request.app[SESSIONS]() as db:
        row = await canned.get_reply(
            db, path_id(request), include_inactive=caller(request).role == Role.ADMIN
        )
    return canned.reply_json(row)


@api.post(
    "/api/canned-replies",
    access=Access.ADMIN,
    body=canned.CannedReplyIn,
    status=201,
    summary="Add a canned reply",
    responses={409: "The shortcut is taken", 422: "Fields invalid, or an unknown placeholder"},
)
async def create_canned_reply(request: web.Request, body: canned.CannedReplyIn) -> dict[str, Any]:
    """A new canned reply; placeholders must be known ones."""
    async with request.app[SESSIONS].begin() as db:
        row = await canned.create_reply(db, body, caller_id(request), request.app[CLOCK].now())
    return canned.reply_json(row)


@api.route(
    "PUT",
    "/api/canned-replies/{id}",
    access=Access.ADMIN,
    body=canned.CannedReplyIn,
    summary="Replace a canned reply",
    responses={409: "The shortcut is taken", 422: "Fields invalid, or an unknown placeholder"},
)
async def update_canned_reply(request: web.Request, body: canned.CannedReplyIn) -> dict[str, Any]:
    """Change shortcut, title, body, language; `active: true` brings a deactivated one back."""
    async with request.app[SESSIONS].begin() as db:
        row = await canned.update_reply(
            db, path_id(request), body, caller_id(request), request.app[CLOCK].now()
        )
    return canned.reply_json(row)


@api.delete(
    "/api/canned-replies/{id}",
    access=Access.ADMIN,
    status=204,
    summary="Deactivate a canned reply (kept; agents no longer see it)",
)
async def deactivate_canned_reply(request: web.Request) -> None:
    """Hide it from agents."""
    async with request.app[SESSIONS].begin() as db:
        await canned.deactivate_reply(db, path_id(request), caller_id(request), request.app[CLOCK].now())


@api.post(
    "/api/canned-replies/{id}/render",
    access=Access.AGENT,
    body=canned.RenderIn,
    summary="A canned reply with its placeholders filled for a conversation and the caller",
)
async def render_canned_reply(request: web.Request, body: canned.RenderIn) -> dict[str, Any]:
    """Placeholders take the conversation's customer and the calling agent; unknown values become ''."""
    async with request.app[SESSIONS]() as db:
        text = await canned.render_for(db, path_id(request), body.conversation_id, caller(request))
    return {"text": text}

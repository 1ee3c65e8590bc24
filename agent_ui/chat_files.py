"""HTTP routes for files in a chat: the customer's upload (with their visitor token) and downloads for
the customer and for the agents who may see the chat."""

from __future__ import annotations

from aiohttp import BodyPartReader, web

from channels import chat, chat_files
from channels.chat_tokens import visitor_of
from contact_center.auth.roles import Access, Role
from contact_center.db.models import Conversation
from contact_center.errors import InvalidInput, NotFound, PermissionDenied, RateLimited
from contact_center.rate_limit import RateLimiter
from contact_center.web.appkeys import CLOCK, SESSIONS, SETTINGS
from contact_center.web.endpoints import declare_access, json_response

TOKEN_HEADER = "X-Chat-Token"  # noqa: S105 - a header name
UPLOADS = web.AppKey("chat_upload_limiter", RateLimiter)
routes = web.RouteTableDef()


def _visitor(request: web.Request) -> str | None:
    return visitor_of(request.app[SETTINGS].signing_key(), request.headers.get(TOKEN_HEADER, ""))


@routes.post("/chat/files")
@declare_access(Access.PUBLIC)
async def upload(request: web.Request) -> web.Response:
    """A file from the chat customer (multipart field `file`, the visitor token in X-Chat-Token)."""
    visitor = _visitor(request)
    if visitor is None:
        raise PermissionDenied(f"a valid {TOKEN_HEADER} header is required")
    if not request.app[UPLOADS].allow(visitor):
        raise RateLimited("too many files; wait a minute")
    limit = request.app[SETTINGS].chat_max_attachment_bytes
    reader = await request.multipart()
    part = await reader.next()
    while part is not None and getattr(part, "name", None) != "file":
        part = await reader.next()
    if part is None or not isinstance(part, BodyPartReader):
        raise InvalidInput("send the file in a multipart field named 'file'")
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise InvalidInput(f"a file may have at most {limit} bytes")
    message = await chat_files.store(request.app, visitor, None, part.filename or "file", bytes(data))
    return json_response({"message": chat.message_json(message)}, status=201)


@routes.get("/chat/files/{message_id}/{file_id}")
@declare_access(Access.PUBLIC)
async def download(request: web.Request) -> web.StreamResponse:
    """A file of a chat: for the customer of the chat (X-Chat-Token), its agent, supervisors and admins."""
    raw_id = request.match_info["message_id"]
    if not raw_id.isdigit():
        raise NotFound("no such file")
    message, entry, path = await chat_files.find(request.app, int(raw_id), request.match_info["file_id"])
    async with request.app[SESSIONS]() as db:
        conversation = await db.get(Conversation, message.conversation_id)
    assert conversation is not None
    user, visitor = request.get("user"), _visitor(request)
    if user is not None:
        if user.role not in (Role.SUPERVISOR, Role.ADMIN) and conversation.agent_id != user.id:
            raise NotFound("no such file")
    elif visitor is None:
        raise NotFound("no such file")  # to a stranger, a file that exists looks like one that does not
    else:
        mine = await chat.open_conversation(request.app, visitor)
        owner = await chat.customer_of_visitor(request.app, visitor)
        if owner != conversation.customer_id and (mine is None or mine.id != conversation.id):
            raise NotFound("no such file")
    disposition = "inline" if entry["type"] in chat_files.IMAGE_TYPES else "attachment"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": entry["type"],
            "Content-Disposition": f'{disposition}; filename="{entry["name"]}"',
            "Cache-Control": "private, max-age=3600",
        },
    )


def attach(app: web.Application) -> None:
    """Serve the chat's file routes, with their upload limit (10 a minute per visitor, bursts of 5)."""
    app[UPLOADS] = RateLimiter(app[CLOCK], per_second=10 / 60, burst=5)
    app.router.add_routes(routes)

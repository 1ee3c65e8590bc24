"""Files a chat customer sends: checked by their content (not their name or declared type), limited in
size, stored under the data directory with a name of our making, and added to the chat as a message."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from channels import chat
from contact_center.db.models import Conversation, Message
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.web.appkeys import CLOCK, SESSIONS, SETTINGS

SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
    (b"%PDF-", "application/pdf", "pdf"),
)
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Kind:
    """What a file is, by its content."""

    content_type: str
    extension: str


def kind_of(head: bytes) -> Kind:
    """The file's type from its first bytes: PNG, JPEG, GIF, PDF or UTF-8 text; InvalidInput otherwise."""
    for signature, content_type, extension in SIGNATURES:
        if head.startswith(signature):
            return Kind(content_type, extension)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multibyte character cut at the end of `head` is still text
        if exc.start < len(head) - 3:
            raise InvalidInput("only images (PNG, JPEG, GIF), PDF and plain text may be sent") from None
        text = head[: exc.start].decode("utf-8")
    if "\x00" in text:
        raise InvalidInput("only images (PNG, JPEG, GIF), PDF and plain text may be sent")
    return Kind("text/plain", "txt")


def safe_name(raw: str, kind: Kind) -> str:
    """A file name of letters, digits, dots, dashes and underscores, with the extension of its real type."""
    plain = unquote(raw).replace("\\", "/")  # some clients percent-encode the name
    base = unicodedata.normalize("NFKD", Path(plain).name).encode("ascii", "ignore").decode()
    stem = _UNSAFE.sub("_", base.rsplit(".", 1)[0]).strip("._-")[:80] or "file"
    return f"{stem}.{kind.extension}"


async def store(
    app: web.Application, visitor: str, known_conversation: int | None, filename: str, data: bytes
) -> Message:
    """Keep a file the customer sent into their open chat, as a message of its own."""
    settings = app[SETTINGS]
    if not data:
        raise InvalidInput("the file is empty")
    if len(data) > settings.chat_max_attachment_bytes:
        raise InvalidInput(f"a file may have at most {settings.chat_max_attachment_bytes} bytes")
    kind = kind_of(data[:512])
    conversation = await chat.open_conversation(app, visitor)
    if conversation is None or (known_conversation and conversation.id != known_conversation):
        raise NotFound("no chat is open")
    name, file_id = safe_name(filename, kind), uuid.uuid4().hex
    relative = Path("chat") / str(conversation.id) / f"{file_id}-{name}"
    path = settings.data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    now = app[CLOCK].now()
    entry = {"id": file_id, "name": name, "type": kind.content_type, "size": len(data), "path": str(relative)}
    async with app[SESSIONS].begin() as db:
        row = await db.get(Conversation, conversation.id)
        if row is None or row.status != "open":
            path.unlink(missing_ok=True)
            raise Conflict("the chat has ended")
        message = Message(
            conversation_id=row.id,
            channel="chat",
            direction="in",
            author_kind="customer",
            body=f"[file] {name}",
            external_id=f"chat:{visitor}:file:{file_id}",
            created_at=now,
            media=[entry],
            attributes={},
        )
        db.add(message)
        row.last_activity_at = now
        await db.flush()
        agent_id = row.agent_id
    await chat.announce(app, message, agent_id)
    return message


async def find(app: web.Application, message_id: int, file_id: str) -> tuple[Message, dict[str, Any], Path]:
    """A stored file of a chat message: the message, its entry and the file on disk (NotFound otherwise)."""
    async with app[SESSIONS]() as db:
        message = await db.get(Message, message_id)
    entry = next((m for m in (message.media if message else []) if m.get("id") == file_id), None)
    if message is None or message.channel != "chat" or entry is None:
        raise NotFound("no such file")
    path = (app[SETTINGS].data_dir / entry["path"]).resolve()
    if not path.is_relative_to(app[SETTINGS].data_dir.resolve()) or not path.is_file():
        raise NotFound("no such file")
    return message, entry, path

"""Keeping an email's original and its attachments on disk, under the data directory, with safe names.

Each inbound message gets a folder `CC_DATA_DIR/email/<hh>/<hash of its Message-ID>/` holding
`message.eml` (the original exactly as received) and the attachments, named `NN-<clean name>`. A sender's
file name never becomes a path: directories, control characters and leading dots are removed. Files are
written to a temporary name, flushed to disk, then renamed, so a retried delivery overwrites rather than
duplicates and a crash never leaves half a file under the final name.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from channels.email_parse import Attachment

MAX_NAME = 100
_UNSAFE = re.compile(r"[^\w.\- ()+,=@]+", re.UNICODE)


@dataclass(frozen=True)
class Limits:
    """How many attachments a message may carry, and how large each may be."""

    max_count: int
    max_bytes: int


def safe_name(raw: str, index: int, content_type: str) -> str:
    """A file name that is only a name: `NN-<cleaned>`, never a path, never hidden, at most 100 chars."""
    name = unicodedata.normalize("NFKC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" ._")
    if not name:
        extension = mimetypes.guess_extension(content_type or "") or ".bin"
        name = f"attachment{extension}"
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        extension = extension[:10] if dot and stem else ""
        name = name[: MAX_NAME - len(extension) - 1].rstrip(".") + (f".{extension}" if extension else "")
    return f"{index:02d}-{name}"


def refusal(attachments: list[Attachment], limits: Limits) -> str | None:
    """Why the attachments break the limits (too many, one too large), or None."""
    if len(attachments) > limits.max_count:
        return f"{len(attachments)} attachments; at most {limits.max_count} are accepted"
    for attachment in attachments:
        if len(attachment.data) > limits.max_bytes:
            shown = attachment.filename or attachment.content_type
            return f"attachment {shown!r} is {len(attachment.data)} bytes; at most {limits.max_bytes}"
    return None


def folder(data_dir: Path, key: str) -> Path:
    """The folder of one message, from its Message-ID (or another stable key)."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return data_dir / "email" / digest[:2] / digest


def keep(data_dir: Path, key: str, raw: bytes, attachments: list[Attachment], limits: Limits) -> list[dict]:
    """Write the original and the attachments; returns the media entries (stored, or refused with why).

    Within the limits every attachment is stored; past the count, or past the size of one, an attachment
    is recorded as refused with the reason (the original message still holds it).
    """
    target = folder(data_dir, key)
    target.mkdir(parents=True, exist_ok=True)
    _write(target / "message.eml", raw)
    entries: list[dict] = []
    for index, attachment in enumerate(attachments, start=1):
        name = safe_name(attachment.filename, index, attachment.content_type)
        entry: dict = {
            "name": name,
            "original_name": attachment.filename[:300],
            "content_type": attachment.content_type,
            "bytes": len(attachment.data),
        }
        if index > limits.max_count:
            entry.update(status="refused", reason=f"more than {limits.max_count} attachments")
        elif len(attachment.data) > limits.max_bytes:
            entry.update(status="refused", reason=f"larger than {limits.max_bytes} bytes")
        else:
            _write(target / name, attachment.data)
            entry.update(status="stored", path=str((target / name).relative_to(data_dir)))
        entries.append(entry)
    return entries


def original_path(data_dir: Path, key: str) -> str:
    """Where the original of a message is kept, relative to the data directory."""
    return str((folder(data_dir, key) / "message.eml").relative_to(data_dir))


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)

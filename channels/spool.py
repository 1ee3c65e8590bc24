"""A durable spool for webhooks that could not be stored: kept on disk, replayed once storage is back.

When the database is unavailable, a webhook that carries something we must not lose (a voicemail
recording, a transcription, a call's final status) is written here as one JSON file (written to a
temporary name, flushed to disk, then renamed, so a crash never leaves half a file), and Twilio gets its
answer. `replay` hands each file to a handler, oldest first, and deletes it only when the handler succeeded.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, str]], Awaitable[None]]


class Spool:
    """Webhook payloads waiting in a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def put(self, kind: str, form: dict[str, str], received_at: float) -> Path:
        """Keep one payload; returns its file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{received_at:017.6f}-{uuid.uuid4().hex}.json"
        temporary = self.directory / f".{name}.tmp"
        with temporary.open("w", encoding="utf-8") as file:
            json.dump({"kind": kind, "form": form}, file)
            file.flush()
            os.fsync(file.fileno())
        final = self.directory / name
        temporary.rename(final)
        return final

    def pending(self) -> list[Path]:
        """Files waiting, oldest first."""
        if not self.directory.exists():
            return []
        return sorted(self.directory.glob("[0-9]*.json"))

    async def replay(self, handler: Handler) -> int:
        """Hand every waiting payload to `handler`; stop at the first failure. Returns how many were done."""
        done = 0
        for path in self.pending():
            entry = json.loads(path.read_text("utf-8"))
            try:
                await handler(entry["kind"], entry["form"])
            except Exception as exc:
                log.warning("spooled %s still cannot be stored (%s); will retry", path.name, exc)
                break
            path.unlink()
            done += 1
        return done

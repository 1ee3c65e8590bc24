"""MMS media: which URLs we may fetch, and fetching one to disk within a size limit.

Twilio's media URLs need HTTP basic auth (account sid and auth token). Only URLs on the configured media
hosts (TWILIO_MEDIA_HOSTS) are fetched, and a file larger than the limit is dropped while streaming.
Redirects are followed by hand: Twilio answers a media URL with a redirect to its storage (a signed,
short-lived S3 address), so a redirect given by an allowed host is followed to an https address (or to
the same scheme), without the credentials, which go only to the host that was asked.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp

from contact_center.settings import Settings

MAX_REDIRECTS = 3
CHUNK = 64 * 1024
TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class Refused(Exception):
    """The media was not fetched or not kept; the message says why."""


@dataclass(frozen=True)
class Stored:
    """Where a fetched file was kept, relative to the data directory, and its size."""

    path: str
    size: int


def refusal(url: str, settings: Settings) -> str | None:
    """Why `url` may not be fetched, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        return f"scheme {parts.scheme or '(none)'!r} is not http(s)"
    host = (parts.hostname or "").lower()
    if host not in settings.media_hosts:
        return f"host {host or '(none)'!r} is not an allowed media host"
    return None


def file_name(message_id: int, index: int, url: str, content_type: str) -> str:
    """A safe name: the message, the media's position, its sid (from the URL) and an extension."""
    sid = _UNSAFE.sub("", urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])[:64] or "media"
    guessed = mimetypes.guess_extension(content_type.split(";", 1)[0].strip().lower()) or ""
    extension = guessed if re.fullmatch(r"\.[a-z0-9]{1,8}", guessed) else ".bin"
    return f"{message_id}-{index}-{sid}{extension}"


async def fetch(
    settings: Settings, url: str, conversation_id: int, name: str, session: aiohttp.ClientSession
) -> Stored:
    """Download `url` to data_dir/media/<conversation_id>/<name>; Refused with the reason otherwise."""
    reason = refusal(url, settings)
    if reason:
        raise Refused(reason)
    target = settings.data_dir / "media" / str(conversation_id) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        size = await _download(settings, url, partial, session)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return Stored(str(target.relative_to(settings.data_dir)), size)


async def _download(settings: Settings, url: str, partial: Path, session: aiohttp.ClientSession) -> int:
    origin = (urlsplit(url).hostname or "").lower()
    auth = {"Authorization": _basic_auth(settings)}
    for _ in range(MAX_REDIRECTS + 1):
        host = (urlsplit(url).hostname or "").lower()
        async with session.get(
            url, headers=auth if host == origin else None, allow_redirects=False, timeout=TIMEOUT
        ) as response:
            if response.status in (301, 302, 303, 307, 308):
                scheme = urlsplit(url).scheme
                url = urljoin(url, response.headers.get("Location", ""))
                if urlsplit(url).scheme not in ("https", scheme):
                    raise Refused(f"redirected to a {urlsplit(url).scheme or '(none)'!r} address")
                continue
            if response.status != 200:
                raise Refused(f"the media host answered HTTP {response.status}")
            return await _save(response, partial, settings.max_media_bytes)
    raise Refused(f"more than {MAX_REDIRECTS} redirects")


def _basic_auth(settings: Settings) -> str:
    """HTTP basic credentials of the Twilio account (media URLs ask for them)."""
    pair = f"{settings.twilio_account_sid}:{settings.twilio_auth_token.get_secret_value()}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


async def _save(response: aiohttp.ClientResponse, partial: Path, limit: int) -> int:
    """Stream the body to `partial`, stopping as soon as it is larger than `limit`."""
    if response.content_length is not None and response.content_length > limit:
        raise Refused(f"larger than {limit} bytes")
    size = 0
    with partial.open("wb") as out:
        async for chunk in response.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > limit:
                raise Refused(f"larger than {limit} bytes")
            out.write(chunk)
    return size

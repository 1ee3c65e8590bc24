"""What every Twilio webhook shares: the signature check, the URL Twilio signed, replies, and idempotency.

Twilio signs each request with HMAC-SHA1 over the full URL it called and the POSTed form; the twilio
library's RequestValidator checks it. The URL is rebuilt from `CC_PUBLIC_URL` (what Twilio was told to
call) and the request's path and query. Without a public URL override, X-Forwarded-Proto/Host are
believed only from `CC_TRUSTED_PROXIES`, so nobody can make us check a signature against a URL of their
choosing.

Retries: Twilio repeats a webhook that timed out or failed, with the same I-Twilio-Idempotency-Token.
The effects that matter are idempotent in the domain (one conversation per CallSid, one message per
MessageSid, one ticket per RecordingSid), and `remember`/`recall` keep the answer given under the token
in the database, so a retry landing on another process gets the very same answer.

What a webhook stores goes through `journal` into the durable inbox (channels/inbox.py), so the answer
waits for a write to local disk, not for the database.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import datetime

from aiohttp import web
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.request_validator import RequestValidator

from channels.inbox import Inbox
from contact_center.db.models import WebhookReceipt
from contact_center.settings import Settings
from contact_center.web.appkeys import CLOCK, SETTINGS

log = logging.getLogger(__name__)

TWIML = "application/xml"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
INBOX = web.AppKey("twilio_inbox", Inbox)


class Forbidden(Exception):
    """The request is not from Twilio (no or wrong signature, or Twilio is not configured)."""


def signed_url(request: web.Request, settings: Settings) -> str:
    """The URL Twilio called, as it signed it."""
    path_qs = request.raw_path  # as sent, query included: what Twilio signed
    if not _from_trusted_proxy(request, settings):
        return settings.public_url + path_qs
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{scheme}://{host}{path_qs}"


def _from_trusted_proxy(request: web.Request, settings: Settings) -> bool:
    if not settings.trusted_proxies or "X-Forwarded-Host" not in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    return any(address in network for network in settings.trusted_proxy_networks)


async def verified_form(request: web.Request) -> dict[str, str]:
    """The POSTed form of a request Twilio signed; Forbidden otherwise."""
    settings = request.app[SETTINGS]
    if not settings.twilio_enabled:
        raise Forbidden("Twilio is not configured (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        raise Forbidden("no X-Twilio-Signature")
    form = {key: str(value) for key, value in (await request.post()).items()}
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    if not validator.validate(signed_url(request, settings), form, signature):
        raise Forbidden("X-Twilio-Signature does not match")
    if form.get("AccountSid") and form["AccountSid"] != settings.twilio_account_sid:
        raise Forbidden("the request is for another Twilio account")
    return form


def forbidden(reason: str) -> web.Response:
    """403 with a reason (logged, since a bad signature is either an attack or a misconfiguration)."""
    log.warning("refused a Twilio webhook: %s", reason)
    return web.Response(status=403, text=f"forbidden: {reason}\n", content_type="text/plain")


def twiml(document: object) -> web.Response:
    """A TwiML answer (a VoiceResponse or MessagingResponse, or its text)."""
    return web.Response(text=str(document), content_type=TWIML)


async def journal(request: web.Request, kind: str, form: dict[str, str]) -> None:
    """Keep a webhook's payload in the durable inbox, to be stored by the handler for `kind`; returns once
    it is on disk (InboxFull or OSError when it cannot be kept)."""
    await request.app[INBOX].put(kind, form, request.app[CLOCK].now().timestamp())


def idempotency_key(request: web.Request) -> str | None:
    """The key a retry of this request shares with the original (Twilio's idempotency token), if sent."""
    token = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    return f"{request.path}|{token[:160]}" if token else None


async def recall(db: AsyncSession, key: str) -> str | None:
    """The answer given to an earlier request with this key, if any."""
    receipt = await db.get(WebhookReceipt, key)
    return None if receipt is None else receipt.response


async def remember(db: AsyncSession, key: str, response: str, now: datetime) -> bool:
    """Keep the answer under `key`; False if another request (or process) claimed the key first."""
    try:
        async with db.begin_nested():
            db.add(WebhookReceipt(key=key, response=response, created_at=now))
    except IntegrityError:
        return False
    return True


async def prune_receipts(db: AsyncSession, older_than: datetime) -> int:
    """Forget receipts from before `older_than` (long after Twilio stops retrying); how many went."""
    result = await db.execute(delete(WebhookReceipt).where(WebhookReceipt.created_at < older_than))
    return result.rowcount or 0

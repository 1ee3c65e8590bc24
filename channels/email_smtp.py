"""The built-in SMTP listener (aiosmtpd) that MX records or a forwarding rule point at.

It runs on the application's event loop. RCPT is refused (550) for addresses outside
`CC_EMAIL_RECIPIENTS`; DATA is answered by `email_inbound.receive`: 250 only once the message is stored,
451 when storage failed (the sender retries), 5xx saying why for mail we will never take. An unexpected
error also answers 451, so nothing is lost to a bug: the sender keeps the message and tries again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email_inbound import receive
from channels.email_parse import normalise_address
from contact_center.settings import Settings

log = logging.getLogger(__name__)

# RFC 5321 allows 1000 characters a line, but real mail (HTML from mailing tools) often has far longer
# ones; we take lines up to 1 MiB rather than bounce such a customer.
LINE_LIMIT = 1024 * 1024


class _Smtp(SMTP):
    line_length_limit = LINE_LIMIT


class Handler:
    """aiosmtpd's handler: who we take mail for, and what becomes of each message."""

    def __init__(self, app: web.Application, settings: Settings) -> None:
        self.app = app
        entries = [e.strip().casefold() for e in settings.email_recipients.split(",") if e.strip()]
        self.addresses = {e for e in entries if not e.startswith("@")}
        self.domains = {e[1:] for e in entries if e.startswith("@")}

    def accepts(self, address: str) -> bool:
        """True when we take mail for `address`."""
        if not (self.addresses or self.domains):
            return True
        normalised = normalise_address(address)
        if normalised is None:
            return False
        return normalised in self.addresses or normalised.rsplit("@", 1)[1] in self.domains

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not self.accepts(address):
            return f"550 5.1.1 <{address}>: no mailbox here by that name"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            outcome = await receive(
                self.app, raw, envelope_sender=envelope.mail_from, recipients=list(envelope.rcpt_tos)
            )
        except Exception:
            log.exception("an inbound email failed unexpectedly; answered 451 so the sender retries")
            return "451 4.3.0 temporary failure; please try again later"
        log.info("email from %s: %s", envelope.mail_from, outcome.reply)
        return outcome.reply


async def start_listener(app: web.Application, settings: Settings) -> asyncio.AbstractServer | None:
    """Listen on `CC_SMTP_LISTEN` (None when it is empty)."""
    address = settings.smtp_listen_address
    if address is None:
        return None
    handler = Handler(app, settings)

    def protocol() -> Any:
        return _Smtp(
            handler,
            data_size_limit=settings.email_max_message_bytes,
            enable_SMTPUTF8=True,
            hostname=settings.message_id_domain,
            ident="contact-center ESMTP",
        )

    host, port = address
    server = await asyncio.get_running_loop().create_server(protocol, host=host, port=port)
    log.info("SMTP listener on %s", ", ".join(str(s.getsockname()) for s in server.sockets))
    return server


async def stop_listener(server: asyncio.AbstractServer | None) -> None:
    """Stop taking connections, and give those open a moment to finish."""
    if server is None:
        return
    server.close()
    try:
        await asyncio.wait_for(server.wait_closed(), timeout=5)
    except TimeoutError:
        log.warning("SMTP connections still open at shutdown were cut")

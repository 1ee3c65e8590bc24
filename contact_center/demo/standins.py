"""Stand-ins for the outside services the demo has no account for, so an agent's replies go somewhere.

- `TwilioStandIn`: Twilio's REST API (messages, calls, call and conference updates, media), answering like
  Twilio and recording what the twilio client sent. The tests use it too (tests/twilio_standin.py).
- `MailSink`: an SMTP server (aiosmtpd) that takes every email and keeps it.
- `DemoStandIns`: both, on sockets bound to 127.0.0.1 before the settings are made, and the settings that
  point the application at them, for whatever the operator has not configured themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import SecretStr

from contact_center.settings import Settings

log = logging.getLogger(__name__)

DEMO_ACCOUNT_SID = "AC" + "d" * 32
DEMO_AUTH_TOKEN = "demo-auth-token-not-a-secret-0000"
DEMO_NUMBER = "+15005550006"
DEMO_ADDRESS = "support@demo.example"


@dataclass
class Sent:
    """One request the twilio client made."""

    method: str
    path: str
    form: dict[str, str]


@dataclass
class TwilioStandIn:
    """What was sent, and the media it serves."""

    sent: list[Sent] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    fail_next: int = 0
    media_requests: list[tuple[str, str | None]] = field(default_factory=list)
    on_record: Callable[[Sent], None] | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def messages(self) -> list[dict[str, str]]:
        """SMS sent (Messages.json creates)."""
        return [s.form for s in self.sent if s.path.endswith("/Messages.json")]

    def calls_created(self) -> list[dict[str, str]]:
        """Calls placed (Calls.json creates)."""
        return [s.form for s in self.sent if s.path.endswith("/Calls.json")]

    def call_updates(self, call_sid: str | None = None) -> list[dict[str, str]]:
        """Updates of live calls (Calls/<sid>.json), of one call if given."""
        suffix = f"/Calls/{call_sid}.json" if call_sid else None
        return [
            s.form for s in self.sent if "/Calls/CA" in s.path and (suffix is None or s.path.endswith(suffix))
        ]

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application()
        base = "/2010-04-01/Accounts/{account}"
        app.router.add_post(base + "/Messages.json", self._create_message)
        app.router.add_post(base + "/Calls.json", self._create_call)
        app.router.add_post(base + "/Calls/{sid}.json", self._update_call)
        app.router.add_post(
            base + "/Conferences/{conference}/Participants/{call}.json", self._update_participant
        )
        app.router.add_get("/media/{name}", self._media)
        app.router.add_get("/storage/{name}", self._media)
        app.router.add_get("/media-redirect/{name}", self._media_redirect)
        return app

    async def _record(self, request: web.Request) -> dict[str, str] | web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.sent.append(Sent(request.method, request.path, form))
        if self.on_record is not None:
            self.on_record(self.sent[-1])
        if self.fail_next:
            self.fail_next -= 1
            failure = {"code": 20500, "message": "stand-in failure", "status": 500}
            return web.json_response(failure, status=500)
        return form

    async def _create_message(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        if isinstance(form, web.Response):
            return form
        sid = f"SM{next(self._ids):032d}"
        body = {
            "sid": sid,
            "account_sid": request.match_info["account"],
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "num_segments": "1",
            "direction": "outbound-api",
        }
        return web.json_response(body, status=201)

    async def _create_call(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        if isinstance(form, web.Response):
            return form
        sid = f"CA{next(self._ids):032d}"
        body = {
            "sid": sid,
            "account_sid": request.match_info["account"],
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
            "direction": "outbound-api",
        }
        return web.json_response(body, status=201)

    async def _update_call(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        if isinstance(form, web.Response):
            return form
        body = {
            "sid": request.match_info["sid"],
            "account_sid": request.match_info["account"],
            "status": form.get("Status", "in-progress"),
        }
        return web.json_response(body, status=200)

    async def _update_participant(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        if isinstance(form, web.Response):
            return form
        body = {
            "call_sid": request.match_info["call"],
            "conference_sid": request.match_info["conference"],
            "account_sid": request.match_info["account"],
            "hold": form.get("Hold") == "true",
            "status": "connected",
        }
        return web.json_response(body, status=200)

    def participant_updates(self) -> list[dict[str, str]]:
        """Updates of conference participants (hold and resume)."""
        return [s.form for s in self.sent if "/Participants/" in s.path]

    async def _media_redirect(self, request: web.Request) -> web.Response:
        """Like Twilio: the media URL answers with a redirect to storage on another host."""
        self.media_requests.append((request.path, request.headers.get("Authorization")))
        storage = f"http://localhost:{request.url.port}/storage/{request.match_info['name']}"
        raise web.HTTPFound(storage)

    async def _media(self, request: web.Request) -> web.Response:
        self.media_requests.append((request.path, request.headers.get("Authorization")))
        found = self.media.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        data, content_type = found
        return web.Response(body=data, content_type=content_type)


@dataclass
class Mail:
    """One email the sink took."""

    sender: str
    recipients: list[str]
    subject: str
    body: str


@dataclass
class MailSink:
    """An SMTP server that takes every email and keeps it (the demo's relay for outbound email)."""

    received: list[Mail] = field(default_factory=list)
    on_mail: Callable[[Mail], None] | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        text = parsed.get_body(preferencelist=("plain",)) if parsed.is_multipart() else parsed
        mail = Mail(
            sender=envelope.mail_from or "",
            recipients=list(envelope.rcpt_tos),
            subject=str(parsed.get("Subject", "")),
            body=text.get_content() if text is not None else "",
        )
        self.received.append(mail)
        if self.on_mail is not None:
            self.on_mail(mail)
        return "250 OK"

    async def serve(self, sock: socket.socket) -> asyncio.AbstractServer:
        """Take connections on a bound socket."""
        return await asyncio.get_running_loop().create_server(
            lambda: SMTP(self, hostname="demo-mail-sink", ident="demo mail sink"), sock=sock
        )


def _bound() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class DemoStandIns:
    """Twilio's REST API and an SMTP relay for a demo that has neither configured. `bind` before making
    the settings (the ports are known at once), update the settings with `overrides` (values of the
    settings' own types), and add `run` to the application's cleanup contexts to serve them while it runs."""

    def __init__(self, settings: Settings) -> None:
        self.twilio: TwilioStandIn | None = None
        self.mail: MailSink | None = None
        self._sockets: dict[str, socket.socket] = {}
        self.overrides: dict[str, Any] = {}
        if not settings.twilio_enabled:
            self.twilio = TwilioStandIn(on_record=_log_twilio)
            self._sockets["twilio"] = _bound()
            port = self._sockets["twilio"].getsockname()[1]
            self.overrides.update(
                twilio_account_sid=DEMO_ACCOUNT_SID,
                twilio_auth_token=SecretStr(DEMO_AUTH_TOKEN),
                twilio_phone_number=settings.twilio_phone_number or DEMO_NUMBER,
                twilio_api_base_url=f"http://127.0.0.1:{port}",
            )
        if not settings.email_sending_enabled:
            self.mail = MailSink(on_mail=_log_mail)
            self._sockets["mail"] = _bound()
            self.overrides.update(
                smtp_relay_host="127.0.0.1",
                smtp_relay_port=self._sockets["mail"].getsockname()[1],
                smtp_relay_user="",
                smtp_relay_password=SecretStr(""),
                smtp_relay_starttls=False,
                smtp_relay_tls=False,
                email_address=settings.email_address or DEMO_ADDRESS,
            )

    @classmethod
    def bind(cls, settings: Settings) -> DemoStandIns:
        """Stand-ins for what `settings` leave unconfigured, their sockets bound."""
        return cls(settings)

    def describe(self) -> list[str]:
        """Lines for the demo's banner."""
        lines = []
        if self.twilio is not None:
            lines.append(
                f"Twilio REST stand-in on {self.overrides['twilio_api_base_url']}: SMS replies are logged"
            )
        if self.mail is not None:
            port = self.overrides["smtp_relay_port"]
            lines.append(f"Mail sink (SMTP) on 127.0.0.1:{port}: email replies are logged")
        return lines

    async def run(self, app: web.Application) -> AsyncIterator[None]:
        """A cleanup context: serve the stand-ins while the application runs."""
        runner = None
        mail_server = None
        if self.twilio is not None:
            runner = web.AppRunner(self.twilio.app(), access_log=None)
            await runner.setup()
            await web.SockSite(runner, self._sockets["twilio"]).start()
        if self.mail is not None:
            mail_server = await self.mail.serve(self._sockets["mail"])
        yield
        if mail_server is not None:
            mail_server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(mail_server.wait_closed(), 5)
        if runner is not None:
            await runner.cleanup()


def _log_twilio(sent: Sent) -> None:
    if sent.path.endswith("/Messages.json"):
        log.info("demo Twilio stand-in: an SMS to %s: %r", sent.form.get("To"), sent.form.get("Body"))
    else:
        log.info("demo Twilio stand-in: %s %s", sent.method, sent.path)


def _log_mail(mail: Mail) -> None:
    log.info(
        "demo mail sink: an email to %s, %r: %r", ", ".join(mail.recipients), mail.subject, mail.body[:200]
    )

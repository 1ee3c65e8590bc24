"""A local stand-in for Twilio's REST API: it records what the twilio client sent and answers like Twilio.

Also the signing side of Twilio's webhooks (`signed_post`), with the twilio library's RequestValidator, and
media files for MMS (`/media/<name>`), so tests exercise the whole edge without Twilio's cloud.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from twilio.request_validator import RequestValidator

from channels.twilio_webhooks import INBOX

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
OUR_NUMBER = "+15005550006"
PUBLIC_URL = "http://testserver"


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


def signature(url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature as Twilio computes it."""
    return RequestValidator(token).compute_signature(url, form)


async def signed_post(
    client: Any, path: str, form: dict[str, str], *, settle: bool = True, **headers: str
) -> Any:
    """POST a webhook to the app as Twilio would, signed for PUBLIC_URL + path. With `settle`, wait for the
    app's inbox to store what the webhook gave it (or to find storage down) before returning."""
    form = {"AccountSid": ACCOUNT_SID, **form}
    signed = {"X-Twilio-Signature": signature(PUBLIC_URL + path, form), **headers}
    response = await client.post(path, data=form, headers=signed)
    await response.read()
    if settle and INBOX in client.app:
        await client.app[INBOX].settled()
    return response

"""Twilio's edge for the tests: the local stand-in for its REST API (`TwilioStandIn`, which records what the
twilio client sent and answers like Twilio, and serves media files for MMS at `/media/<name>`; it lives in
contact_center/demo/standins.py because the demo runs it too), and the signing side of Twilio's webhooks
(`signed_post`), with the twilio library's RequestValidator, so tests exercise the whole edge without
Twilio's cloud.
"""

from __future__ import annotations

from typing import Any

from twilio.request_validator import RequestValidator

from channels.twilio_webhooks import INBOX
from contact_center.demo.standins import Sent, TwilioStandIn

__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "OUR_NUMBER", "PUBLIC_URL", "Sent", "TwilioStandIn", "signed_post"]

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
OUR_NUMBER = "+15005550006"
PUBLIC_URL = "http://testserver"


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

"""The twilio REST client the channels send with (SMS, call updates, callbacks), on aiohttp.

`TWILIO_API_BASE_URL` points it elsewhere than https://api.twilio.com: a regional edge, or in tests and
the demo a local stand-in that records what was sent.
"""

from __future__ import annotations

from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from contact_center.settings import Settings


def rest_client(settings: Settings) -> Client:
    """A client on the configured account and base URL; close it with `close_client`."""
    client = Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
        http_client=AsyncTwilioHttpClient(),
    )
    if settings.twilio_api_base_url:
        client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return client


async def close_client(client: Client) -> None:
    """Close the client's HTTP session."""
    http = client.http_client
    if isinstance(http, AsyncTwilioHttpClient):
        await http.close()

"""The address of the client behind a request: the peer's, or, when the peer is one of our proxies
(CC_TRUSTED_PROXIES), the nearest address in X-Forwarded-For that is not a proxy of ours."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from contact_center.settings import Settings


def client_address(request: web.Request, settings: Settings) -> str | None:
    """Who sent the request, for limits and logs; never taken from a header an untrusted peer set."""
    peer = request.remote
    if not settings.trusted_proxies or not _trusted(peer, settings):
        return peer
    header = request.headers.get("X-Forwarded-For", "")
    forwarded = [part.strip() for part in header.split(",") if part.strip()]
    for address in reversed(forwarded):  # the rightmost entries were added by our own proxies
        if not _trusted(address, settings):
            return address
    return peer


def _trusted(address: str | None, settings: Settings) -> bool:
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(parsed in network for network in settings.trusted_proxy_networks)

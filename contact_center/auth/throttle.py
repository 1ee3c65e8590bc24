"""Login attempts limited per username and per client address, so passwords cannot be guessed at speed.

Every attempt takes a token, right or wrong, before the password is checked (checking costs an Argon2 hash).
Per username: 5 at once, then one every 30 seconds. Per address: 20 at once, then one every 3 seconds (an
office behind one address has many people). The buckets live in the process: with N processes behind a
balancer that spreads one client over all of them, the limits are N times looser.
"""

from __future__ import annotations

from aiohttp import web

from contact_center.clock import Clock
from contact_center.errors import RateLimited
from contact_center.rate_limit import RateLimiter

PER_USERNAME = {"per_second": 1 / 30, "burst": 5}
PER_ADDRESS = {"per_second": 1 / 3, "burst": 20}


class LoginThrottle:
    """Refuses a login attempt (429) when its username or its address has tried too often."""

    def __init__(self, clock: Clock) -> None:
        self._usernames = RateLimiter(clock, **PER_USERNAME)
        self._addresses = RateLimiter(clock, **PER_ADDRESS)

    def check(self, username: str, address: str | None) -> None:
        """Take a token for this attempt, or raise RateLimited."""
        address_ok = self._addresses.allow(address or "unknown")
        username_ok = self._usernames.allow(username.strip().casefold())
        if not (address_ok and username_ok):
            raise RateLimited("too many sign-in attempts; wait a minute and try again")


LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)

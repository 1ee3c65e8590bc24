"""Rate limits: a token bucket per key (a socket, an address), driven by the injected clock."""

from __future__ import annotations

from collections import OrderedDict

from contact_center.clock import Clock

MOST_KEYS = 100_000


class RateLimiter:
    """At most `burst` actions at once per key, refilled at `per_second`; the oldest keys are forgotten."""

    def __init__(self, clock: Clock, *, per_second: float, burst: int) -> None:
        self.clock, self.per_second, self.burst = clock, per_second, burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        """Take one token for `key`; False when its bucket is empty."""
        now = self.clock.now().timestamp()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > MOST_KEYS:
            self._buckets.popitem(last=False)
        return allowed

    def forget(self, key: str) -> None:
        """Drop a key's bucket (its socket went away)."""
        self._buckets.pop(key, None)

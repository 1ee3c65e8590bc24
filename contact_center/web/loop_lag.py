"""Event-loop lag: how late the loop wakes a task that asked to sleep. Lag is what every request, socket
event and timer of the process waits on top of its own work, so it is the first figure to watch when a
process is overloaded (`cc_event_loop_lag_seconds` on /metrics)."""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import CollectorRegistry, Histogram

LAG_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class LoopLagMonitor:
    """Sleeps `interval` seconds over and over and records how much later than asked it woke up.

    It reads the loop's own monotonic clock, not the application's injected clock: the lag is a fact about
    this process's CPU, not about business time.
    """

    def __init__(self, registry: CollectorRegistry, interval: float = 0.05) -> None:
        self.interval = interval
        self.lag = Histogram(
            "cc_event_loop_lag_seconds",
            "How late the event loop woke a task sleeping on a timer",
            registry=registry,
            buckets=LAG_BUCKETS,
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling on the running loop."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.lag.observe(max(0.0, loop.time() - due))

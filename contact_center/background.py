"""Background jobs an app starts and lets finish: kept until done, failures logged, drained at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

log = logging.getLogger(__name__)


class BackgroundJobs:
    """Jobs run in the background (media fetches, emails being sent), each logged if it fails."""

    def __init__(self, failure: str) -> None:
        self.failure = failure
        self._running: set[asyncio.Future[object]] = set()

    def start(self, job: Awaitable[object]) -> None:
        """Run `job` in the background, kept until done."""
        task = asyncio.ensure_future(self._logged(job))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def drain(self) -> None:
        """Wait for every job under way (tests; a graceful shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    def cancel(self) -> None:
        """Stop the jobs still running."""
        for task in list(self._running):
            task.cancel()

    async def _logged(self, job: Awaitable[object]) -> None:
        try:
            await job
        except Exception:
            log.exception(self.failure)

"""A durable inbox for webhooks: written to disk before Twilio gets its answer, stored in the background.

A webhook that carries something to store (an incoming call or message, a status, a recording) calls `put`,
which returns once the payload is on disk; the webhook then answers at once, and a worker hands the payloads,
in order, to the channel's handlers, which store them through intake (a run of waiting payloads of one kind
may go to its handler together, so that a burst is stored in one transaction). So Twilio never waits on the
database, and nothing acknowledged is lost: not when the database is down (the worker retries, with backoff,
until it is back), not when the process dies (the unfinished payloads are handled again at the next start).
Handlers must therefore be idempotent (intake is, on the channel's message id).

On disk: append-only segments of JSON lines (`<first sequence>.jsonl`) and `done`, the last sequence handled.
Writes are grouped: every `put` waiting while one write is under way goes into the next, with one fsync for
all of them. A torn line at the end of a segment (a crash in mid-write, never acknowledged) is skipped. A
payload whose handler fails for another reason than storage is a bug or bad input: it is logged, kept in
`failed.jsonl`, and passed over so it does not hold up the others. Answers come first: while a webhook is
being answered (`answer()`), the worker stores at most one payload (or run) every 20 ms, so a burst is
acknowledged at once and stored in the gaps (`waiting` and the `cc_inbox_waiting` gauge show the backlog).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import json
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

STORAGE_ERRORS = (SQLAlchemyError, OSError, asyncio.TimeoutError, ConnectionError)
SEGMENT_ENTRIES = 10_000
BUSY_PAUSE_SECONDS = 0.02  # while webhooks are being answered, store at most one payload per pause
FIRST_RETRY_SECONDS = 0.5
LONGEST_RETRY_SECONDS = 30.0

MAX_TOGETHER = 50  # payloads handed over together at most

Handler = Callable[[str, dict[str, str], float], Awaitable[None]]
TogetherHandler = Callable[[str, list["Entry"]], Awaitable[None]]


class InboxFull(RuntimeError):
    """More payloads wait than the inbox may hold: the sender should try again later."""


class InboxInUse(RuntimeError):
    """Another process holds this inbox's directory: each process needs a data directory of its own."""


@dataclass(frozen=True)
class Entry:
    """One payload: its place in the inbox, what kind it is, the form, and when it arrived (epoch seconds)."""

    sequence: int
    kind: str
    form: dict[str, str]
    received_at: float


class Inbox:
    """Payloads on disk in arrival order, handed to `handler` one after another by a worker task (or, for the
    kinds in `together_kinds`, a run of them at once to `together`)."""

    def __init__(
        self,
        directory: Path,
        handler: Handler,
        *,
        max_waiting: int = 100_000,
        segment_entries: int = SEGMENT_ENTRIES,
        together: TogetherHandler | None = None,
        together_kinds: frozenset[str] = frozenset(),
    ) -> None:
        self.directory, self.handler, self.max_waiting = directory, handler, max_waiting
        self.together, self.together_kinds = together, together_kinds
        self.segment_entries = segment_entries
        self._waiting: deque[Entry] = deque()
        self._unwritten: list[tuple[Entry, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._next_sequence = 1
        self._done = 0
        self._alone = 0  # payloads at the head to hand over one by one (their run failed)
        self._segment: tuple[int, int, int] | None = None  # (first sequence, entries, file descriptor)
        self._lock: int | None = None
        self.stored = 0
        self.failed = 0
        self.answering = 0  # webhooks being answered now: storing gives way to them

    # lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> int:
        """Read what an earlier run left unhandled and start the worker; returns how many payloads wait."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        self._done = self._read_done()
        last = self._done
        for entry in self._read_entries():
            last = max(last, entry.sequence)
            if entry.sequence > self._done:
                self._waiting.append(entry)
        self._next_sequence = last + 1
        self._remove_finished_segments()
        self._worker = asyncio.create_task(self._work(), name="inbox worker")
        if self._waiting:
            log.info("inbox %s: %d payloads from an earlier run to store", self.directory, len(self._waiting))
            self._arrived.set()
        return len(self._waiting)

    async def close(self) -> None:
        """Finish writing, stop the worker (what it did not handle is handled at the next start)."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._write_done()
        if self._segment is not None:
            os.close(self._segment[2])
            self._segment = None
        if self._lock is not None:
            os.close(self._lock)  # releases the lock
            self._lock = None

    def _take_lock(self) -> None:
        descriptor = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise InboxInUse(
                f"the inbox {self.directory} is in use by another process; "
                "give every process its own CC_DATA_DIR"
            ) from None
        self._lock = descriptor

    # writing -----------------------------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        """Payloads written but not yet handled."""
        return len(self._waiting)

    async def put(self, kind: str, form: dict[str, str], received_at: float) -> None:
        """Keep one payload; returns once it is on disk (InboxFull when too many wait, OSError on a
        failed write)."""
        if len(self._waiting) + len(self._unwritten) >= self.max_waiting:
            raise InboxFull(f"{self.max_waiting} payloads are waiting to be stored")
        entry = Entry(self._next_sequence, kind, dict(form), received_at)
        self._next_sequence += 1
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unwritten.append((entry, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        await written

    async def _write_all(self) -> None:
        """Write every waiting payload, one fsync per group, until none is left; then the worker has them."""
        while self._unwritten:
            group, self._unwritten = self._unwritten, []
            try:
                await asyncio.to_thread(self._append, [entry for entry, _ in group])
            except OSError as exc:
                for _, written in group:
                    written.set_exception(exc)
                continue
            for entry, written in group:
                self._waiting.append(entry)
                written.set_result(None)
            self._settled.clear()
            self._arrived.set()

    def _append(self, entries: list[Entry]) -> None:
        if self._segment is None or self._segment[1] >= self.segment_entries:
            if self._segment is not None:
                os.close(self._segment[2])
            path = self.directory / f"{entries[0].sequence:012d}.jsonl"
            self._segment = (
                entries[0].sequence,
                0,
                os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            )
        first, count, descriptor = self._segment
        os.write(descriptor, b"".join(_line(entry) for entry in entries))
        os.fsync(descriptor)
        self._segment = (first, count + len(entries), descriptor)

    @contextlib.contextmanager
    def answer(self) -> Iterator[None]:
        """Around the answer to a webhook: while any is under way, storing slows down to give way."""
        self.answering += 1
        try:
            yield
        finally:
            self.answering -= 1

    # handling ----------------------------------------------------------------------------------------

    def wake(self) -> None:
        """Try a payload that failed for want of storage now rather than after its backoff."""
        if self._waiting:
            self._settled.clear()
        self._wake.set()

    def pause(self) -> None:
        """Stop handing payloads over (they are still accepted and kept), e.g. during maintenance."""
        self._resumed.clear()

    def resume(self) -> None:
        """Hand payloads over again."""
        self._resumed.set()

    async def settled(self) -> int:
        """Wait until every payload so far was handled, or the worker waits for storage to come back or
        is paused; returns how many payloads still wait."""
        while self._waiting and self._resumed.is_set() and not self._settled.is_set():
            await self._settled.wait()
        return len(self._waiting)

    async def _work(self) -> None:
        retry = FIRST_RETRY_SECONDS
        while True:
            if not self._waiting:
                self._settled.set()
                self._arrived.clear()
                await self._arrived.wait()
                continue
            await self._resumed.wait()
            if self.answering:  # answers first: a burst is acknowledged now and stored in the gaps
                await asyncio.sleep(BUSY_PAUSE_SECONDS)
            together = self._next_together()
            if len(together) > 1 and await self._handled_together(together):
                self.stored += len(together)
                for _ in together:
                    self._finish()
                retry = FIRST_RETRY_SECONDS
                continue
            entry = self._waiting[0]
            try:
                await self.handler(entry.kind, entry.form, entry.received_at)
            except STORAGE_ERRORS as exc:
                log.warning(
                    "inbox: %s %d cannot be stored yet (%s); retrying", entry.kind, entry.sequence, exc
                )
                self._settled.set()
                await self._backoff(retry)
                retry = min(retry * 2, LONGEST_RETRY_SECONDS)
                continue
            except Exception:
                log.exception("inbox: %s %d failed; kept in failed.jsonl", entry.kind, entry.sequence)
                self.failed += 1
                self._keep_failed(entry)
            else:
                self.stored += 1
            retry = FIRST_RETRY_SECONDS
            self._finish()

    def _next_together(self) -> list[Entry]:
        """The payloads at the head that may be handed over together: of one kind that has a `together`
        handler, in arrival order, at most MAX_TOGETHER."""
        kind = self._waiting[0].kind
        if self.together is None or kind not in self.together_kinds or self._alone:
            return []
        entries = []
        for entry in itertools.islice(self._waiting, MAX_TOGETHER):
            if entry.kind != kind:
                break
            entries.append(entry)
        return entries

    async def _handled_together(self, entries: list[Entry]) -> bool:
        """Hand several payloads over at once; False if that failed, and they are then handled one by one,
        each with its own retries or place in failed.jsonl (handlers are idempotent, so what the failed
        attempt did is not done twice)."""
        assert self.together is not None
        try:
            await self.together(entries[0].kind, entries)
        except Exception as exc:
            log.info("inbox: %d %s payloads are stored one by one (%s)", len(entries), entries[0].kind, exc)
            self._alone = len(entries)
            return False
        return True

    def _finish(self) -> None:
        """The payload at the head was handled (or kept as failed): it leaves the inbox."""
        entry = self._waiting.popleft()
        self._done = entry.sequence
        self._alone = max(0, self._alone - 1)
        if entry.sequence % 256 == 0 or not self._waiting:
            self._write_done()
            self._remove_finished_segments()

    async def _backoff(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._settled.clear()

    # files -------------------------------------------------------------------------------------------

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob("[0-9]*.jsonl"))

    def _read_entries(self) -> list[Entry]:
        entries = []
        for path in self._segments():
            for number, raw in enumerate(path.read_bytes().splitlines(), 1):
                try:
                    data = json.loads(raw)
                    entries.append(
                        Entry(int(data["seq"]), str(data["kind"]), data["form"], float(data["at"]))
                    )
                except (ValueError, KeyError, TypeError):
                    log.warning(
                        "inbox: skipped an unreadable line %s:%d (a write cut short)", path.name, number
                    )
        return sorted(entries, key=lambda entry: entry.sequence)

    def _read_done(self) -> int:
        try:
            return int((self.directory / "done").read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _write_done(self) -> None:
        temporary = self.directory / ".done.tmp"
        temporary.write_text(str(self._done))
        temporary.replace(self.directory / "done")

    def _remove_finished_segments(self) -> None:
        """Delete segments whose every payload was handled, except the one being written."""
        segments = self._segments()
        for path, following in itertools.pairwise(segments):
            if int(following.stem) - 1 <= self._done:
                path.unlink(missing_ok=True)

    def _keep_failed(self, entry: Entry) -> None:
        with (self.directory / "failed.jsonl").open("ab") as file:
            file.write(_line(entry))


def _line(entry: Entry) -> bytes:
    """One payload as a line of JSON."""
    data = {"seq": entry.sequence, "kind": entry.kind, "form": entry.form, "at": entry.received_at}
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class InboxCollector:
    """Prometheus figures of an inbox: payloads waiting, stored and failed."""

    def __init__(self, inbox: Inbox, name: str) -> None:
        self.inbox, self.name = inbox, name

    def collect(self) -> Iterator[Metric]:
        """The figures as they are now."""
        waiting = GaugeMetricFamily("cc_inbox_waiting", "Payloads not yet stored", labels=["inbox"])
        waiting.add_metric([self.name], self.inbox.waiting)
        stored = CounterMetricFamily("cc_inbox_stored", "Payloads stored", labels=["inbox"])
        stored.add_metric([self.name], self.inbox.stored)
        failed = CounterMetricFamily("cc_inbox_failed", "Payloads kept in failed.jsonl", labels=["inbox"])
        failed.add_metric([self.name], self.inbox.failed)
        yield from (waiting, stored, failed)

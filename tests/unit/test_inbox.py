"""The durable inbox: on disk before the answer, handled in order, kept across restarts and outages."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from channels.inbox import MAX_TOGETHER, Entry, Inbox, InboxFull, InboxInUse


class Recorder:
    """A handler that records what it was given; it can be told to fail."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, dict[str, str], float]] = []
        self.storage_down = False
        self.bad: set[str] = set()

    async def __call__(self, kind: str, form: dict[str, str], received_at: float) -> None:
        if self.storage_down:
            raise OperationalError("INSERT", {}, Exception("database is away"))
        if form.get("id") in self.bad:
            raise ValueError("a bug or bad input")
        self.handled.append((kind, form, received_at))

    def ids(self) -> list[str]:
        return [form["id"] for _, form, _ in self.handled]


class RunRecorder:
    """A handler of runs: records each run's ids, handing every payload to `single` (so a run fails where
    one of its payloads would)."""

    def __init__(self, single: Recorder) -> None:
        self.single, self.runs = single, []

    async def __call__(self, kind: str, entries: list[Entry]) -> None:
        self.runs.append([entry.form["id"] for entry in entries])
        for entry in entries:
            await self.single(kind, entry.form, entry.received_at)


async def opened(directory: Path, handler: Recorder, **options: Any) -> Inbox:
    inbox = Inbox(directory, handler, **options)
    await inbox.start()
    return inbox


async def held(inbox: Inbox, payloads: list[tuple[str, str]]) -> None:
    """Put the payloads while the worker is paused, then let it go: they wait together."""
    inbox.pause()
    for kind, id_ in payloads:
        await inbox.put(kind, {"id": id_}, 1.0)
    inbox.resume()


async def test_payloads_written_together_are_handled_in_order_with_their_kind_and_time(tmp_path):
    handler = Recorder()
    inbox = await opened(tmp_path, handler)
    await asyncio.gather(*(inbox.put("sms", {"id": str(n)}, 1000.0 + n) for n in range(50)))
    assert await inbox.settled() == 0
    assert handler.ids() == [str(n) for n in range(50)]
    assert handler.handled[7] == ("sms", {"id": "7"}, 1007.0)
    await inbox.close()


async def test_what_was_not_handled_before_a_stop_is_handled_after_the_next_start(tmp_path):
    handler = Recorder()
    inbox = await opened(tmp_path, handler)
    await inbox.put("call", {"id": "a"}, 1.0)
    assert await inbox.settled() == 0
    inbox.pause()
    await inbox.put("call", {"id": "b"}, 2.0)
    await inbox.put("call", {"id": "c"}, 3.0)
    await inbox.close()
    assert handler.ids() == ["a"]

    again = Recorder()
    inbox = await opened(tmp_path, again)
    assert await inbox.settled() == 0
    assert again.ids() == ["b", "c"]
    await inbox.put("call", {"id": "d"}, 4.0)  # numbering goes on after what is on disk
    assert await inbox.settled() == 0
    await inbox.close()
    third = Recorder()
    inbox = await opened(tmp_path, third)
    assert await inbox.settled() == 0 and third.ids() == []
    await inbox.close()


async def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path):
    handler = Recorder()
    inbox = await opened(tmp_path, handler)
    inbox.pause()
    await inbox.put("sms", {"id": "whole"}, 1.0)
    await inbox.close()
    [segment] = tmp_path.glob("*.jsonl")
    with segment.open("ab") as file:
        file.write(b'{"seq":2,"kind":"sms","fo')  # the process died in mid-write: never acknowledged
    again = Recorder()
    inbox = await opened(tmp_path, again)
    assert await inbox.settled() == 0
    assert again.ids() == ["whole"]
    await inbox.close()


async def test_while_storage_is_down_payloads_wait_in_order_and_are_stored_once_it_is_back(tmp_path):
    handler = Recorder()
    handler.storage_down = True
    inbox = await opened(tmp_path, handler)
    await inbox.put("sms", {"id": "1"}, 1.0)
    await inbox.put("sms", {"id": "2"}, 2.0)
    assert await inbox.settled() == 2
    handler.storage_down = False
    inbox.wake()
    assert await inbox.settled() == 0
    assert handler.ids() == ["1", "2"]
    await inbox.close()


async def test_a_payload_that_fails_otherwise_is_kept_aside_and_does_not_hold_up_the_rest(tmp_path):
    handler = Recorder()
    handler.bad = {"2"}
    inbox = await opened(tmp_path, handler)
    for n in "123":
        await inbox.put("sms", {"id": n}, 1.0)
    assert await inbox.settled() == 0
    assert handler.ids() == ["1", "3"]
    assert inbox.failed == 1 and inbox.stored == 2
    [kept] = (tmp_path / "failed.jsonl").read_text().splitlines()
    assert json.loads(kept)["form"] == {"id": "2"}
    await inbox.close()


async def test_a_full_inbox_refuses_more(tmp_path):
    inbox = await opened(tmp_path, Recorder(), max_waiting=2)
    inbox.pause()
    await inbox.put("sms", {"id": "1"}, 1.0)
    await inbox.put("sms", {"id": "2"}, 1.0)
    with pytest.raises(InboxFull):
        await inbox.put("sms", {"id": "3"}, 1.0)
    await inbox.close()


async def test_segments_whose_payloads_were_all_handled_are_removed(tmp_path):
    handler = Recorder()
    inbox = await opened(tmp_path, handler, segment_entries=3)
    for n in range(10):
        await inbox.put("sms", {"id": str(n)}, 1.0)
        await inbox.settled()
    assert handler.ids() == [str(n) for n in range(10)]
    assert [path.name for path in sorted(tmp_path.glob("*.jsonl"))] == ["000000000010.jsonl"]
    await inbox.close()


async def test_the_files_are_private_to_the_service(tmp_path):
    inbox = await opened(tmp_path, Recorder())
    await inbox.put("sms", {"id": "1", "Body": "my card number"}, 1.0)
    await inbox.close()
    [segment] = tmp_path.glob("*.jsonl")
    assert segment.stat().st_mode & 0o077 == 0


async def test_two_processes_cannot_share_one_inbox(tmp_path):
    inbox = await opened(tmp_path, Recorder())
    with pytest.raises(InboxInUse, match="its own CC_DATA_DIR"):
        await opened(tmp_path, Recorder())
    await inbox.close()
    again = await opened(tmp_path, Recorder())  # free once the first one closed
    await again.close()


async def test_while_webhooks_are_being_answered_storing_gives_way(tmp_path):
    handler = Recorder()
    inbox = await opened(tmp_path, handler)
    with inbox.answer():
        await inbox.put("sms", {"id": "1"}, 1.0)
        for _ in range(5):
            await asyncio.sleep(0)  # the loop turns, the worker waits for a gap
        assert handler.ids() == []
    assert await inbox.settled() == 0
    assert handler.ids() == ["1"]
    await inbox.close()


async def test_waiting_runs_of_a_kind_with_a_run_handler_go_together_in_order(tmp_path):
    handler = Recorder()
    runs = RunRecorder(handler)
    inbox = await opened(tmp_path, handler, together=runs, together_kinds=frozenset({"sms"}))
    count = MAX_TOGETHER + 2
    payloads = [("sms", "a"), ("sms", "b"), ("call", "c"), ("sms", "d")]
    await held(inbox, [*payloads, *(("sms", f"s{n}") for n in range(count))])
    assert await inbox.settled() == 0
    # "c" is of another kind: it ends the first run and goes alone; a run holds MAX_TOGETHER at most
    cut = MAX_TOGETHER - 1
    long_run = [f"s{n}" for n in range(count)]
    assert runs.runs == [["a", "b"], ["d", *long_run[:cut]], long_run[cut:]]
    assert handler.ids() == ["a", "b", "c", "d", *(f"s{n}" for n in range(count))]
    assert inbox.stored == 4 + count
    await inbox.close()
    again = Recorder()
    await (await opened(tmp_path, again)).close()  # everything was marked done
    assert again.ids() == []


async def test_a_run_that_fails_is_handled_one_by_one_and_only_the_bad_payload_is_kept_aside(tmp_path):
    """After its run failed, each payload is handed over alone, once: a bad payload deep in a long run does
    not make the run be tried again for each payload before it."""
    handler = Recorder()
    handler.bad = {"2"}
    runs = RunRecorder(handler)
    inbox = await opened(tmp_path, handler, together=runs, together_kinds=frozenset({"sms"}))
    await held(inbox, [("sms", n) for n in "1234"])
    assert await inbox.settled() == 0
    assert runs.runs == [["1", "2", "3", "4"]]
    # the failed run had handled "1" before failing: handlers are idempotent, and this one records twice
    assert handler.ids() == ["1", "1", "3", "4"]
    assert (inbox.stored, inbox.failed) == (3, 1)
    [kept] = (tmp_path / "failed.jsonl").read_text().splitlines()
    assert json.loads(kept)["form"] == {"id": "2"}
    await inbox.close()


async def test_while_storage_is_down_a_run_waits_and_is_stored_once_it_is_back(tmp_path):
    handler = Recorder()
    handler.storage_down = True
    runs = RunRecorder(handler)
    inbox = await opened(tmp_path, handler, together=runs, together_kinds=frozenset({"sms"}))
    await held(inbox, [("sms", n) for n in "123"])
    assert await inbox.settled() == 3
    handler.storage_down = False
    inbox.wake()
    assert await inbox.settled() == 0
    assert runs.runs == [["1", "2", "3"]]  # it failed, so its payloads went one by one, with retries
    assert handler.ids() == ["1", "2", "3"]
    await inbox.close()

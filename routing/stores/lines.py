"""Waiting lines for the in-memory store: one sorted line per queue, in serving order.

A task stands in the line of every queue among its targets. Agents are offered work by merging the lines
they may serve; a line is skipped when the agent lacks a skill its queue requires, unless the line holds a
"lenient" task whose target there asks for less than the queue does (a transfer to a named agent), which a
counter per line tracks, so the shortcut never hides a task the agent could take.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Collection, Iterator, Mapping

from routing.model import Task

Entry = tuple[float, int, str]


class WaitingLines:
    """Sorted lines of task ids by (score, arrival sequence)."""

    def __init__(self) -> None:
        self._lines: dict[str, list[Entry]] = {}
        self._entry: dict[str, tuple[float, int]] = {}
        self._targets: dict[str, list[tuple[str, frozenset[str]]]] = {}
        self._required: dict[str, frozenset[str]] = {}
        self._lenient: dict[str, int] = {}
        self._seq = itertools.count()

    def configure(self, queue: str, skills: Mapping[str, int]) -> None:
        """Declare a queue and the skill levels its own target requires."""
        self._lines.setdefault(queue, [])
        self._required[queue] = required(skills)
        self._lenient[queue] = sum(
            1
            for _, _, task_id in self._lines[queue]
            for name, skills in self._targets[task_id]
            if name == queue and self._is_lenient(name, skills)
        )

    def enter(self, task: Task, score: float) -> None:
        """Put the task in its targets' lines, keeping its arrival place if it already stood in line."""
        kept = self._entry.get(task.id)
        self.leave(task.id)
        entry = (score, kept[1] if kept else next(self._seq))
        self._entry[task.id] = entry
        targets = [(t.queue, required(t.skills)) for t in task.targets]
        self._targets[task.id] = targets
        for queue in {name for name, _ in targets}:
            bisect.insort(self._lines.setdefault(queue, []), (*entry, task.id))
        for name, skills in targets:
            if self._is_lenient(name, skills):
                self._lenient[name] = self._lenient.get(name, 0) + 1

    def leave(self, task_id: str) -> None:
        """Take the task out of every line."""
        entry = self._entry.pop(task_id, None)
        if entry is None:
            return
        targets = self._targets.pop(task_id)
        for name, skills in targets:
            if self._is_lenient(name, skills):
                self._lenient[name] -= 1
        item = (*entry, task_id)
        for queue in {name for name, _ in targets}:
            line = self._lines[queue]
            index = bisect.bisect_left(line, item)
            if index < len(line) and line[index] == item:
                del line[index]

    def line(self, queue: str) -> list[str]:
        """Task ids of one queue's line, in serving order."""
        return [task_id for _, _, task_id in self._lines.get(queue, [])]

    def queues(self) -> list[str]:
        """Every queue with a line."""
        return list(self._lines)

    def merged(
        self, queues: Collection[str] | None = None, skills: Collection[str] | None = None, limit: int = 2000
    ) -> Iterator[str]:
        """Task ids across the lines (all, or `queues`) in serving order, each once, `limit` at most.

        With `skills`, lines whose queue requires a skill not among them are skipped (unless lenient).
        """
        names = self._lines.keys() if queues is None else [q for q in queues if q in self._lines]
        if skills is not None:
            held = frozenset(skills)
            names = [q for q in names if self._required.get(q, frozenset()) <= held or self._lenient.get(q)]
        seen: set[str] = set()
        for count, (_, _, task_id) in enumerate(heapq.merge(*(self._lines[n] for n in names))):
            if count >= limit:
                return
            if task_id not in seen:
                seen.add(task_id)
                yield task_id

    def _is_lenient(self, queue: str, skills: frozenset[str]) -> bool:
        return not self._required.get(queue, frozenset()) <= skills


def required(skills: Mapping[str, int]) -> frozenset[str]:
    """The skills really required: a level of 0 is met by an agent without the skill (policies.meets)."""
    return frozenset(skill for skill, level in skills.items() if level > 0)

"""Routing fixtures: an engine on each store, driven by a manual clock."""

from __future__ import annotations

import pytest

from routing.engine import RoutingEngine
from routing.model import RoutingEvent
from routing.stores.memory import MemoryStore


class Clock:
    """Seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """Every routing event, in order."""

    def __init__(self) -> None:
        self.events: list[RoutingEvent] = []

    def __call__(self, event: RoutingEvent) -> None:
        self.events.append(event)

    def kinds(self, kind: str) -> list[RoutingEvent]:
        return [e for e in self.events if e.kind == kind]

    def last_offer(self, agent_id: str | None = None) -> RoutingEvent:
        offers = [e for e in self.kinds("task.offered") if agent_id in (None, e.agent_id)]
        assert offers, "no offer was made"
        return offers[-1]


STORES = ["memory"]


def make_store(kind: str):
    if kind == "memory":
        return MemoryStore()
    raise ValueError(kind)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=STORES)
def store(request):
    return make_store(request.param)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def engine(store, clock, recorder) -> RoutingEngine:
    engine = RoutingEngine(store, clock)
    engine.subscribe(recorder)
    return engine

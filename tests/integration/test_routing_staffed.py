"""The count of staffed agents that chat's "is anyone there" asks for: read at most once a second."""

from __future__ import annotations

from contact_center.events import InProcessBus
from contact_center.routing_service.service import RoutingService
from routing.model import Presence
from routing.stores.memory import MemoryStore


async def test_the_staffed_count_stands_a_second_and_is_taken_afresh_after_a_presence_change_here(
    sessions, clock, staff
) -> None:
    service = RoutingService(MemoryStore(), sessions, InProcessBus(clock), clock)
    await service.reload()
    agent, supervisor = staff["agent"]["id"], staff["supervisor"]["id"]
    assert await service.agents_staffed() == 0

    await service.set_presence(agent, Presence.AVAILABLE)  # through this process: counted afresh
    assert await service.agents_staffed() == 1

    await service.engine.set_presence(str(supervisor), Presence.AVAILABLE)  # as another process would
    assert await service.agents_staffed() == 1  # the count stands for a second
    clock.advance(seconds=1)
    assert await service.agents_staffed() == 2

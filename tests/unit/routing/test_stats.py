"""Statistics against hand-computed figures."""

from routing.model import RoutingEvent
from routing.stats import LiveStatistics


def event(kind, at, queue="q", agent=None, **data):
    return RoutingEvent(kind, at, task_id="t", agent_id=agent, queue=queue, data=data)


def test_service_level_counts_abandons_after_target_only():
    stats = LiveStatistics(target_seconds=lambda queue: 20)
    for n in range(10):
        stats(event("task.queued", n))
    for wait in (5, 10, 19, 20, 35, 60):  # 4 within 20 s, 2 after
        stats(event("task.accepted", 100, wait=wait))
    stats(event("task.abandoned", 100, wait=8))  # before target: counts for neither
    stats(event("task.abandoned", 100, wait=25))  # after target: counts against
    q = stats.queues["q"]
    assert q.service_level == 4 / (6 + 1)
    assert q.average_speed_of_answer == (5 + 10 + 19 + 20 + 35 + 60) / 6
    assert q.abandon_rate == 2 / 10 and q.offered == 10


def test_handle_time_and_occupancy():
    stats = LiveStatistics(target_seconds=lambda queue: 20)
    stats(event("agent.state", 0, agent="a", presence="available"))
    stats(event("task.accepted", 100, agent="a", wait=0))
    stats(event("task.wrapped", 400, agent="a", handle=300))
    stats(event("agent.state", 500, agent="a", presence="away"))
    # busy 100..400 = 300 s; available and idle 0..100 and 400..500 = 200 s; away after 500 not counted
    assert stats.occupancy(now=900) == 300 / 500
    assert stats.queues["q"].average_handle_time == 300

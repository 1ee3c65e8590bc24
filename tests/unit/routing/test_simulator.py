"""The simulator drives the real engine and agrees with queueing theory.

Run lengths were chosen from the spread measured over six seeds (docs/routing.md): at these lengths one
run's standard deviation is about a quarter of the tolerance for service level and p_wait, and under half of
it for ASA. Seed 1 is used throughout.
"""

import asyncio

import pytest

from routing import erlang, erlang_a
from routing.model import QueueConfig
from routing.simulator import AgentGroup, Scenario, Stream, simulate, single_queue


def run(scenario):
    return asyncio.run(simulate(scenario))


@pytest.mark.parametrize(
    ("agents", "arrivals_per_hour", "aht", "hours"),
    [
        (4, 37.5, 240, 2500),  # 2.5 Erlangs, 62% occupancy
        (8, 90, 240, 1500),  # 6 Erlangs, 75%
        (20, 225, 240, 800),  # 15 Erlangs, 75%
    ],
)
def test_single_queue_agrees_with_erlang_c(agents, arrivals_per_hour, aht, hours):
    result = run(single_queue(agents, arrivals_per_hour, aht, target_seconds=20, hours=hours, seed=1))
    load = erlang.offered_load(arrivals_per_hour, aht)
    assert result["abandoned"] == 0
    assert result["service_level"] == pytest.approx(erlang.service_level(agents, load, aht, 20), abs=0.02)
    assert result["p_wait"] == pytest.approx(erlang.erlang_c(agents, load), abs=0.02)
    assert result["asa_seconds"] == pytest.approx(erlang.average_speed_of_answer(agents, load, aht), rel=0.15)
    assert result["occupancy"] == pytest.approx(load / agents, abs=0.02)


def test_with_patience_it_agrees_with_erlang_a():
    agents, rate, aht, patience = 8, 110, 240, 180
    result = run(single_queue(agents, rate, aht, hours=1500, seed=1, patience_seconds=patience))
    predicted = erlang_a.erlang_a(agents, erlang.offered_load(rate, aht), aht, patience, 20)
    assert result["abandon_rate"] == pytest.approx(predicted.p_abandon, abs=0.02)
    assert result["p_wait"] == pytest.approx(predicted.p_wait, abs=0.02)
    assert result["service_level"] == pytest.approx(
        predicted.service_level_excluding_early_abandons, abs=0.02
    )


def two_skills(skill_based: bool) -> Scenario:
    """Billing and tech specialists; a contact served by the other kind takes 1.4 times as long."""
    needs = (lambda skill: {skill: 5}) if skill_based else (lambda skill: {})
    return Scenario(
        queues=[
            QueueConfig("billing", skills=needs("billing"), wrap_up_seconds=0, missed_offers_limit=0),
            QueueConfig("tech", skills=needs("tech"), wrap_up_seconds=0, missed_offers_limit=0),
        ],
        groups=[AgentGroup("billing", 10, {"billing": 8}), AgentGroup("tech", 10, {"tech": 8})],
        streams=[Stream("billing", 105, 240, skill="billing"), Stream("tech", 105, 240, skill="tech")],
        hours=150,
        seed=1,
        unskilled_factor=1.4,
    )


def test_skill_based_routing_beats_skill_blind_assignment():
    skill_based, blind = run(two_skills(True)), run(two_skills(False))
    assert skill_based["service_level"] > blind["service_level"] + 0.05
    assert skill_based["asa_seconds"] < blind["asa_seconds"]


def test_same_seed_same_result():
    scenario = single_queue(5, 60, 240, hours=20, seed=7)
    assert run(scenario) == run(scenario)

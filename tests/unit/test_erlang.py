"""Staffing mathematics: Erlang C and Erlang A, each checked against an independent computation."""

import json
import math
import random
from collections import deque
from fractions import Fraction

import pytest

from routing.erlang import (
    ServiceLevelDefinition,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    erlang_c_figures,
    occupancy,
    offered_load,
    service_level,
    staffing,
)
from routing.erlang_a import (
    erlang_a,
    erlang_a_abandonment,
    erlang_a_average_speed_of_answer,
    erlang_a_p_wait,
    erlang_a_service_level,
    erlang_a_staffing,
)
from routing.staffing import (
    staffing_table,
)

# ---------------------------------------------------------------- independent references


def exact_p_wait(agents: int, load: int) -> Fraction:
    """P(an arrival finds every agent busy) from the M/M/N stationary distribution, in exact rationals."""
    weights = [Fraction(load**k, math.factorial(k)) for k in range(agents)]
    at_n = Fraction(load**agents, math.factorial(agents))
    busy = at_n * Fraction(agents, agents - load)  # sum over k >= N of at_n * (A/N)^(k-N)
    return busy / (sum(weights) + busy)


def chain(
    agents: int, load: float, aht: float, patience: float = math.inf, states: int = 4000
) -> list[float]:
    """The stationary distribution of the birth-death chain, by plain products, truncated at `states`."""
    lam, mu, theta = load / aht, 1 / aht, (0.0 if patience == math.inf else 1 / patience)
    weights = [1.0]
    for k in range(1, states):
        weights.append(weights[-1] * lam / (min(k, agents) * mu + max(k - agents, 0) * theta))
    total = sum(weights)
    return [w / total for w in weights]


def erlang_c_wait_tail(agents: int, load: float, aht: float, t: float) -> float:
    """P(wait > t): a caller finding N+m in the system waits for m+1 departures at rate N/AHT."""
    pi = chain(agents, load, aht)
    rate_t = agents / aht * t
    tail, poisson_cdf, term = 0.0, 0.0, math.exp(-rate_t)
    for m, p in enumerate(pi[agents:]):
        poisson_cdf += term  # P(Poisson(rate_t) <= m) = P(Erlang(m+1) > t)
        term *= rate_t / (m + 1)
        tail += p * poisson_cdf
    return tail


def tagged_caller(m: int, c: float, theta: float, t: float) -> tuple[float, float]:
    """(P(answered by t), P(abandoned by t)) for a caller finding m waiting, by uniformising its own chain.

    With j callers ahead it moves up at rate c + j*theta (a service start or an abandon ahead) and gives up at
    rate theta; j = 0 moves into service.
    """
    rate = c + (m + 1) * theta
    ahead = [0.0] * m + [1.0]  # index j: j callers ahead
    answered = abandoned = 0.0
    weight = math.exp(-rate * t)
    total_answered = total_abandoned = 0.0
    steps = int(rate * t + 12 * math.sqrt(rate * t) + 40)
    for n in range(steps + 1):
        total_answered += weight * answered
        total_abandoned += weight * abandoned
        moved = [0.0] * (m + 1)
        for j, p in enumerate(ahead):
            if p == 0.0:
                continue
            forward = p * (c + j * theta) / rate
            if j == 0:
                answered += forward
            else:
                moved[j - 1] += forward
            abandoned += p * theta / rate
            moved[j] += p * (m - j) * theta / rate  # the uniformisation's self-loop
        ahead = moved
        weight *= rate * t / (n + 1)
    return total_answered, total_abandoned


def simulate(
    agents: int, arrivals_per_second: float, aht: float, patience: float, target: float, callers: int
):
    """A seeded discrete-event run of M/M/N+M with a first-come-first-served queue."""
    rng = random.Random(20240611)
    now, busy, queue = 0.0, 0, deque()
    arrived = delayed = answered = abandoned = in_time = early_abandons = 0
    answered_wait, warmup = 0.0, 2000
    while arrived < callers + warmup:
        rate = arrivals_per_second + busy / aht
        now += rng.expovariate(rate)
        if rng.random() * rate < arrivals_per_second:
            arrived += 1
            counted = arrived > warmup
            if busy < agents:
                busy += 1
                answered += counted
                in_time += counted
            else:
                delayed += counted
                queue.append((now, now + rng.expovariate(1 / patience), counted))
            continue
        busy -= 1
        while queue and queue[0][1] <= now:
            start, deadline, counted = queue.popleft()
            abandoned += counted
            early_abandons += counted and deadline - start <= target
        if queue:
            start, _, counted = queue.popleft()
            busy += 1
            if counted:
                answered += 1
                answered_wait += now - start
                in_time += now - start <= target
    offered = answered + abandoned
    return {
        "p_wait": delayed / callers,
        "p_abandon": abandoned / offered,
        "service_level": in_time / offered,
        "excluding_early": in_time / (offered - early_abandons),
        "asa": answered_wait / answered,
    }


# ---------------------------------------------------------------- Erlang C


def test_offered_load_is_arrivals_per_second_times_handle_time():
    assert offered_load(360, 240) == 24.0
    assert offered_load(200, 180) == pytest.approx(10.0)  # 100 calls per half hour, 3-minute calls


def test_one_agent_waits_with_probability_equal_to_utilisation():
    assert erlang_c(1, 0.5) == 0.5
    assert erlang_c(1, 0.9) == pytest.approx(0.9, rel=1e-14)


def test_erlang_b_and_c_of_a_small_case_match_hand_computation():
    # A=2, N=3: B = (8/6) / (1 + 2 + 2 + 8/6) = 4/19; C = (8/6 * 3) / (1 + 2 + 2 + 4) = 4/9
    assert erlang_b(3, 2.0) == pytest.approx(4 / 19, rel=1e-14)
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9, rel=1e-14)


@pytest.mark.parametrize(("agents", "load"), [(25, 24), (28, 24), (55, 48), (14, 10), (101, 100)])
def test_erlang_c_equals_the_exact_stationary_distribution(agents, load):
    assert erlang_c(agents, float(load)) == pytest.approx(float(exact_p_wait(agents, load)), rel=1e-12)


@pytest.mark.parametrize(("agents", "target"), [(25, 20.0), (28, 20.0), (30, 0.0), (26, 60.0)])
def test_service_level_equals_the_waiting_time_distribution(agents, target):
    expected = 1.0 - erlang_c_wait_tail(agents, 24.0, 240.0, target)
    assert service_level(agents, 24.0, 240.0, target) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("agents", [25, 28, 31])
def test_average_speed_of_answer_follows_littles_law(agents):
    pi = chain(agents, 24.0, 240.0)
    queue_length = sum((k - agents) * p for k, p in enumerate(pi) if k > agents)
    expected = queue_length / (24.0 / 240.0)  # mean wait = Lq / lambda
    assert average_speed_of_answer(agents, 24.0, 240.0) == pytest.approx(expected, rel=1e-10)


def test_classic_24_erlang_example():
    """360 calls/hour, AHT 240 s, 20 s target; figures verified by the three tests above."""
    low, target = erlang_c_figures(25, 24.0, 240, 20), erlang_c_figures(28, 24.0, 240, 20)
    assert (round(low.p_wait, 4), round(low.service_level, 4), round(low.asa_seconds, 2)) == (
        0.7785,
        0.2837,
        186.85,
    )
    assert (round(target.p_wait, 4), round(target.service_level, 4), round(target.asa_seconds, 2)) == (
        0.3331,
        0.7613,
        19.99,
    )
    assert target.occupancy == pytest.approx(24 / 28)


def test_published_worked_example():
    """The worked example of the widely copied "Erlang-C formula" page (also reproduced in Maxima).

    360 calls per half hour of 4 minutes (A = 48), 55 agents, 15 s: P_wait 0.2387, mean wait 8.184 s,
    answered within 15 s 0.8459.
    """
    load = offered_load(720, 240)
    assert round(erlang_c(55, load), 4) == 0.2387
    assert round(average_speed_of_answer(55, load, 240), 3) == 8.184
    assert round(service_level(55, load, 240, 15), 4) == 0.8459


def test_more_agents_never_make_it_worse():
    agents = range(25, 60)
    waits = [erlang_c(n, 24.0) for n in agents]
    levels = [service_level(n, 24.0, 240, 20) for n in agents]
    answers = [average_speed_of_answer(n, 24.0, 240) for n in agents]
    assert waits == sorted(waits, reverse=True) and len(set(waits)) == len(waits)
    assert levels == sorted(levels)
    assert answers == sorted(answers, reverse=True)


def test_large_centre_is_computed_without_overflow():
    agents, load = 5000, 4900.0
    log_terms = [k * math.log(load) - math.lgamma(k + 1) for k in range(agents)]
    log_busy = agents * math.log(load) - math.lgamma(agents + 1) + math.log(agents / (agents - load))
    peak = max([*log_terms, log_busy])
    busy = math.exp(log_busy - peak)
    expected = busy / (math.fsum(math.exp(t - peak) for t in log_terms) + busy)
    assert erlang_c(agents, load) == pytest.approx(expected, rel=1e-9)
    assert 0.0 < service_level(agents, load, 300, 20) < 1.0


def test_no_arrivals_means_no_waiting_and_one_agent():
    assert erlang_c(1, 0.0) == 0.0
    assert service_level(1, 0.0, 240, 20) == 1.0
    assert average_speed_of_answer(1, 0.0, 240) == 0.0
    assert staffing(0, 240, 0.8, 20).agents == 1


def test_too_few_agents_leave_the_queue_growing():
    assert erlang_c(24, 24.0) == 1.0 and erlang_c(10, 24.0) == 1.0
    assert service_level(24, 24.0, 240, 20) == 0.0
    assert average_speed_of_answer(20, 24.0, 240) == math.inf
    assert occupancy(20, 24.0) == 1.0


def test_staffing_finds_the_fewest_agents_reaching_the_target():
    result = staffing(360, 240, 0.8, 20)
    assert result.agents == 29
    assert service_level(28, 24.0, 240, 20) < 0.8 <= result.service_level
    assert result.p_wait == erlang_c(29, 24.0)


def test_staffing_respects_an_occupancy_cap():
    assert staffing(360, 240, 0.5, 20).agents == 27
    capped = staffing(360, 240, 0.5, 20, max_occupancy=0.8)
    assert capped.agents == 30 and capped.occupancy == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: offered_load(-1, 240), "arrivals_per_hour"),
        (lambda: offered_load(10, 0), "aht_seconds"),
        (lambda: offered_load(math.nan, 240), "arrivals_per_hour"),
        (lambda: erlang_c(0, 1.0), "agents"),
        (lambda: erlang_c(2.5, 1.0), "agents"),
        (lambda: erlang_c(2, -1.0), "load"),
        (lambda: erlang_c(2, math.inf), "load"),
        (lambda: service_level(2, 1.0, 240, -1), "target_seconds"),
        (lambda: staffing(360, 240, 1.0, 20), "target_service_level"),
        (lambda: staffing(360, 240, 0.0, 20), "target_service_level"),
        (lambda: staffing(360, 240, 0.8, 20, max_occupancy=1.5), "max_occupancy"),
        (lambda: erlang_a(2, 1.0, 240, 0), "patience_seconds"),
        (lambda: erlang_a(2, 1.0, 240, math.nan), "patience_seconds"),
        (lambda: staffing_table(360, 240, 0.8, 20, patience_seconds=-5), "patience_seconds"),
    ],
)
def test_invalid_inputs_raise_a_value_error_naming_the_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# ---------------------------------------------------------------- Erlang A


def test_erlang_a_tends_to_erlang_c_as_patience_grows():
    for agents in (25, 28, 32):
        c = erlang_c_figures(agents, 24.0, 240, 20)
        a = erlang_a(agents, 24.0, 240, 1e12, 20)  # the gap shrinks in proportion to 1/patience
        assert a.p_wait == pytest.approx(c.p_wait, abs=1e-6)
        assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
        assert a.service_level_excluding_early_abandons == pytest.approx(c.service_level, abs=1e-6)
        assert a.asa_seconds == pytest.approx(c.asa_seconds, rel=1e-6)
        assert a.occupancy == pytest.approx(c.occupancy, abs=1e-6)
        assert a.p_abandon < 1e-6


def test_infinite_patience_is_erlang_c():
    a = erlang_a(28, 24.0, 240, math.inf, 20)
    assert (a.p_wait, a.service_level, a.p_abandon) == (
        erlang_c(28, 24.0),
        service_level(28, 24.0, 240, 20),
        0,
    )


@pytest.mark.parametrize(
    ("agents", "load", "aht", "patience", "target"),
    [(3, 3.0, 60.0, 30.0, 12.0), (5, 4.0, 100.0, 120.0, 20.0), (4, 6.0, 180.0, 90.0, 30.0)],
)
def test_erlang_a_equals_the_chain_followed_caller_by_caller(agents, load, aht, patience, target):
    pi = chain(agents, load, aht, patience, states=agents + 120)
    c, theta = agents / aht, 1 / patience
    answered_in_time = sum(pi[:agents])
    early_abandons = p_abandon = served_wait = 0.0
    for m, p in enumerate(pi[agents:]):
        answered, abandoned = tagged_caller(m, c, theta, target)
        answered_in_time += p * answered
        early_abandons += p * abandoned
        p_abandon += p * (m + 1) * theta / (c + (m + 1) * theta)
        served_wait += p * c / (c + (m + 1) * theta) * sum(1 / (c + i * theta) for i in range(1, m + 2))
    result = erlang_a(agents, load, aht, patience, target)
    assert result.p_wait == pytest.approx(sum(pi[agents:]), abs=1e-12)
    assert result.p_abandon == pytest.approx(p_abandon, abs=1e-12)
    assert result.service_level == pytest.approx(answered_in_time, abs=1e-10)
    assert result.service_level_excluding_early_abandons == pytest.approx(
        answered_in_time / (1 - early_abandons), abs=1e-10
    )
    assert result.asa_seconds == pytest.approx(served_wait / (1 - p_abandon), rel=1e-10)
    busy = sum(min(k, agents) * p for k, p in enumerate(pi)) / agents
    assert result.occupancy == pytest.approx(busy, abs=1e-10)


def test_erlang_a_waits_end_in_an_answer_or_an_abandon():
    result = erlang_a(3, 3.0, 60, 30, 1e5)  # a target no caller outwaits
    assert result.service_level + result.p_abandon == pytest.approx(1.0, abs=1e-12)
    assert result.service_level_excluding_early_abandons == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    ("agents", "load", "aht", "patience", "target"),
    [(3, 3.0, 60.0, 30.0, 12.0), (8, 9.0, 100.0, 150.0, 20.0)],
)
def test_erlang_a_agrees_with_a_monte_carlo_run(agents, load, aht, patience, target):
    seen = simulate(agents, load / aht, aht, patience, target, callers=150_000)
    result = erlang_a(agents, load, aht, patience, target)
    assert seen["p_wait"] == pytest.approx(result.p_wait, abs=0.01)
    assert seen["p_abandon"] == pytest.approx(result.p_abandon, abs=0.01)
    assert seen["service_level"] == pytest.approx(result.service_level, abs=0.01)
    assert seen["excluding_early"] == pytest.approx(result.service_level_excluding_early_abandons, abs=0.01)
    assert seen["asa"] == pytest.approx(result.asa_seconds, rel=0.05)


def test_abandonment_keeps_an_understaffed_queue_finite():
    result = erlang_a(20, 24.0, 240, 120, 20)
    assert 0.0 < result.service_level < 1.0 and result.p_wait < 1.0
    assert 0.0 < result.p_abandon < 1.0 and math.isfinite(result.asa_seconds)


def test_erlang_a_single_figure_functions_match_the_result():
    result = erlang_a(26, 24.0, 240, 120, 20)
    assert erlang_a_p_wait(26, 24.0, 240, 120) == result.p_wait
    assert erlang_a_abandonment(26, 24.0, 240, 120) == result.p_abandon
    assert erlang_a_average_speed_of_answer(26, 24.0, 240, 120) == result.asa_seconds
    assert erlang_a_service_level(26, 24.0, 240, 120, 20) == result.service_level
    product = erlang_a_service_level(26, 24.0, 240, 120, 20, ServiceLevelDefinition.EXCLUDING_EARLY_ABANDONS)
    assert product == result.service_level_excluding_early_abandons > result.service_level


def test_erlang_a_staffing_finds_the_fewest_agents():
    result = erlang_a_staffing(360, 240, 120, 0.8, 20)
    below = erlang_a(result.agents - 1, 24.0, 240, 120, 20)
    assert below.service_level < 0.8 <= result.service_level
    assert result.agents <= staffing(360, 240, 0.8, 20).agents
    product = erlang_a_staffing(
        360, 240, 120, 0.8, 20, definition=ServiceLevelDefinition.EXCLUDING_EARLY_ABANDONS
    )
    assert product.agents <= result.agents


# ---------------------------------------------------------------- staffing tables


def test_staffing_table_shows_two_below_to_two_above():
    table = staffing_table(360, 240, 0.8, 20)
    assert table.required_agents == 29 and table.model == "erlang_c"
    assert [row.agents for row in table.rows] == [27, 28, 29, 30, 31]
    row = table.rows[2]
    assert row.service_level == service_level(29, 24.0, 240, 20) and row.abandon_rate is None
    assert (row.p_wait, row.asa_seconds, row.occupancy) == (
        erlang_c(29, 24.0),
        average_speed_of_answer(29, 24.0, 240),
        occupancy(29, 24.0),
    )


def test_staffing_table_never_goes_below_one_agent():
    table = staffing_table(10, 60, 0.8, 20)
    assert table.required_agents == 1
    assert [row.agents for row in table.rows] == [1, 2, 3]


def test_staffing_table_with_patience_reports_abandonment():
    table = staffing_table(360, 240, 0.8, 20, patience_seconds=120)
    assert table.model == "erlang_a" and table.required_agents == 26
    assert [row.agents for row in table.rows] == [24, 25, 26, 27, 28]
    for row in table.rows:
        result = erlang_a(row.agents, 24.0, 240, 120, 20)
        assert (row.service_level, row.abandon_rate) == (result.service_level, result.p_abandon)


def test_staffing_table_as_json_has_no_infinities():
    data = staffing_table(360, 240, 0.2, 20).to_dict()  # 25 agents needed: rows 23 and 24 are overloaded
    assert data["required_agents"] == 25 and data["rows"][0]["asa_seconds"] is None
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["required_agents"] == data["required_agents"]
    assert {"agents", "service_level", "p_wait", "asa_seconds", "occupancy", "abandon_rate"} <= set(
        data["rows"][0]
    )

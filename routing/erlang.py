"""Erlang C (M/M/N): probability of waiting, service level, speed of answer and staffing; input checks.

Conventions shared by routing.erlang_a and routing.staffing: arrivals per hour, times in seconds, load in
Erlangs (A = arrivals per second x AHT), service level a fraction in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from numbers import Real
from typing import Any

SECONDS_PER_HOUR = 3600.0
MAX_AGENTS = 10_000_000


class ServiceLevelDefinition(StrEnum):
    """How abandoned callers count in an Erlang A service level."""

    # answered within the target / all offered callers: every abandon is a miss (the conservative one)
    OFFERED = "offered"
    # answered within the target / (answered + abandoned after the target): the product's wallboard definition
    EXCLUDING_EARLY_ABANDONS = "excluding-early-abandons"


# ---------------------------------------------------------------- input checks


def check_number(name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be a finite {kind} number, got {value!r}")
    return number


def check_agents(agents: Any) -> int:
    """A finite number (positive when asked), or ValueError naming the input."""
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
        raise ValueError(f"agents must be a whole number of at least 1, got {agents!r}")
    return agents


def check_fraction(name: str, value: Any, *, allow_one: bool = False) -> float:
    """A whole number of agents from 1 to MAX_AGENTS, or ValueError."""
    number = check_number(name, value)
    if number <= 0 or number > 1 or (number == 1 and not allow_one):
        bounds = "(0, 1]" if allow_one else "(0, 1)"
        raise ValueError(f"{name} must be within {bounds}, got {value!r}")
    return number


def check_patience(value: Any) -> float:
    """A fraction in (0, 1) (or (0, 1] with allow_one), or ValueError naming the input."""
    if isinstance(value, Real) and not isinstance(value, bool) and value == math.inf:
        return math.inf
    return check_number("patience_seconds", value, positive=True)


# ---------------------------------------------------------------- Erlang C


def offered_load(arrivals_per_hour: float, aht_seconds: float) -> float:
    """A mean patience in seconds: positive, infinity allowed; or ValueError."""
    """The offered load in Erlangs: arrivals per second times the average handle time."""
    arrivals = check_number("arrivals_per_hour", arrivals_per_hour)
    aht = check_number("aht_seconds", aht_seconds, positive=True)
    return arrivals / SECONDS_PER_HOUR * aht


def erlang_b(agents: int, load: float) -> float:
    """The blocking probability of a loss system (Erlang B), by the stable recursion over agents."""
    n, a = check_agents(agents), check_number("load", load)
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(agents: int, load: float) -> float:
    """The probability that a caller has to wait (Erlang C); 1.0 when the agents cannot carry the load."""
    n, a = check_agents(agents), check_number("load", load)
    if n <= a:
        return 1.0
    b = erlang_b(n, a)
    return n * b / (n - a * (1.0 - b))


def service_level(agents: int, load: float, aht_seconds: float, target_seconds: float) -> float:
    """The fraction of callers answered within the target (Erlang C); 0.0 when the queue grows without end."""
    n, a = check_agents(agents), check_number("load", load)
    aht = check_number("aht_seconds", aht_seconds, positive=True)
    t = check_number("target_seconds", target_seconds)
    if n <= a:
        return 0.0
    return 1.0 - erlang_c(n, a) * math.exp(-(n - a) * t / aht)


def average_speed_of_answer(agents: int, load: float, aht_seconds: float) -> float:
    """The mean wait in seconds over all callers (Erlang C); infinite when the queue grows without end."""
    n, a = check_agents(agents), check_number("load", load)
    aht = check_number("aht_seconds", aht_seconds, positive=True)
    if n <= a:
        return math.inf
    return erlang_c(n, a) * aht / (n - a)


def occupancy(agents: int, load: float) -> float:
    """The fraction of agent time spent handling calls (Erlang C), at most 1.0."""
    n, a = check_agents(agents), check_number("load", load)
    return min(1.0, a / n)


@dataclass(frozen=True, slots=True)
class ErlangCResult:
    """The Erlang C figures for one number of agents."""

    agents: int
    load: float
    target_seconds: float
    p_wait: float
    service_level: float
    asa_seconds: float
    occupancy: float


def erlang_c_figures(agents: int, load: float, aht_seconds: float, target_seconds: float) -> ErlangCResult:
    """All Erlang C figures for the given agents."""
    return ErlangCResult(
        agents=check_agents(agents),
        load=check_number("load", load),
        target_seconds=check_number("target_seconds", target_seconds),
        p_wait=erlang_c(agents, load),
        service_level=service_level(agents, load, aht_seconds, target_seconds),
        asa_seconds=average_speed_of_answer(agents, load, aht_seconds),
        occupancy=occupancy(agents, load),
    )


def staffing(
    arrivals_per_hour: float,
    aht_seconds: float,
    target_service_level: float,
    target_seconds: float,
    max_occupancy: float | None = None,
) -> ErlangCResult:
    """The fewest agents (at least 1) reaching the service level (and occupancy cap) by Erlang C."""
    load = offered_load(arrivals_per_hour, aht_seconds)
    target = check_fraction("target_service_level", target_service_level)
    cap = None if max_occupancy is None else check_fraction("max_occupancy", max_occupancy, allow_one=True)
    check_number("target_seconds", target_seconds)

    def meets(n: int) -> bool:
        if cap is not None and occupancy(n, load) > cap:
            return False
        return service_level(n, load, aht_seconds, target_seconds) >= target

    agents = fewest_agents(meets, start=math.floor(load) + 1)
    return erlang_c_figures(agents, load, aht_seconds, target_seconds)


def fewest_agents(meets: Callable[[int], bool], start: int) -> int:
    """The smallest n >= 1 with meets(n), for a predicate that stays true once it holds; start - 1 fails."""
    low, high = start - 1, max(1, start)
    while not meets(high):
        low, high = high, high * 2
        if high > MAX_AGENTS:
            raise ValueError(f"the target cannot be reached with up to {MAX_AGENTS} agents")
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high

"""Erlang A (M/M/N+M): queues whose callers give up after an exponential patience.

Erlang A is computed exactly, not approximated: the stationary distribution of the birth-death chain (death
rate k*mu up to N agents, N*mu + (k - N)*theta above) is summed in log space until the remaining mass is below
1e-19 of the peak, and the waiting-time figures come from the density of the offered wait V (the wait of a
caller who would never give up). Summed over the states an arrival can find, that density has the closed form

    f_V(s) = pi_N * N*mu * exp(-N*mu*s + (lambda/theta) * (1 - exp(-theta*s)))      for s > 0,

(Garnett, Mandelbaum and Reiman 2002; Mandelbaum and Zeltyn) and the actual wait is W = min(V, patience), so
P(answered within t) = P(no wait) + integral_0^t exp(-theta*s) f_V(s) ds, integrated by Gauss-Legendre
quadrature on panels short enough that the integrand changes by only a few e-folds within each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from routing.erlang import (
    ServiceLevelDefinition,
    check_agents,
    check_fraction,
    check_number,
    check_patience,
    erlang_c_figures,
    fewest_agents,
    offered_load,
)

_NEGLIGIBLE_LOG = math.log(1e-19)  # states and tails below this fraction of the peak are dropped
_MAX_STATES = 5_000_000
_MAX_PANELS = 2_000_000


def _gauss_legendre(order: int) -> tuple[tuple[float, float], ...]:
    """Nodes on [-1, 1] and weights of the Gauss-Legendre rule (Newton on the Legendre recurrence)."""
    rule = []
    for i in range(1, order + 1):
        x = math.cos(math.pi * (i - 0.25) / (order + 0.5))
        for _ in range(100):
            p_prev, p = 1.0, x
            for k in range(2, order + 1):
                p_prev, p = p, ((2 * k - 1) * x * p - (k - 1) * p_prev) / k
            derivative = order * (x * p - p_prev) / (x * x - 1.0)
            step = p / derivative
            x -= step
            if abs(step) < 1e-16:
                break
        rule.append((x, 2.0 / ((1.0 - x * x) * derivative * derivative)))
    return tuple(rule)


_GAUSS_12 = _gauss_legendre(12)


@dataclass(frozen=True, slots=True)
class ErlangAResult:
    """The Erlang A figures for one number of agents; ASA is the mean wait of the answered callers."""

    agents: int
    load: float
    patience_seconds: float
    target_seconds: float
    p_wait: float
    p_abandon: float
    service_level: float  # answered within the target / all offered callers
    service_level_excluding_early_abandons: float  # answered within / (answered + abandoned after target)
    asa_seconds: float
    average_wait_seconds: float  # over all callers, the abandoned ones included
    occupancy: float

    def service_level_by(self, definition: ServiceLevelDefinition) -> float:
        """The service level under the given definition."""
        if definition == ServiceLevelDefinition.EXCLUDING_EARLY_ABANDONS:
            return self.service_level_excluding_early_abandons
        return self.service_level


def erlang_a(
    agents: int, load: float, aht_seconds: float, patience_seconds: float, target_seconds: float = 0.0
) -> ErlangAResult:
    """All Erlang A (M/M/N+M) figures for the given agents; infinite patience gives the Erlang C figures."""
    n, a = check_agents(agents), check_number("load", load)
    aht = check_number("aht_seconds", aht_seconds, positive=True)
    patience = check_patience(patience_seconds)
    t = check_number("target_seconds", target_seconds)
    if patience == math.inf or a == 0:
        c = erlang_c_figures(n, a, aht, t)
        level, asa = c.service_level, c.asa_seconds
        return ErlangAResult(n, a, patience, t, c.p_wait, 0.0, level, level, asa, asa, c.occupancy)
    return _ErlangAChain(n, a / aht, 1.0 / aht, 1.0 / patience).figures(t)


class _ErlangAChain:
    """The stationary M/M/N+M queue seen by an arriving caller (PASTA), truncated where it is negligible."""

    def __init__(self, agents: int, arrival_rate: float, service_rate: float, abandon_rate: float) -> None:
        self.n, self.lam, self.mu, self.theta = agents, arrival_rate, service_rate, abandon_rate
        self.c = agents * service_rate  # the rate at which the queue moves when every agent is busy
        load = arrival_rate / service_rate
        below = []  # log weights of states N-1, N-2, ... relative to state N
        log_w, peak = 0.0, 0.0
        for k in range(agents, 0, -1):
            log_w += math.log(k / load)
            below.append(log_w)
            peak = max(peak, log_w)
            if k - 1 < load and log_w < peak + _NEGLIGIBLE_LOG:
                break
        above = [0.0]  # log weights of states N, N+1, ... relative to state N
        log_w, m = 0.0, 0
        while True:
            m += 1
            ratio = arrival_rate / (self.c + m * abandon_rate)
            if ratio < 1 and log_w + math.log(ratio / (1 - ratio)) < peak + _NEGLIGIBLE_LOG:
                break  # the ratios only fall from here, so the rest is below a geometric tail
            log_w += math.log(ratio)
            above.append(log_w)
            peak = max(peak, log_w)
            if m > _MAX_STATES:
                raise ValueError("patience_seconds is too long for an exact Erlang A; use Erlang C")
        total = math.fsum(math.exp(w - peak) for w in below) + math.fsum(math.exp(w - peak) for w in above)
        self.log_pi_n = -peak - math.log(total)
        self.queue = [math.exp(w + self.log_pi_n) for w in above]  # P(an arrival finds m callers waiting)
        # the mean number of idle agents: below[i] is the state with i + 1 agents idle
        self.idle_agents = math.fsum((i + 1) * math.exp(w + self.log_pi_n) for i, w in enumerate(below))

    def figures(self, target_seconds: float) -> ErlangAResult:
        lam, c, theta = self.lam, self.c, self.theta
        p_wait = min(1.0, math.fsum(self.queue))
        queue_length = math.fsum(m * p for m, p in enumerate(self.queue))
        p_abandon = min(1.0, theta * queue_length / lam)  # abandons per second over arrivals per second
        # A caller finding m waiting moves up at rate c + j*theta (j ahead) and gives up at rate theta: it
        # is answered with probability c / (c + (m+1)theta) after a mean wait of sum_i=1..m+1 1/(c + i*theta).
        served_wait, harmonic = [], 0.0
        for m, p in enumerate(self.queue):
            harmonic += 1.0 / (c + (m + 1) * theta)
            served_wait.append(p * c / (c + (m + 1) * theta) * harmonic)
        p_answered = 1.0 - p_abandon
        asa = math.fsum(served_wait) / p_answered if p_answered > 0 else math.inf
        answered_late_wait, abandoned_early = self._wait_integrals(target_seconds)
        answered_within = min(1.0, (1.0 - p_wait) + answered_late_wait)
        still_waiting = max(0.0, p_wait - answered_late_wait - abandoned_early)  # P(V > t)
        abandoned_by_target = min(1.0, abandoned_early - math.expm1(-theta * target_seconds) * still_waiting)
        remaining = 1.0 - abandoned_by_target  # answered plus abandoned after the target
        excluding_early = min(1.0, answered_within / remaining) if remaining > 0 else 0.0
        return ErlangAResult(
            agents=self.n,
            load=lam / self.mu,
            patience_seconds=1.0 / theta,
            target_seconds=target_seconds,
            p_wait=p_wait,
            p_abandon=p_abandon,
            service_level=answered_within,
            service_level_excluding_early_abandons=excluding_early,
            asa_seconds=asa,
            average_wait_seconds=queue_length / lam,
            occupancy=max(0.0, 1.0 - self.idle_agents / self.n),  # = lambda (1 - p_abandon) / (N mu)
        )

    def _wait_integrals(self, t: float) -> tuple[float, float]:
        """The integrals over (0, t] of exp(-theta s) f_V(s) (answered) and (1 - exp(-theta s)) f_V(s)."""
        lam, c, theta = self.lam, self.c, self.theta
        log_scale = self.log_pi_n + math.log(c)
        # lambda/theta * (1 - exp(-theta s)) tends to lambda*s as theta -> 0; expm1 keeps it exact
        surge = lam / theta

        def slope(s: float) -> float:  # d/ds log f_V(s), falling with s
            return lam * math.exp(-theta * s) - c

        def log_density(s: float) -> float:
            return log_scale - c * s - surge * math.expm1(-theta * s)

        floor = max(theta, math.sqrt(lam * theta))
        mode = math.log(lam / c) / theta if lam > c else 0.0
        answered, abandoned, start, so_far = [], [], 0.0, 0.0
        for _ in range(_MAX_PANELS):
            if start >= t:
                break
            bound = max(abs(slope(start)), floor)
            bound = max(bound, abs(slope(start + 2.0 / bound)))  # the slope is monotone over the panel
            width = min(2.0 / bound, t - start)
            half, middle = width / 2, start + width / 2
            panel_answered = panel_abandoned = 0.0
            for x, weight in _GAUSS_12:
                s = middle + half * x
                density = weight * half * math.exp(log_density(s))
                panel_answered += density * math.exp(-theta * s)
                panel_abandoned -= density * math.expm1(-theta * s)
            answered.append(panel_answered)
            abandoned.append(panel_abandoned)
            so_far += panel_answered + panel_abandoned
            start += width
            if start >= mode and slope(start) < 0:
                tail = math.exp(log_density(start)) / -slope(start)  # log-concave: bounds what is left
                if tail <= 1e-18 * so_far:
                    break
        else:
            raise ValueError("target_seconds is too long for the waiting-time integral")
        return math.fsum(answered), math.fsum(abandoned)


def erlang_a_p_wait(agents: int, load: float, aht_seconds: float, patience_seconds: float) -> float:
    """The probability that a caller has to wait (Erlang A)."""
    return erlang_a(agents, load, aht_seconds, patience_seconds).p_wait


def erlang_a_abandonment(agents: int, load: float, aht_seconds: float, patience_seconds: float) -> float:
    """The fraction of callers who hang up before being answered (Erlang A)."""
    return erlang_a(agents, load, aht_seconds, patience_seconds).p_abandon


def erlang_a_service_level(
    agents: int,
    load: float,
    aht_seconds: float,
    patience_seconds: float,
    target_seconds: float,
    definition: ServiceLevelDefinition = ServiceLevelDefinition.OFFERED,
) -> float:
    """The Erlang A service level: answered within the target over all offered callers by default.

    With EXCLUDING_EARLY_ABANDONS, callers who hung up within the target leave the denominator (the product's
    definition: answered within target / (answered + abandoned after target)).
    """
    result = erlang_a(agents, load, aht_seconds, patience_seconds, target_seconds)
    return result.service_level_by(ServiceLevelDefinition(definition))


def erlang_a_average_speed_of_answer(
    agents: int, load: float, aht_seconds: float, patience_seconds: float
) -> float:
    """The mean wait in seconds of the answered callers (Erlang A)."""
    return erlang_a(agents, load, aht_seconds, patience_seconds).asa_seconds


def erlang_a_staffing(
    arrivals_per_hour: float,
    aht_seconds: float,
    patience_seconds: float,
    target_service_level: float,
    target_seconds: float,
    max_occupancy: float | None = None,
    definition: ServiceLevelDefinition = ServiceLevelDefinition.OFFERED,
) -> ErlangAResult:
    """The fewest agents (at least 1) reaching the service level (and occupancy cap) by Erlang A."""
    load = offered_load(arrivals_per_hour, aht_seconds)
    target = check_fraction("target_service_level", target_service_level)
    cap = None if max_occupancy is None else check_fraction("max_occupancy", max_occupancy, allow_one=True)
    definition = ServiceLevelDefinition(definition)
    results: dict[int, ErlangAResult] = {}

    def meets(n: int) -> bool:
        result = results[n] = erlang_a(n, load, aht_seconds, patience_seconds, target_seconds)
        return result.service_level_by(definition) >= target and (cap is None or result.occupancy <= cap)

    agents = fewest_agents(meets, start=1)
    return results[agents]

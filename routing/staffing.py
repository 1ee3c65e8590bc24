"""Staffing tables: the agents needed for a target, and the figures for a few more or fewer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from routing.erlang import (
    ServiceLevelDefinition,
    erlang_c_figures,
    offered_load,
    staffing,
)
from routing.erlang_a import erlang_a, erlang_a_staffing


@dataclass(frozen=True, slots=True)
class StaffingRow:
    """The predicted figures for one number of agents; abandon_rate only when patience is modelled."""

    agents: int
    service_level: float
    p_wait: float
    asa_seconds: float
    occupancy: float
    abandon_rate: float | None = None


@dataclass(frozen=True, slots=True)
class StaffingTable:
    """The agents needed for a target, with the figures for two fewer up to two more agents."""

    arrivals_per_hour: float
    aht_seconds: float
    load: float
    target_service_level: float
    target_seconds: float
    patience_seconds: float | None
    max_occupancy: float | None
    service_level_definition: ServiceLevelDefinition
    required_agents: int
    rows: tuple[StaffingRow, ...]

    @property
    def model(self) -> str:
        """Which model produced the figures: "erlang_c" or "erlang_a"."""
        return "erlang_c" if self.patience_seconds is None else "erlang_a"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; an infinite ASA (a queue that grows without end) becomes None."""

        def finite(value: float | None) -> float | None:
            return value if value is None or math.isfinite(value) else None

        return {
            "model": self.model,
            "arrivals_per_hour": self.arrivals_per_hour,
            "aht_seconds": self.aht_seconds,
            "load_erlangs": self.load,
            "target_service_level": self.target_service_level,
            "target_seconds": self.target_seconds,
            "patience_seconds": self.patience_seconds,
            "max_occupancy": self.max_occupancy,
            "service_level_definition": str(self.service_level_definition),
            "required_agents": self.required_agents,
            "rows": [
                {
                    "agents": row.agents,
                    "service_level": row.service_level,
                    "p_wait": row.p_wait,
                    "asa_seconds": finite(row.asa_seconds),
                    "occupancy": row.occupancy,
                    "abandon_rate": row.abandon_rate,
                }
                for row in self.rows
            ],
        }


def staffing_table(
    arrivals_per_hour: float,
    aht_seconds: float,
    target_service_level: float,
    target_seconds: float,
    patience_seconds: float | None = None,
    *,
    max_occupancy: float | None = None,
    definition: ServiceLevelDefinition = ServiceLevelDefinition.OFFERED,
) -> StaffingTable:
    """The required agents by Erlang C (Erlang A with patience) and the rows for N-2..N+2 (at least 1)."""
    load = offered_load(arrivals_per_hour, aht_seconds)
    definition = ServiceLevelDefinition(definition)
    rows: list[StaffingRow] = []
    if patience_seconds is None:
        required = staffing(
            arrivals_per_hour, aht_seconds, target_service_level, target_seconds, max_occupancy
        ).agents
        for n in range(max(1, required - 2), required + 3):
            c = erlang_c_figures(n, load, aht_seconds, target_seconds)
            rows.append(StaffingRow(n, c.service_level, c.p_wait, c.asa_seconds, c.occupancy))
    else:
        required = erlang_a_staffing(
            arrivals_per_hour,
            aht_seconds,
            patience_seconds,
            target_service_level,
            target_seconds,
            max_occupancy,
            definition,
        ).agents
        for n in range(max(1, required - 2), required + 3):
            r = erlang_a(n, load, aht_seconds, patience_seconds, target_seconds)
            level = r.service_level_by(definition)
            rows.append(StaffingRow(n, level, r.p_wait, r.asa_seconds, r.occupancy, r.p_abandon))
    return StaffingTable(
        arrivals_per_hour=float(arrivals_per_hour),
        aht_seconds=float(aht_seconds),
        load=load,
        target_service_level=float(target_service_level),
        target_seconds=float(target_seconds),
        patience_seconds=None if patience_seconds is None else float(patience_seconds),
        max_occupancy=None if max_occupancy is None else float(max_occupancy),
        service_level_definition=definition,
        required_agents=required,
        rows=tuple(rows),
    )

"""The figures of a report row, derived from summed interval counters.

Service level = answered within the target / (answered + abandoned after the target + fell back): a customer
who left before the target counts neither for nor against the queue (a "short abandon"); one who left after
it, or was sent to a fallback (voicemail, a callback), counts against it. Abandon rate = abandoned / offered.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from contact_center.db.models.statistics import COUNTER_COLUMNS


@dataclass
class Figures:
    """Summed counters of any set of intervals, queues, channels and agents."""

    offered: int = 0
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    abandoned_in_target: int = 0
    fell_back: int = 0
    wait_answered_seconds: float = 0.0
    wait_abandoned_seconds: float = 0.0
    handled: int = 0
    handle_seconds: float = 0.0
    transfers: int = 0
    rated: int = 0
    rating_sum: int = 0

    @classmethod
    def of(cls, row: Any) -> Figures:
        """Figures from a mapping or a row with the counter columns (missing ones are zero)."""
        get = row.get if isinstance(row, dict) else lambda name, default: getattr(row, name, default)
        return cls(**{name: type(getattr(cls, name))(get(name, 0) or 0) for name in COUNTER_COLUMNS})

    def add(self, other: Figures) -> None:
        """Add another row's counters to these."""
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    @property
    def abandoned_after_target(self) -> int:
        return self.abandoned - self.abandoned_in_target

    @property
    def service_level(self) -> float | None:
        """Answered within target over answered, abandoned after target and fallen back (None before any)."""
        denominator = self.answered + self.abandoned_after_target + self.fell_back
        return self.answered_in_target / denominator if denominator else None

    @property
    def average_speed_of_answer(self) -> float | None:
        """Mean wait of the answered contacts, in seconds."""
        return self.wait_answered_seconds / self.answered if self.answered else None

    @property
    def average_handle_time(self) -> float | None:
        """Mean time from answer to the end of wrap-up, in seconds."""
        return self.handle_seconds / self.handled if self.handled else None

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned over offered."""
        return self.abandoned / self.offered if self.offered else None

    @property
    def average_patience(self) -> float | None:
        """Mean wait of those who abandoned, in seconds (a floor of the true patience)."""
        return self.wait_abandoned_seconds / self.abandoned if self.abandoned else None

    @property
    def satisfaction(self) -> float | None:
        """Mean satisfaction rating (1 to 5) of the ratings received."""
        return self.rating_sum / self.rated if self.rated else None

    def to_dict(self) -> dict[str, Any]:
        """Counters and derived figures, rounded for display (ratios to 4 places, seconds to 0.1)."""

        def rounded(value: float | None, places: int) -> float | None:
            return None if value is None else round(value, places)

        return {
            "offered": self.offered,
            "answered": self.answered,
            "answered_in_target": self.answered_in_target,
            "abandoned": self.abandoned,
            "abandoned_after_target": self.abandoned_after_target,
            "fell_back": self.fell_back,
            "handled": self.handled,
            "transfers": self.transfers,
            "rated": self.rated,
            "service_level": rounded(self.service_level, 4),
            "abandon_rate": rounded(self.abandon_rate, 4),
            "average_speed_of_answer": rounded(self.average_speed_of_answer, 1),
            "average_handle_time": rounded(self.average_handle_time, 1),
            "satisfaction": rounded(self.satisfaction, 2),
        }

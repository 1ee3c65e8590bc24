"""What customer services need besides a database session."""

from __future__ import annotations

from dataclasses import dataclass, field

from contact_center.clock import Clock, SystemClock
from contact_center.customers.value_model import ValueModel


@dataclass(frozen=True)
class CustomerContext:
    """Clock, phone region and value model, handed to every customer service function."""

    clock: Clock = field(default_factory=SystemClock)
    default_region: str = "US"
    value_model: ValueModel = field(default_factory=ValueModel)

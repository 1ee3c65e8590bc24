"""What customer services need besides a database session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from contact_center.clock import Clock, SystemClock
from contact_center.customers.value_model import ValueModel

if TYPE_CHECKING:
    from contact_center.settings import Settings


@dataclass(frozen=True)
class CustomerContext:
    """Clock, phone region and value model, handed to every customer service function."""

    clock: Clock = field(default_factory=SystemClock)
    default_region: str = "US"
    value_model: ValueModel = field(default_factory=ValueModel)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> CustomerContext:
        """The context configured by the settings (phone region, value model)."""
        return cls(
            clock=clock or SystemClock(),
            default_region=settings.default_region,
            value_model=settings.value_model,
        )

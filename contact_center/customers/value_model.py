"""The customer value model: weighted criteria giving a score from 0 to 100 and a tier."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field, model_validator


class Criterion(BaseModel):
    """One weighted criterion; `cap` is the figure that earns the full weight."""

    weight: float = Field(ge=0)
    cap: float = Field(gt=0)


class Tier(BaseModel):
    """A tier reached at `min_score` and above."""

    name: str = Field(min_length=1, max_length=32)
    min_score: float = Field(ge=0, le=100)


def _default_tiers() -> list[Tier]:
    return [
        Tier(name="platinum", min_score=75),
        Tier(name="gold", min_score=50),
        Tier(name="silver", min_score=25),
        Tier(name="bronze", min_score=0),
    ]


class ValueModel(BaseModel):
    """Configurable weights (CC_VALUE_MODEL as JSON); recency and complaints count against the score."""

    spend_12m: Criterion = Criterion(weight=30, cap=2000)
    spend_24m: Criterion = Criterion(weight=15, cap=4000)
    orders_12m: Criterion = Criterion(weight=15, cap=10)
    orders_24m: Criterion = Criterion(weight=5, cap=20)
    recency_days: Criterion = Criterion(weight=20, cap=365)
    tenure_days: Criterion = Criterion(weight=15, cap=1825)
    complaints_12m: Criterion = Criterion(weight=10, cap=5)
    tiers: list[Tier] = Field(default_factory=_default_tiers)

    @model_validator(mode="after")
    def _tiers_cover_zero(self) -> ValueModel:
        if not self.tiers or min(t.min_score for t in self.tiers) != 0:
            raise ValueError("tiers must include one with min_score 0")
        if len({t.name for t in self.tiers}) != len(self.tiers):
            raise ValueError("tier names must be unique")
        self.tiers = sorted(self.tiers, key=lambda t: t.min_score, reverse=True)
        return self

    def score(self, facts: ValueFacts) -> float:
        """Score 0-100 from a customer's facts."""
        positive = (
            _share(facts.spend_12m, self.spend_12m)
            + _share(facts.spend_24m, self.spend_24m)
            + _share(facts.orders_12m, self.orders_12m)
            + _share(facts.orders_24m, self.orders_24m)
            + _share(facts.tenure_days, self.tenure_days)
        )
        if facts.days_since_last_order is not None:
            recency = max(0.0, 1 - facts.days_since_last_order / self.recency_days.cap)
            positive += recency * self.recency_days.weight
        penalty = _share(facts.complaints_12m, self.complaints_12m)
        total_weight = sum(
            c.weight
            for c in (
                self.spend_12m,
                self.spend_24m,
                self.orders_12m,
                self.orders_24m,
                self.recency_days,
                self.tenure_days,
            )
        )
        if total_weight == 0:
            return 0.0
        return round(max(0.0, min(100.0, (positive - penalty) / total_weight * 100)), 2)

    def tier_for(self, score: float) -> str:
        """The name of the highest tier whose threshold the score reaches."""
        for tier in self.tiers:
            if score >= tier.min_score:
                return tier.name
        return self.tiers[-1].name

    @property
    def tier_names(self) -> list[str]:
        """Tier names from the top of the pyramid down."""
        return [t.name for t in self.tiers]


@dataclass(frozen=True)
class ValueFacts:
    """What the value model looks at for one customer (money in major units, e.g. dollars)."""

    spend_12m: float
    spend_24m: float
    orders_12m: int
    orders_24m: int
    days_since_last_order: float | None
    tenure_days: float
    complaints_12m: int


def _share(value: float, criterion: Criterion) -> float:
    return min(max(value, 0) / criterion.cap, 1.0) * criterion.weight

"""Interval statistics: counters per 15 minutes, queue and channel, and per agent and day, for reports and
the wallboard.

A queue row (agent_id 0) holds what happened in one 15-minute interval (UTC-aligned) in one queue and
channel; an agent row holds one agent's work of one local day (queue and channel "*"; see
reports/counters.py). Every figure a report shows (service level, speed of answer, handle time, abandon
rate...) is a ratio of sums of these columns, so a report over a year reads aggregates, not contacts.
`local_day` is the row's date in the business time zone (CC_TIMEZONE): days and weeks group in SQL.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db.base import Base, UTCDateTime

COUNTER_COLUMNS = (
    "offered",
    "answered",
    "answered_in_target",
    "abandoned",
    "abandoned_in_target",
    "fell_back",
    "wait_answered_seconds",
    "wait_abandoned_seconds",
    "handled",
    "handle_seconds",
    "transfers",
    "rated",
    "rating_sum",
)


class IntervalStat(Base):
    """Counters of one (interval, queue, channel, agent)."""

    __tablename__ = "interval_stats"

    interval_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    local_day: Mapped[date] = mapped_column(Date)
    offered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    answered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    answered_in_target: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    abandoned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    abandoned_in_target: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fell_back: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    wait_answered_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    wait_abandoned_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    handled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    handle_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    transfers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_sum: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("ix_interval_stats_local_day", "local_day"),
        Index("ix_interval_stats_agent_day", "agent_id", "local_day"),
    )


class ReasonStat(Base):
    """Contacts wrapped up per local day, queue and channel with one disposition or contact reason code."""

    __tablename__ = "reason_stats"

    local_day: Mapped[date] = mapped_column(Date, primary_key=True)
    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # "disposition" or "contact_reason"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    contacts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

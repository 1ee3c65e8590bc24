"""Adding to `interval_stats`: counter changes (one upsert for all rows, in the caller's transaction)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.dml import Insert

from contact_center.db.models.statistics import IntervalStat, ReasonStat
from contact_center.reports.counters import CounterKey, Increments, rows_for
from contact_center.reports.intervals import interval_start

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
NO_QUEUE = "(none)"


async def add_counters(db: AsyncSession | AsyncConnection, rows: dict[CounterKey, Increments]) -> None:
    """Add each row's increments (creating the row if new), in one statement for all the rows. Runs inside the
    caller's transaction, so the counters change exactly when the events that caused them are stored."""
    if not rows:
        return
    bind = db if isinstance(db, AsyncConnection) else db.bind
    await db.execute(
        _upsert(bind.dialect.name),
        [
            {
                "interval_start": key.interval_start,
                "queue": key.queue,
                "channel": key.channel,
                "agent_id": key.agent_id,
                "local_day": key.local_day,
                **_NO_INCREMENTS,
                **increments,
            }
            for key, increments in sorted(rows.items(), key=lambda item: _order(item[0]))
        ],
    )


_KEY_COLUMNS = ("interval_start", "queue", "channel", "agent_id")
COUNTER_COLUMNS = tuple(
    name for name in IntervalStat.__table__.columns.keys() if name not in (*_KEY_COLUMNS, "local_day")
)
_NO_INCREMENTS = dict.fromkeys(COUNTER_COLUMNS, 0)


@cache
def _upsert(dialect: str) -> Insert:
    """The upsert adding every counter column (a column a change leaves alone gets 0), built once per dialect:
    building and keying a statement per row cost more than running it."""
    table = IntervalStat.__table__
    statement = _INSERTS[dialect](table)
    return statement.on_conflict_do_update(
        index_elements=list(_KEY_COLUMNS),
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTER_COLUMNS},
    )


def _order(key: CounterKey) -> tuple[object, ...]:
    # a fixed order of row locks, so two processes adding to the same rows cannot deadlock
    return (key.interval_start, key.queue, key.channel, key.agent_id)


async def count_rating(
    db: AsyncSession,
    *,
    at: datetime,
    queue: str | None,
    channel: str,
    agent_id: int | None,
    score: int,
    zone: ZoneInfo,
    withdraw: bool = False,
) -> None:
    """Count a satisfaction rating in the interval it was given, for the contact's queue, channel and agent
    (`withdraw=True` takes back a rating that a newer one replaces)."""
    sign = -1 if withdraw else 1
    increments = {"rated": sign, "rating_sum": sign * score}
    await add_counters(
        db, dict(rows_for(interval_start(at), queue or NO_QUEUE, channel, agent_id, increments, zone))
    )


async def count_wrap_up(
    db: AsyncSession,
    *,
    at: datetime,
    queue: str | None,
    channel: str,
    codes: dict[str, str | None],
    zone: ZoneInfo,
    withdraw: bool = False,
) -> None:
    """Count a wrap-up's codes ({"disposition": ..., "contact_reason": ...}) on its local day (`withdraw=True`
    takes back the codes of a wrap-up that a correction replaces)."""
    insert = _INSERTS[db.bind.dialect.name]
    table = ReasonStat.__table__
    for kind, code in sorted(codes.items()):
        if not code:
            continue
        statement = insert(table).values(
            local_day=at.astimezone(zone).date(),
            queue=queue or NO_QUEUE,
            channel=channel,
            kind=kind,
            code=code,
            contacts=-1 if withdraw else 1,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["local_day", "queue", "channel", "kind", "code"],
            set_={"contacts": table.c.contacts + statement.excluded.contacts},
        )
        await db.execute(statement)

"""Who is calling: the caller's first name and language by phone number, for the greeting.

The first answer to a call must not wait on intake, so the greeting looks the caller up with one indexed
query and keeps the answer (also when the number is unknown). A change to a customer's name, language or
identities through the API publishes `customer.changed`, which empties the cache in every process; what
changes otherwise (an import) is heard at the latest after `KEPT_SECONDS`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.clock import Clock
from contact_center.customers.identity import normalise_phone
from contact_center.db.engine import reading
from contact_center.db.models import Customer, CustomerIdentity
from contact_center.errors import InvalidInput

KEPT_SECONDS = 600.0
MOST_KEPT = 50_000


@dataclass(frozen=True)
class Caller:
    """What the greeting needs to know of a known caller."""

    given_name: str | None
    language: str | None


class Callers:
    """Callers by phone number, looked up in the customer record and kept for `KEPT_SECONDS`."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, default_region: str = "US"
    ) -> None:
        self.sessions, self.clock, self.default_region = sessions, clock, default_region
        self._kept: OrderedDict[str, tuple[float, Caller | None]] = OrderedDict()

    async def lookup(self, phone: str) -> Caller | None:
        """The customer with this phone number, None for an unknown or withheld number."""
        now = self.clock.now().timestamp()
        kept = self._kept.get(phone)
        if kept is not None and now - kept[0] < KEPT_SECONDS:
            return kept[1]
        caller = await self._find(phone)
        self._kept[phone] = (now, caller)
        self._kept.move_to_end(phone)
        while len(self._kept) > MOST_KEPT:
            self._kept.popitem(last=False)
        return caller

    def forget_all(self) -> None:
        """Drop everything kept (a customer changed)."""
        self._kept.clear()

    async def _find(self, phone: str) -> Caller | None:
        try:
            number = normalise_phone(phone, self.default_region)
        except InvalidInput:
            return None
        query = (
            select(Customer.given_name, Customer.language)
            .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
            .where(CustomerIdentity.kind == "phone", CustomerIdentity.value == number)
        )
        async with reading(self.sessions) as db:  # never waits for a writer (SQLite)
            row = (await db.execute(query)).first()
        return None if row is None else Caller(given_name=row.given_name, language=row.language)

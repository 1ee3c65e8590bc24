"""Importing customers, matched to stored ones by CRM id, email or phone: a second import changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.customers import records
from contact_center.customers.context import CustomerContext
from contact_center.customers.identity import Identity, normalise
from contact_center.customers.importer.files import (
    ImportReport,
    Progress,
    RowImporter,
    Sessions,
    join_and,
    reason_of,
    refuse_extra_cells,
    run_file,
)
from contact_center.customers.schemas import CustomerIn, CustomerPatch, IdentityIn
from contact_center.errors import InvalidInput

MAX_ATTRIBUTE_LENGTH = 1000
IDENTITY_COLUMNS = {"external_id": "crm", "email": "email", "phone": "phone"}
NAME_COLUMNS = ("display_name", "given_name", "family_name")
FIELD_COLUMNS = (*NAME_COLUMNS, "language", "organisation", "lifecycle_stage")


async def import_customers(
    sessions: Sessions,
    ctx: CustomerContext,
    path: Path,
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    actor_id: int | None = None,
) -> ImportReport:
    """Create or update customers from a CSV file, matching stored ones by CRM id, email or phone."""
    return await run_file(sessions, path, _Customers(ctx, actor_id), skip_invalid, progress)


class _Customers(RowImporter):
    columns = (*IDENTITY_COLUMNS, *FIELD_COLUMNS)
    attributes = True

    async def row(self, db: AsyncSession, line: int, values: dict[str, str]) -> None:
        refuse_extra_cells(values)
        problems: list[str] = []
        identities = self._identities(values, problems)
        fields = {name: values[name] for name in FIELD_COLUMNS if name in values}
        attributes = {name[5:]: text for name, text in values.items() if name.startswith("attr.")}
        problems += [
            f"attr.{name}: longer than {MAX_ATTRIBUTE_LENGTH} characters"
            for name, text in attributes.items()
            if len(text) > MAX_ATTRIBUTE_LENGTH
        ]
        try:
            data = CustomerIn(
                **fields,
                attributes=attributes,
                identities=[IdentityIn(kind=i.kind.value, value=i.display_value) for i in identities],
            )
        except ValidationError as exc:
            problems.append(reason_of(exc))
        if not problems and not identities and not set(NAME_COLUMNS) & fields.keys():
            problems.append("needs a display_name, given_name, family_name, external_id, email or phone")
        if problems:
            raise InvalidInput("; ".join(problems))
        owners = {}
        for identity in identities:
            if (found := await records.find_identity(db, identity)) is not None:
                owners[identity] = found.customer_id
        ids = sorted(set(owners.values()))
        if len(ids) > 1:
            raise InvalidInput(f"identities belong to customers {join_and(ids)}")
        async with db.begin_nested():
            if not ids:
                await records.create_customer(db, self.ctx, data, self.actor_id)
            else:
                new = [i for i in identities if i not in owners]
                changed = await self._update(db, ids[0], data, list(fields), new)
        if not ids:
            self.report.created += 1
        elif changed:
            self.report.updated += 1
        else:
            self.report.unchanged += 1

    async def _update(
        self,
        db: AsyncSession,
        customer_id: int,
        data: CustomerIn,
        given: list[str],
        new_identities: list[Identity],
    ) -> bool:
        """Change the fields the row gives that differ, add its new identities; True if anything changed."""
        customer = await records.get_customer(db, customer_id)
        patch: dict[str, Any] = {}
        for name in given:
            new = getattr(data, name).lower() if name == "language" else getattr(data, name)
            if getattr(customer, name) != new:
                patch[name] = new
        if {**customer.attributes, **data.attributes} != customer.attributes:
            patch["attributes"] = {**customer.attributes, **data.attributes}
        if patch:
            await records.update_customer(db, self.ctx, customer_id, CustomerPatch(**patch), self.actor_id)
        for identity in new_identities:
            await records.add_identity(
                db,
                self.ctx,
                customer_id,
                IdentityIn(kind=identity.kind.value, value=identity.display_value),
                self.actor_id,
            )
        return bool(patch or new_identities)

    def _identities(self, values: dict[str, str], problems: list[str]) -> list[Identity]:
        """The row's identities, normalised and without repeats; several emails or phones are split on ';'."""
        found: dict[tuple[str, str], Identity] = {}
        for column, kind in IDENTITY_COLUMNS.items():
            cells = [values.get(column, "")] if kind == "crm" else values.get(column, "").split(";")
            for raw in filter(None, (cell.strip() for cell in cells)):
                try:
                    identity = normalise(kind, raw, self.ctx.default_region)
                except InvalidInput as exc:  # phone and email reasons start with the quoted value
                    separator = " " if exc.message.startswith("'") else ": "
                    problems.append(f"{column}{separator}{exc.message}")
                    continue
                found.setdefault((identity.kind.value, identity.value), identity)
        return list(found.values())

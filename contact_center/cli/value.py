"""The customer value model's maintenance."""

from __future__ import annotations

import click

from contact_center.cli.common import open_database, run_async, settings_or_exit


@click.group()
def value() -> None:
    """The customer value model."""


@value.command("recompute")
def value_recompute() -> None:
    """Recompute every customer's value score and tier (run daily: recency and tenure move with time)."""
    settings = settings_or_exit()

    async def run() -> int:
        from contact_center.customers import value as value_service
        from contact_center.customers.context import CustomerContext

        async with open_database(settings) as sessions, sessions.begin() as db:
            return await value_service.recompute_all(db, CustomerContext.from_settings(settings))

    click.echo(f"Recomputed {run_async(run)} customers.")

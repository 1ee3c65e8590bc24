"""The customer value model's maintenance."""

from __future__ import annotations

import click

from contact_center.cli.common import run_async, settings_or_exit


@click.group()
def value() -> None:
    """The customer value model."""


@value.command("recompute")
def value_recompute() -> None:
    """Recompute every customer's value score and tier (run daily: recency and tenure move with time)."""
    settings = settings_or_exit()

    async def run() -> int:
        from contact_center.app import ensure_schema
        from contact_center.customers import value as value_service
        from contact_center.customers.context import CustomerContext
        from contact_center.db.engine import create_engine, session_factory

        await ensure_schema(settings)
        engine = create_engine(settings.effective_database_url)
        ctx = CustomerContext(default_region=settings.default_region, value_model=settings.value_model)
        try:
            async with session_factory(engine).begin() as db:
                return await value_service.recompute_all(db, ctx)
        finally:
            await engine.dispose()

    click.echo(f"Recomputed {run_async(run)} customers.")

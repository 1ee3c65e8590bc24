"""Running the application: serve, demo, migrate."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from contact_center.cli.common import configure_logging, open_database, run_async, settings_or_exit
from contact_center.settings import Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
def serve(host: str, port: int) -> None:
    """Run the application (migrates an embedded SQLite database; refuses an unmigrated other one)."""
    settings = settings_or_exit()
    configure_logging(settings)
    _serve(settings, host, port)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option(
    "--customers",
    default=60,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="How many demo customers to create on first start.",
)
@click.option("--no-traffic", is_flag=True, help="Do not simulate customers contacting the centre.")
def demo(host: str, port: int, customers: int, no_traffic: bool) -> None:
    """Run with demo data (agents, supervisors, customers with orders, queues) on embedded defaults."""
    from contact_center.demo.standins import DemoStandIns

    settings = settings_or_exit()
    stand_ins = DemoStandIns.bind(settings)  # Twilio's REST API and a mail relay, unless configured
    overrides = {} if settings.database_url else {"data_dir": settings.data_dir / "demo"}
    settings = settings_or_exit(**overrides, **stand_ins.overrides)
    configure_logging(settings)
    from contact_center.customers.context import CustomerContext
    from contact_center.demo.seed import DEMO_PASSWORD, demo_logins, seed_demo

    async def seed() -> bool:
        async with open_database(settings) as sessions:
            return await seed_demo(sessions, CustomerContext.from_settings(settings), customers)

    created = run_async(seed)
    base = f"http://{'localhost' if host in {'127.0.0.1', '0.0.0.0', '::'} else host}:{port}"  # noqa: S104
    click.echo(
        f"\nContact centre demo ({'new demo data' if created else 'existing demo data'}: "
        f"{settings.effective_database_url})"
    )
    click.echo(f"  Start page     {base}/")
    click.echo(f"  API            {base}/api/openapi.json")
    click.echo(f"  Health         {base}/healthz")
    click.echo(f"  Metrics        {base}/metrics")
    click.echo(
        f"  Agent console  {base}/agent  (log in as alice: offers arrive as simulated customers write)"
    )
    click.echo(f"  Wallboard      {base}/wallboard  (log in as sam, the supervisor)")
    for line in stand_ins.describe():
        click.echo(f"  {line}")
    click.echo(f"\nLogins (password for all: {DEMO_PASSWORD}):")
    for login in demo_logins():
        click.echo(f"  {login.username:<10} {login.role:<11} {login.description}")
    click.echo("")
    _serve(settings, host, port, demo_traffic=not no_traffic, stand_ins=stand_ins)


def _serve(
    settings: Settings, host: str, port: int, *, demo_traffic: bool = False, stand_ins: Any = None
) -> None:
    from aiohttp import web

    from contact_center.app import DatabaseNotMigrated, create_app, ensure_schema
    from contact_center.demo.traffic import traffic
    from contact_center.web.gc_tuning import tune_for_serving

    try:
        asyncio.run(ensure_schema(settings))
    except DatabaseNotMigrated as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot reach the database: {exc}") from None
    app = create_app(settings)
    tune_for_serving()
    if stand_ins is not None:
        app.cleanup_ctx.insert(0, stand_ins.run)  # up before the app, down after it
    if demo_traffic:
        app.cleanup_ctx.append(traffic())
    web.run_app(
        app,
        host=host,
        port=port,
        access_log=None,
        print=lambda text: click.echo(text, err=True),
    )


@click.command()
def migrate() -> None:
    """Apply database migrations up to the newest (CC_DATABASE_URL, or the embedded SQLite file)."""
    settings = settings_or_exit()
    from contact_center.db.engine import create_engine
    from contact_center.db.migrate import current_revision, head_revision, upgrade

    async def run() -> tuple[str | None, str | None]:
        engine = create_engine(settings.effective_database_url)
        try:
            before = await current_revision(engine)
            await upgrade(engine)
            return before, await current_revision(engine)
        finally:
            await engine.dispose()

    before, after = run_async(run)
    if before == after:
        click.echo(f"Already at the newest revision ({head_revision()}).")
    else:
        click.echo(f"Migrated from {before or 'an empty database'} to {after}.")

"""What every command shares: settings (a clear error when malformed), running a coroutine, logging."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


def settings_or_exit(**overrides: Any) -> Settings:
    """The settings, or a click error listing each malformed variable."""
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; a domain error becomes a one-line click error, not a traceback."""
    from contact_center.errors import DomainError

    try:
        return asyncio.run(factory())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None


# Libraries that log each statement with its parameters (session and CSRF tokens among them) below WARNING.
PARAMETER_LOGGERS = ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool")


def configure_logging(settings: Settings) -> None:
    """Log at the configured level; Alembic, SQLAlchemy's engine and the database drivers at warnings only,
    even at CC_LOG_LEVEL=DEBUG, so that no statement's parameters reach the logs."""
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in PARAMETER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the configured database, which must be migrated (the embedded SQLite is migrated here)."""
    from contact_center.app import ensure_schema
    from contact_center.db.engine import create_engine, session_factory

    await ensure_schema(settings)
    engine = create_engine(settings.effective_database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()

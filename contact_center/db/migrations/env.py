"""Alembic environment: runs on the connection handed in by contact_center.db.migrate."""

from __future__ import annotations

from alembic import context

from contact_center.db import models  # noqa: F401  (registers every table)
from contact_center.db.base import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `contact-center migrate`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

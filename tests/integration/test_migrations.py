"""The migrations build exactly the schema the models describe, and go down and up again cleanly."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from contact_center.db.base import Base
from contact_center.db.migrate import current_revision, downgrade, head_revision, upgrade


async def test_models_and_migrations_agree(engine):
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_downgrade_to_base_and_upgrade_again(engine):
    await downgrade(engine, "base")
    assert await current_revision(engine) is None
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()

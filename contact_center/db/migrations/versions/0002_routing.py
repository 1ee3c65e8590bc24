"""routing: queue rules, agent capacity, conversation routing, messages, routing events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 13:59:01.800944
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import contact_center.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routing_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", contact_center.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column(
            "data", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_events")),
    )
    with op.batch_alter_table("routing_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routing_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_routing_events_task_id"), ["task_id"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("author_kind", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", contact_center.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_messages_author_id_users")),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_messages_conversation_id_conversations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("channel", "external_id", name="uq_messages_channel_external_id"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_messages_conversation_id"), ["conversation_id"], unique=False)

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("task_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("routing_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("complaint", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(
            sa.Column("answered_at", contact_center.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("ended_at", contact_center.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("wait_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("handle_seconds", sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f("ix_conversations_routing_state"), ["routing_state"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_conversations_task_id"), ["task_id"])

    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("strategy", sa.String(length=32), server_default="longest_idle", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "escalation",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                server_default="[]",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "voice_fallback",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "text_fallback",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("wrap_up_seconds", sa.Float(), server_default="30", nullable=False))
        batch_op.add_column(
            sa.Column("offer_timeout_seconds", sa.Float(), server_default="20", nullable=False)
        )
        batch_op.add_column(
            sa.Column("preferred_agent_seconds", sa.Float(), server_default="30", nullable=False)
        )
        batch_op.add_column(
            sa.Column("missed_offers_limit", sa.Integer(), server_default="3", nullable=False)
        )
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "capacity",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                server_default='{"voice": 1, "chat": 3, "email": 5, "sms": 3}',
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "queues",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("queues")
        batch_op.drop_column("capacity")

    with op.batch_alter_table("queues", schema=None) as batch_op:
        batch_op.drop_column("priority")
        batch_op.drop_column("missed_offers_limit")
        batch_op.drop_column("preferred_agent_seconds")
        batch_op.drop_column("offer_timeout_seconds")
        batch_op.drop_column("wrap_up_seconds")
        batch_op.drop_column("text_fallback")
        batch_op.drop_column("voice_fallback")
        batch_op.drop_column("escalation")
        batch_op.drop_column("strategy")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_conversations_task_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_conversations_routing_state"))
        batch_op.drop_column("handle_seconds")
        batch_op.drop_column("wait_seconds")
        batch_op.drop_column("ended_at")
        batch_op.drop_column("answered_at")
        batch_op.drop_column("complaint")
        batch_op.drop_column("language")
        batch_op.drop_column("priority")
        batch_op.drop_column("routing_state")
        batch_op.drop_column("task_id")
        batch_op.drop_column("queue")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_conversation_id"))

    op.drop_table("messages")
    with op.batch_alter_table("routing_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routing_events_task_id"))
        batch_op.drop_index(batch_op.f("ix_routing_events_at"))

    op.drop_table("routing_events")

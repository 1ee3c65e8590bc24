"""interval statistics: counters per 15 minutes, queue, channel and agent; wrap-up codes per day

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contact_center.db.base import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTEGER_COUNTERS = (
    "offered",
    "answered",
    "answered_in_target",
    "abandoned",
    "abandoned_in_target",
    "fell_back",
    "handled",
    "transfers",
    "rated",
    "rating_sum",
)
SECONDS_COUNTERS = ("wait_answered_seconds", "wait_abandoned_seconds", "handle_seconds")


def upgrade() -> None:
    op.create_table(
        "interval_stats",
        sa.Column("interval_start", UTCDateTime(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), server_default="0", nullable=False) for name in INTEGER_COUNTERS),
        *(sa.Column(name, sa.Float(), server_default="0", nullable=False) for name in SECONDS_COUNTERS),
        sa.PrimaryKeyConstraint(
            "interval_start", "queue", "channel", "agent_id", name=op.f("pk_interval_stats")
        ),
    )
    op.create_index("ix_interval_stats_local_day", "interval_stats", ["local_day"])
    op.create_index("ix_interval_stats_agent_day", "interval_stats", ["agent_id", "local_day"])
    op.create_table(
        "reason_stats",
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("contacts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "local_day", "queue", "channel", "kind", "code", name=op.f("pk_reason_stats")
        ),
    )


def downgrade() -> None:
    op.drop_table("reason_stats")
    op.drop_index("ix_interval_stats_agent_day", table_name="interval_stats")
    op.drop_index("ix_interval_stats_local_day", table_name="interval_stats")
    op.drop_table("interval_stats")

"""console: wrap-up codes, canned replies, knowledge base, conversation wrap-up

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 22:00:21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import contact_center.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shortcut", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("updated_at", contact_center.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
        sa.UniqueConstraint("shortcut", name=op.f("uq_canned_replies_shortcut")),
    )
    op.create_table(
        "kb_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["kb_categories.id"], name=op.f("fk_kb_categories_parent_id_kb_categories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_categories")),
    )
    op.create_table(
        "wrap_up_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wrap_up_codes")),
        sa.UniqueConstraint("kind", "code", name="uq_wrap_up_codes_kind_code"),
    )
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("published", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", contact_center.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", contact_center.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["kb_categories.id"], name=op.f("fk_kb_articles_category_id_kb_categories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
    )
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_articles_category_id"), ["category_id"], unique=False)

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disposition", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("contact_reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("wrap_up_note", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("wrapped_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("wrapped_at", contact_center.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_conversations_wrapped_by_users"), "users", ["wrapped_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_conversations_wrapped_by_users"), type_="foreignkey")
        batch_op.drop_column("wrapped_at")
        batch_op.drop_column("wrapped_by")
        batch_op.drop_column("wrap_up_note")
        batch_op.drop_column("contact_reason")
        batch_op.drop_column("disposition")

    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_articles_category_id"))

    op.drop_table("kb_articles")
    op.drop_table("wrap_up_codes")
    op.drop_table("kb_categories")
    op.drop_table("canned_replies")

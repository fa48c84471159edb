"""Accounts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("email", sa.String(120), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "suspended", name="account_status"),
            nullable=False,
            server_default="active",
        ),
        sa.Column("settings", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column(
            "created", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("email", name="account_email_key"),
    )
    op.bulk_insert(
        sa.table("account", sa.column("email", sa.String)),
        [{"email": "first@example.com"}, {"email": "second@example.com"}],
    )


def downgrade() -> None:
    op.drop_table("account")
    sa.Enum(name="account_status").drop(op.get_bind())

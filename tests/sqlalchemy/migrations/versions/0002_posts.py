"""Posts; a wider email and an external id for accounts.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("account", "email", type_=sa.String(200), existing_nullable=False)
    op.add_column("account", sa.Column("external_id", sa.Uuid, nullable=True))
    op.create_table(
        "post",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column(
            "account_id",
            sa.BigInteger,
            sa.ForeignKey("account.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("tags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("score", sa.Numeric(8, 3), nullable=True),
        sa.Column("period", pg.TSTZRANGE, nullable=True),
        sa.CheckConstraint("score >= 0", name="post_score_positive"),
    )
    op.create_index("post_account_title", "post", ["account_id", "title"])
    op.execute(
        sa.text(
            "INSERT INTO post (account_id, title, tags) "
            "SELECT id, 'hello from ' || email, ARRAY['greeting'] FROM account"
        )
    )


def downgrade() -> None:
    op.drop_index("post_account_title", table_name="post")
    op.drop_table("post")
    op.drop_column("account", "external_id")
    op.alter_column("account", "email", type_=sa.String(120), existing_nullable=False)

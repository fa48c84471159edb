"""The schema the migrations in ``versions/`` build, as SQLAlchemy metadata: autogenerate
compares a migrated database with it and must find nothing to change."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

status = sa.Enum("active", "suspended", name="account_status")

account = sa.Table(
    "account",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("email", sa.String(200), nullable=False, unique=True),
    sa.Column("status", status, nullable=False, server_default="active"),
    sa.Column("settings", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("external_id", sa.Uuid, nullable=True),
)

post = sa.Table(
    "post",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column(
        "account_id", sa.BigInteger, sa.ForeignKey("account.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("tags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("score", sa.Numeric(8, 3), nullable=True),
    sa.Column("period", pg.TSTZRANGE, nullable=True),
    sa.CheckConstraint("score >= 0", name="post_score_positive"),
)
sa.Index("post_account_title", post.c.account_id, post.c.title)

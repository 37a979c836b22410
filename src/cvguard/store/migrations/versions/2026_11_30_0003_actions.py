"""actions: the durable, ordered action feed (cursor, idempotency key, undo links)

Revision ID: 2026_11_30_0003
Revises: 2026_11_30_0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "2026_11_30_0003"
down_revision: str | None = "2026_11_30_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 128
ALERT_ID = 256
ACTION_KEY = 512


def upgrade() -> None:
    op.create_table(
        "actions",
        # INTEGER on SQLite: only an INTEGER PRIMARY KEY is the rowid (and AUTOINCREMENT)
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("key", sa.String(ACTION_KEY), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(ID), nullable=False),
        sa.Column("params", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.String(128), nullable=True),
        sa.Column("alert_id", sa.String(ALERT_ID), nullable=True),
        sa.Column("policy_version", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undoes", sa.String(ACTION_KEY), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_actions"),
        sa.UniqueConstraint("key", name="uq_actions_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_actions_alert_id", "actions", ["alert_id"])


def downgrade() -> None:
    op.drop_table("actions")

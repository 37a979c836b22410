"""decisions: what the policy decided for each event at ingest (active and shadow)

Revision ID: 2026_11_30_0004
Revises: 2026_11_30_0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "2026_11_30_0004"
down_revision: str | None = "2026_11_30_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 128


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("rule_id", sa.String(128), nullable=True),
        sa.Column("policy", sa.String(128), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("decision", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "shadow", name="pk_decisions"),
    )


def downgrade() -> None:
    op.drop_table("decisions")

"""dm_escalations (repeated abusive private messages), nudge_outcomes (what writers did after a
nudge) and a partial index on the nudges among the decisions

Revision ID: 2026_12_01_0002
Revises: 2026_12_01_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "2026_12_01_0002"
down_revision: str | None = "2026_12_01_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 128
ALERT_ID = 256
ACTOR = 256


def upgrade() -> None:
    op.create_table(
        "dm_escalations",
        sa.Column("escalation_id", sa.String(ALERT_ID), nullable=False),
        sa.Column("sender_id", sa.String(ID), nullable=False),
        sa.Column("recipient_id", sa.String(ID), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("window_s", sa.Float(), nullable=False),
        sa.Column("event_ids", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("escalation_id", name="pk_dm_escalations"),
    )
    op.create_index("ix_dm_escalations_recipient_id_last_at", "dm_escalations", ["recipient_id", "last_at"])
    op.create_index("ix_dm_escalations_sender_id_last_at", "dm_escalations", ["sender_id", "last_at"])
    op.create_index("ix_dm_escalations_last_at", "dm_escalations", ["last_at"])
    op.create_table(
        "nudge_outcomes",
        sa.Column("nudge_id", sa.String(ID), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(ACTOR), nullable=False),
        sa.PrimaryKeyConstraint("nudge_id", name="pk_nudge_outcomes"),
    )
    # only the nudges' decision rows are indexed (the stats of GET /v1/nudges/stats)
    nudges_only = sa.text("action = 'nudge' AND shadow = false")
    op.create_index("ix_decisions_nudges_decided_at", "decisions", ["decided_at"],
                    sqlite_where=nudges_only, postgresql_where=nudges_only)


def downgrade() -> None:
    op.drop_index("ix_decisions_nudges_decided_at", table_name="decisions")
    op.drop_table("nudge_outcomes")
    op.drop_table("dm_escalations")

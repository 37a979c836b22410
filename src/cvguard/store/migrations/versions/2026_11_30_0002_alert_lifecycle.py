"""alert lifecycle: when and why an alert resolved, who set its status, and the history of it

Revision ID: 2026_11_30_0002
Revises: 2026_11_26_0002
Create Date: 2026-11-30

Alerts that exist keep their status; none of them has a resolution or a person's status yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_30_0002"
down_revision: str | None = "2026_11_26_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 128
ACTOR = 256


def upgrade() -> None:
    op.add_column("alerts", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("alerts", sa.Column("resolution", sa.Text(), nullable=True))
    op.add_column("alerts", sa.Column("status_by", sa.String(ACTOR), nullable=True))
    op.add_column("alerts", sa.Column("status_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("alerts", sa.Column("status_note", sa.Text(), nullable=True))
    op.create_index("ix_alerts_status_updated_at", "alerts", ["status", "updated_at"])

    op.create_table(
        "alert_status_history",
        sa.Column("change_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(ID), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(ACTOR), nullable=False),
        sa.Column("previous_status", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.alert_id"],
            name="fk_alert_status_history_alert_id_alerts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("change_id", name="pk_alert_status_history"),
    )
    op.create_index(
        "ix_alert_status_history_alert_id_change_id", "alert_status_history", ["alert_id", "change_id"]
    )


def downgrade() -> None:
    op.drop_table("alert_status_history")
    op.drop_index("ix_alerts_status_updated_at", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:  # SQLite cannot drop a column in place
        for column in ("status_note", "status_at", "status_by", "resolution", "resolved_at"):
            batch.drop_column(column)

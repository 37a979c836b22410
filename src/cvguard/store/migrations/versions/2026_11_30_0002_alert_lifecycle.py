"""alert lifecycle: when and why an alert resolved, who set its status, and the history of it

Revision ID: 2026_11_30_0002
Revises: 2026_11_30_0001
Create Date: 2026-11-30

Alerts that exist keep their status; none of them has a resolution or a person's status yet.

Alert ids widen from 128 to 256 characters: an id is ``kind:subject_type:subject_id:episode``
around a subject id of up to 128, so a long subject id made an alert PostgreSQL refused (and with
it every alert saved in the same transaction).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_30_0002"
down_revision: str | None = "2026_11_30_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 128
ACTOR = 256
ALERT_ID = 256


def _alert_events(width: int) -> None:
    op.create_table(
        "alert_events",
        sa.Column("alert_id", sa.String(width), nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.alert_id"], name="fk_alert_events_alert_id_alerts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("alert_id", "event_id", name="pk_alert_events"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_alert_events_event_id", "alert_events", ["event_id"])


def _alert_id_width(old: int, new: int, *, drop: tuple[str, ...] = ()) -> None:
    """Change the width of ``alerts.alert_id`` and ``alert_events.alert_id`` (and drop the
    ``drop`` columns of ``alerts``), rows kept."""
    if op.get_bind().dialect.name != "sqlite":
        for column in drop:
            op.drop_column("alerts", column)
        for table in ("alerts", "alert_events"):
            op.alter_column(
                table, "alert_id", type_=sa.String(new), existing_type=sa.String(old), existing_nullable=False
            )
        return
    # SQLite rebuilds a table to change a column. Dropping ``alerts`` while ``alert_events`` refers
    # to it would delete the links (ON DELETE CASCADE runs on DROP TABLE with foreign keys on, and
    # they cannot be turned off inside the migration's transaction): set the links aside first.
    op.execute("CREATE TABLE _alert_events_kept AS SELECT alert_id, event_id FROM alert_events")
    op.drop_table("alert_events")
    with op.batch_alter_table("alerts", recreate="always") as batch:
        batch.alter_column(
            "alert_id", type_=sa.String(new), existing_type=sa.String(old), existing_nullable=False
        )
        for column in drop:
            batch.drop_column(column)
    _alert_events(new)
    op.execute(
        "INSERT INTO alert_events (alert_id, event_id) SELECT alert_id, event_id FROM _alert_events_kept"
    )
    op.drop_table("_alert_events_kept")


def upgrade() -> None:
    _alert_id_width(ID, ALERT_ID)
    op.add_column("alerts", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("alerts", sa.Column("resolution", sa.Text(), nullable=True))
    op.add_column("alerts", sa.Column("status_by", sa.String(ACTOR), nullable=True))
    op.add_column("alerts", sa.Column("status_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("alerts", sa.Column("status_note", sa.Text(), nullable=True))
    op.create_index("ix_alerts_status_updated_at", "alerts", ["status", "updated_at"])

    op.create_table(
        "alert_status_history",
        sa.Column("change_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(ALERT_ID), nullable=False),
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
    _alert_id_width(ALERT_ID, ID, drop=("status_note", "status_at", "status_by", "resolution", "resolved_at"))

"""initial: events, event_targets, event_topics, verdicts, alerts, alert_events

Revision ID: 2026_11_24_0001
Revises:
Create Date: 2026-11-24

Written out in full (not imported from models.py) so that this revision keeps meaning what it
meant when later revisions change the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "2026_11_24_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 128


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False)


def _id(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(ID), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "events",
        _id("event_id"),
        sa.Column("surface", sa.String(32), nullable=False),
        _ts("occurred_at"),
        _id("author_id"),
        _ts("author_created_at", nullable=True),
        sa.Column("author_verified", sa.Boolean(), nullable=False),
        sa.Column("author_minor", sa.Boolean(), nullable=False),
        _id("mcn_id", nullable=True),
        _json("target_ids"),
        _id("thread_id", nullable=True),
        _json("topic_ids"),
        _id("reply_to", nullable=True),
        sa.Column("target_follows_author", sa.Boolean(), nullable=True),
        sa.Column("author_follows_target", sa.Boolean(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        _ts("ingested_at"),
        sa.PrimaryKeyConstraint("event_id", name="pk_events"),
    )
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
    op.create_index("ix_events_author_id_occurred_at", "events", ["author_id", "occurred_at"])
    op.create_index("ix_events_thread_id_occurred_at", "events", ["thread_id", "occurred_at"])
    op.create_index("ix_events_mcn_id", "events", ["mcn_id"])

    for table, key in (("event_targets", "target_id"), ("event_topics", "topic_id")):
        op.create_table(
            table,
            _id("event_id"),
            _id(key),
            _ts("occurred_at"),
            sa.ForeignKeyConstraint(
                ["event_id"],
                ["events.event_id"],
                name=f"fk_{table}_event_id_events",
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("event_id", key, name=f"pk_{table}"),
            sqlite_with_rowid=False,  # link tables: the primary key is the row
        )
        op.create_index(f"ix_{table}_{key}_occurred_at", table, [key, "occurred_at"])

    op.create_table(
        "verdicts",
        _id("event_id"),
        sa.Column("violation", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(32), nullable=True),
        sa.Column("top_category", sa.String(64), nullable=True),
        _json("categories"),
        _json("spans"),
        _json("versions"),
        _json("notes"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.event_id"], name="fk_verdicts_event_id_events", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_verdicts"),
    )

    op.create_table(
        "alerts",
        _id("alert_id"),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        _id("subject_id"),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("raised_at"),
        _ts("updated_at"),
        _json("evidence"),
        sa.PrimaryKeyConstraint("alert_id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_subject_id_subject_type", "alerts", ["subject_id", "subject_type"])
    op.create_index("ix_alerts_kind_updated_at", "alerts", ["kind", "updated_at"])
    op.create_index("ix_alerts_updated_at", "alerts", ["updated_at"])

    op.create_table(
        "alert_events",
        _id("alert_id"),
        _id("event_id"),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.alert_id"], name="fk_alert_events_alert_id_alerts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("alert_id", "event_id", name="pk_alert_events"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_alert_events_event_id", "alert_events", ["event_id"])


def downgrade() -> None:
    op.drop_table("alert_events")
    op.drop_table("alerts")
    op.drop_table("verdicts")
    op.drop_table("event_topics")
    op.drop_table("event_targets")
    op.drop_table("events")

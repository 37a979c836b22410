"""review_items, review_appeals, human_decisions: the staff review queue, appeals, people's decisions

Revision ID: 2026_12_02_0003
Revises: 2026_12_02_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "2026_12_02_0003"
down_revision: str | None = "2026_12_02_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 128
ACTOR = 256
ALERT_ID = 256
REVIEW_ID = 64


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("item_id", sa.String(REVIEW_ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref_id", sa.String(ALERT_ID), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("reasons", _json(), nullable=False),
        sa.Column("context", _json(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("due_at", _time(), nullable=False),
        sa.Column("assignee", sa.String(ACTOR), nullable=True),
        sa.Column("assigned_at", _time(), nullable=True),
        sa.Column("decided_at", _time(), nullable=True),
        sa.Column("decided_by", sa.String(ACTOR), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("item_id", name="pk_review_items"),
    )
    op.create_index("ix_review_items_kind_ref_id", "review_items", ["kind", "ref_id"], unique=True)
    op.create_index(
        "ix_review_items_priority_due_at_item_id", "review_items", ["priority", "due_at", "item_id"]
    )
    op.create_index("ix_review_items_decided_at", "review_items", ["decided_at"])
    op.create_table(
        "review_appeals",
        sa.Column("appeal_id", sa.String(REVIEW_ID), nullable=False),
        sa.Column("sanction_id", sa.String(ID), nullable=False),
        sa.Column("account_id", sa.String(ID), nullable=False),
        sa.Column("filed_at", _time(), nullable=False),
        sa.Column("filed_by", sa.String(ACTOR), nullable=False),
        sa.Column("deadline", _time(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("first_decider", sa.String(ACTOR), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(ACTOR), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("decided_at", _time(), nullable=True),
        sa.Column("feed_keys", _json(), nullable=False),
        sa.PrimaryKeyConstraint("appeal_id", name="pk_review_appeals"),
    )
    op.create_index("ix_review_appeals_sanction_id", "review_appeals", ["sanction_id"], unique=True)
    op.create_index("ix_review_appeals_account_id", "review_appeals", ["account_id"])
    op.create_table(
        "human_decisions",
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(ACTOR), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("item_id", sa.String(REVIEW_ID), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_human_decisions"),
    )


def downgrade() -> None:
    op.drop_table("human_decisions")
    op.drop_table("review_appeals")
    op.drop_table("review_items")

"""people, shields, shield_history, filtered: protection of the people targeted

Revision ID: 2026_12_01_0001
Revises: 2026_11_30_0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "2026_12_01_0001"
down_revision: str | None = "2026_11_30_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 128
ACTOR = 256
ALERT_ID = 256


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("groups", _json(), nullable=False),
        sa.Column("groups_by", sa.String(ACTOR), nullable=True),
        sa.Column("offered_at", _time(), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_people"),
    )
    op.create_index("ix_people_updated_at", "people", ["updated_at"])
    op.create_table(
        "shields",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("ends_at", _time(), nullable=False),
        sa.Column("scopes", _json(), nullable=False),
        sa.Column("audience", sa.String(32), nullable=False),
        sa.Column("close_friends", _json(), nullable=False),
        sa.Column("actor", sa.String(ACTOR), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("alert_id", sa.String(ALERT_ID), nullable=True),
        sa.Column("off_at", _time(), nullable=True),
        sa.Column("off_by", sa.String(ACTOR), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_shields"),
    )
    op.create_index("ix_shields_updated_at", "shields", ["updated_at"])
    op.create_table(
        "shield_history",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("actor", sa.String(ACTOR), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("alert_id", sa.String(ALERT_ID), nullable=True),
        sa.Column("recorded_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_shield_history"),
    )
    op.create_index("ix_shield_history_user_id", "shield_history", ["user_id"])
    op.create_table(
        "filtered",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("surface", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("rule_id", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("alert_ids", _json(), nullable=False),
        sa.Column("filtered_at", _time(), nullable=False),
        sa.Column("restored_at", _time(), nullable=True),
        sa.Column("restored_by", sa.String(ACTOR), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "event_id", name="pk_filtered"),
    )
    op.create_index("ix_filtered_user_id_filtered_at", "filtered", ["user_id", "filtered_at"])


def downgrade() -> None:
    op.drop_table("filtered")
    op.drop_table("shield_history")
    op.drop_table("shields")
    op.drop_table("people")

"""mcns, mcn_members, mcn_violations, mcn_measures: MCN joint handling

Revision ID: 2026_12_02_0002
Revises: 2026_12_02_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "2026_12_02_0002"
down_revision: str | None = "2026_12_02_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 128
ACTOR = 256
LONG_ID = 256


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mcns",
        sa.Column("mcn_id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("contact", sa.String(500), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("mcn_id", name="pk_mcns"),
    )
    op.create_table(
        "mcn_members",
        sa.Column("mcn_id", sa.String(ID), nullable=False),
        sa.Column("account_id", sa.String(ID), nullable=False),
        sa.Column("since", _time(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("left_at", _time(), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("mcn_id", "account_id", name="pk_mcn_members"),
    )
    op.create_index("ix_mcn_members_account_id", "mcn_members", ["account_id"])
    op.create_table(
        "mcn_violations",
        sa.Column("mcn_id", sa.String(ID), nullable=False),
        sa.Column("violation_id", sa.String(LONG_ID), nullable=False),
        sa.Column("account_id", sa.String(ID), nullable=False),
        sa.Column("roles", _json(), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reversed_at", _time(), nullable=True),
        sa.Column("recorded_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("mcn_id", "violation_id", name="pk_mcn_violations"),
    )
    op.create_index("ix_mcn_violations_mcn_id_at", "mcn_violations", ["mcn_id", "at"])
    op.create_index("ix_mcn_violations_violation_id", "mcn_violations", ["violation_id"])
    op.create_table(
        "mcn_measures",
        sa.Column("measure_id", sa.String(LONG_ID), nullable=False),
        sa.Column("mcn_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("starts_at", _time(), nullable=False),
        sa.Column("expires_at", _time(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("statement", _json(), nullable=False),
        sa.Column("decided_by", sa.String(ACTOR), nullable=False),
        sa.Column("threshold_id", sa.String(64), nullable=True),
        sa.Column("violation_ids", _json(), nullable=False),
        sa.Column("accounts", _json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lifted_at", _time(), nullable=True),
        sa.Column("lifted_by", sa.String(ACTOR), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("measure_id", name="pk_mcn_measures"),
    )
    op.create_index("ix_mcn_measures_mcn_id_starts_at", "mcn_measures", ["mcn_id", "starts_at"])


def downgrade() -> None:
    op.drop_table("mcn_measures")
    op.drop_table("mcn_violations")
    op.drop_table("mcn_members")
    op.drop_table("mcns")

"""behaviour_snapshots: the embedded pipeline's behaviour state, saved at checkpoints

Revision ID: 2026_11_26_0002
Revises: 2026_11_24_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_26_0002"
down_revision: str | None = "2026_11_24_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "behaviour_snapshots",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("through", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("format", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_behaviour_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("behaviour_snapshots")

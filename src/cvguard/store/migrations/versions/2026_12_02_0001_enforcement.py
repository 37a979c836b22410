"""violations, sanctions: the violation ledger and graded sanctions

Revision ID: 2026_12_02_0001
Revises: 2026_12_01_0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_12_02_0001"
down_revision: str | None = "2026_12_01_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "violations",
        sa.Column("violation_id", sa.String(512), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("confirmed_by", sa.String(512), nullable=False),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=True),
        sa.Column("surface", sa.String(32), nullable=True),
        sa.Column("action", sa.String(32), nullable=True),
        sa.Column("categories", JSON, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("alert_id", sa.String(256), nullable=True),
        sa.Column("policy_version", sa.String(64), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("mcn_id", sa.String(128), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reversed_at", WHEN, nullable=True),
        sa.Column("reversed_by", sa.String(256), nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("violation_id", name="pk_violations"),
    )
    op.create_index("ix_violations_account_id_at", "violations", ["account_id", "at"])
    op.create_index("ix_violations_updated_at", "violations", ["updated_at"])
    op.create_table(
        "sanctions",
        sa.Column("sanction_id", sa.String(512), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=True),
        sa.Column("violation_ids", JSON, nullable=False),
        sa.Column("rests_on", JSON, nullable=False),
        sa.Column("statement", JSON, nullable=False),
        sa.Column("decided_by", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lifted_at", WHEN, nullable=True),
        sa.Column("lifted_by", sa.String(256), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("sanction_id", name="pk_sanctions"),
    )
    op.create_index("ix_sanctions_account_id_starts_at", "sanctions", ["account_id", "starts_at"])
    op.create_index("ix_sanctions_updated_at", "sanctions", ["updated_at"])


def downgrade() -> None:
    op.drop_table("sanctions")
    op.drop_table("violations")

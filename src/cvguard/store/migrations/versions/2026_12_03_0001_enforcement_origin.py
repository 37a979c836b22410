"""violations.origin, sanctions.origin: which store wrote a row last, so a cache skips its own
writes; an index on mcn_members.updated_at, which a cache of memberships polls

Revision ID: 2026_12_03_0001
Revises: 2026_12_02_0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0001"
down_revision: str | None = "2026_12_02_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORIGIN = 32


def upgrade() -> None:
    for table in ("violations", "sanctions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("origin", sa.String(ORIGIN), nullable=True))
    op.create_index("ix_mcn_members_updated_at", "mcn_members", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_mcn_members_updated_at", table_name="mcn_members")
    for table in ("violations", "sanctions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("origin")

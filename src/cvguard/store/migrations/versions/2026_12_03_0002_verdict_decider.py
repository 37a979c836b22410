"""verdicts.decided_by, verdicts.model_scores: which model decided a stored verdict (the model port)

Revision ID: 2026_12_03_0002
Revises: 2026_12_03_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "2026_12_03_0002"
down_revision: str | None = "2026_12_03_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DECIDER = 64


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("verdicts") as batch:
        batch.add_column(sa.Column("decided_by", sa.String(DECIDER), nullable=True))
        batch.add_column(sa.Column("model_scores", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("verdicts") as batch:
        batch.drop_column("model_scores")
        batch.drop_column("decided_by")

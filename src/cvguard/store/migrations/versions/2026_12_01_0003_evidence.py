"""evidence_cases, evidence_items: the append-only, hash-chained evidence vault

Revision ID: 2026_12_01_0003
Revises: 2026_12_01_0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_01_0003"
down_revision: str | None = "2026_12_01_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def upgrade() -> None:
    op.create_table(
        "evidence_cases",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False,
                  autoincrement=True),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=True),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("header", sa.Text(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("vault_prev", sa.String(64), nullable=False),
        sa.Column("vault_digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_evidence_cases")),
        sa.UniqueConstraint("case_id", name=op.f("uq_evidence_cases_case_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_evidence_cases_owner_id_seq"), "evidence_cases", ["owner_id", "seq"])
    op.create_table(
        "evidence_items",
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("prev", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["evidence_cases.case_id"], name=op.f("fk_evidence_items_case_id_evidence_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "position", name=op.f("pk_evidence_items")),
    )
    op.create_index(op.f("ix_evidence_items_event_id"), "evidence_items", ["event_id"])

def downgrade() -> None:
    op.drop_index(op.f("ix_evidence_items_event_id"), table_name="evidence_items")
    op.drop_table("evidence_items")
    op.drop_index(op.f("ix_evidence_cases_owner_id_seq"), table_name="evidence_cases")
    op.drop_table("evidence_cases")

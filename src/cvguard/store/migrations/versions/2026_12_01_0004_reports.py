"""reports, report_crowds, report_history: reports people file, the crowd against each account, history

Revision ID: 2026_12_01_0004
Revises: 2026_12_01_0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "2026_12_01_0004"
down_revision: str | None = "2026_12_01_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 128
ACTOR = 256
REPORT_ID = 64


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("report_id", sa.String(REPORT_ID), nullable=False),
        sa.Column("reporter_id", sa.String(ID), nullable=False),
        sa.Column("client_key", sa.String(ID), nullable=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(ID), nullable=True),
        sa.Column("event_ids", _json(), nullable=False),
        sa.Column("evidence_event_ids", _json(), nullable=False),
        sa.Column("evidence_case_ids", _json(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("reporter_created_at", _time(), nullable=True),
        sa.Column("reporter_follows", _json(), nullable=False),
        sa.Column("minor", sa.Boolean(), nullable=False),
        sa.Column("base_priority", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("priority_reasons", _json(), nullable=False),
        sa.Column("sla_from", _time(), nullable=False),
        sa.Column("due_at", _time(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assigned_to", sa.String(ACTOR), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("decision_no", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(ACTOR), nullable=True),
        sa.Column("decided_at", _time(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("first_action_at", _time(), nullable=True),
        sa.Column("first_decided_at", _time(), nullable=True),
        sa.Column("filed_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name="pk_reports"),
    )
    op.create_index("ix_reports_reporter_id_filed_at", "reports", ["reporter_id", "filed_at"])
    op.create_index("ix_reports_account_id_filed_at", "reports", ["account_id", "filed_at"])
    op.create_index("ix_reports_priority_due_at_report_id", "reports", ["priority", "due_at", "report_id"])
    op.create_index(
        "ix_reports_reporter_id_client_key", "reports", ["reporter_id", "client_key"], unique=True
    )
    op.create_table(
        "report_crowds",
        sa.Column("account_id", sa.String(ID), nullable=False),
        sa.Column("reporters", sa.Integer(), nullable=False),
        sa.Column("independent_reporters", sa.Integer(), nullable=False),
        sa.Column("rings", _json(), nullable=False),
        sa.Column("assessed_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_report_crowds"),
    )
    op.create_table(
        "report_history",
        sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.String(REPORT_ID), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("actor", sa.String(ACTOR), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("previous_status", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.report_id"],
            name="fk_report_history_report_id_reports",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", name="pk_report_history"),
    )
    op.create_index("ix_report_history_report_id_entry_id", "report_history", ["report_id", "entry_id"])


def downgrade() -> None:
    op.drop_table("report_history")
    op.drop_table("report_crowds")
    op.drop_table("reports")

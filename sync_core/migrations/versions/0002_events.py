"""events of an events feed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("base_plan_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("plan_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("organizer_company_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sell_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sell_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sold_out", sa.Boolean(), nullable=False),
        sa.Column("min_price", sa.Numeric(12, 2), nullable=False),
        sa.Column("max_price", sa.Numeric(12, 2), nullable=False),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("base_plan_id", "plan_id"),
    )
    op.create_index("ix_events_starts_at_ends_at", "events", ["starts_at", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_events_starts_at_ends_at", table_name="events")
    op.drop_table("events")
